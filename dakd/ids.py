"""Names that become parts of file paths: video ids and split names.

A video id or a split name read from a user's file (a manifest, a released list, a
dataset's annotation file) ends up in output file names (``export-features`` writes
``<split>/<video_id>_<backbone>.npy``). Both are checked where they enter, against a
character set that cannot name another directory, a hidden file or a command-line option.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .errors import DakdError

# Letters and digits of any script, "_", and punctuation seen in real dataset names
# (XD-Violence: "v=-MxVS6BWK-0__#1_label_A", "Mr.&.Mrs.Smith.2005__#00-01-00_label_B1-0-0").
# No path separator, no control character, and no leading "." or "-".
VIDEO_ID = re.compile(r"[^\W][\w .,=#+@()\[\]{}&'!~%$-]*")
MAX_VIDEO_ID = 200
SPLIT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
# The splits every dataset has; a validation split (config ``validation.split``) adds one.
BASE_SPLITS = ("train", "test")


class UnsafeNameError(DakdError):
    """A video id or split name is unsafe or unknown."""


def check_video_id(video_id: str, where: str) -> str:
    """``video_id`` if it is a safe file-name component, else a one-line error naming ``where``."""
    if not isinstance(video_id, str) or not video_id:
        raise UnsafeNameError(f"{where}: empty video id")
    if len(video_id) > MAX_VIDEO_ID or not VIDEO_ID.fullmatch(video_id) or video_id.rstrip() != video_id:
        raise UnsafeNameError(
            f"{where}: video id {video_id!r} is not a safe file name (letters, digits and _ .,=#+@()[]{{}}&'!~%$- "
            f"or spaces inside, starting with a letter, digit or _, at most {MAX_VIDEO_ID} characters)")
    return video_id


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
