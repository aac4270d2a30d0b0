"""Atomic file output: every artefact is written to a temp file beside it, then renamed."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    """The process umask (read by setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(target: Path) -> None:
    """Delete temp files that a killed write to ``target`` left beside it (``.<name>.*.tmp``)."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    crashed job never leaves a half-written output that a workflow would take as done.
    Temp files of an earlier write that was killed are removed first. The file gets the
    permissions of any new file under the umask (``mkstemp`` alone would make it 0600,
    unreadable to colleagues on a shared cluster).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file (a byte-order mark, as Excel writes, is skipped); anything else,
    a NUL byte included, is a one-line DakdError naming the file, line and byte."""
    from .errors import DakdError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DakdError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DakdError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    # No text format has NUL; a path holding one cannot even be looked up (ValueError).
    if (nul := data.find(b"\0")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DakdError(f"{path}:{line}: not text (a NUL byte at byte {nul})")
    return text


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
