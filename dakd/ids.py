"""Names that become parts of file paths: video ids and split names.

A video id or a split name read from a user's file (a manifest, a released list, a
dataset's annotation file) ends up in output file names (``export-features`` writes
``<split>/<video_id>_<backbone>.npy``). Both are checked where they enter, against a
character set that cannot name another directory, a hidden file or a command-line option.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from .errors import DakdError

# A video id names files (``<id>.json``, ``<split>/<id>_<backbone>.npy``), so it may hold any
# letter, digit, space or punctuation of any script ("Überwachung 01 – Straße" is a file name on
# every file system the users have) but not what is unsafe there: a path separator, NUL or another
# control character (line breaks and bidirectional overrides included: one hides or reorders what
# a log shows), a leading "." (".", "..", hidden files), a leading "-" (an option to the tools a
# user runs on the outputs), or spaces at either end (list readers strip them).
UNSAFE_CHARACTERS = re.compile(r"[/\\\u202a-\u202e\u2066-\u2069]")
UNSAFE_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")  # control, lone surrogate (undecodable bytes), line/paragraph separator
# At most this many bytes in UTF-8: a file name holds 255, and suffixes such as ".scores.parquet"
# and an atomic write's temporary name must fit beside the id.
MAX_VIDEO_ID = 200
SPLIT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
# The splits every dataset has; a validation split (config ``validation.split``) adds one.
BASE_SPLITS = ("train", "test")


class UnsafeNameError(DakdError):
    """A video id or split name is unsafe or unknown."""


def check_video_id(video_id: str, where: str) -> str:
    """``video_id`` if it is a safe file-name component, else a one-line error naming ``where``
    and what is unsafe in it."""
    if not isinstance(video_id, str) or not video_id:
        raise UnsafeNameError(f"{where}: empty video id")
    problem = video_id_problem(video_id)
    if problem:
        raise UnsafeNameError(f"{where}: video id {video_id!r} is not a safe file name ({problem})")
    return video_id


def video_id_problem(video_id: str) -> str | None:
    """What makes ``video_id`` unsafe as a file name, or None."""
    for character in video_id:
        if UNSAFE_CHARACTERS.match(character) or unicodedata.category(character) in UNSAFE_CATEGORIES:
            return f"it holds {character!r}: no path separator or control character"
    if video_id[0] in ".-":
        return f"it starts with {video_id[0]!r}"
    if video_id != video_id.strip():
        return "it starts or ends with a space"
    if len(video_id.encode("utf-8")) > MAX_VIDEO_ID:
        return f"{len(video_id.encode('utf-8'))} bytes in UTF-8, at most {MAX_VIDEO_ID}"
    return None


def allowed_splits(validation_split: str | None = None) -> tuple[str, ...]:
    """The split names a dataset may use: train, test and the configured validation split."""
    return BASE_SPLITS + ((validation_split,) if validation_split and validation_split not in BASE_SPLITS else ())


def check_split(split: str, where: str, allowed: Iterable[str] = BASE_SPLITS) -> str:
    """``split`` if it is one of ``allowed``; a misspelling (``trian``) is an error suggesting the name."""
    allowed = tuple(allowed)
    if not isinstance(split, str) or not SPLIT.fullmatch(split):
        raise UnsafeNameError(f"{where}: split {split!r} is not a split name (letters, digits, _ and -)")
    if split not in allowed:
        close = difflib.get_close_matches(split, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnsafeNameError(f"{where}: unknown split {split!r} (allowed: {', '.join(allowed)}; a held-out split "
                         f"for model selection is named by validation.split){hint}")
    return split
