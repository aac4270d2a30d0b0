"""The base class of every error the CLI reports as one line instead of a traceback."""


class DakdError(ValueError):
    """Bad input or configuration; the message names the file and the problem."""
