"""Atomic file output: every artefact is written to a temp file beside it, then renamed."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import DakdError

FULL = (errno.ENOSPC, errno.EDQUOT)
# torch.save reports a full disk as a RuntimeError ("unexpected pos ..."), without an errno: a
# write that fails with less than this left on its file system is taken as one that ran out.
NEARLY_FULL = 1 << 20


class DiskFullError(DakdError):
    """An output did not fit on its file system; the message names it and the space."""


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
def atomic_path(path: str | os.PathLike, size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    crashed job never leaves a half-written output that a workflow would take as done.
    Temp files of an earlier write that was killed are removed first. The file gets the
    permissions of any new file under the umask (``mkstemp`` alone would make it 0600,
    unreadable to colleagues on a shared cluster). A full disk (or quota) is a
    :class:`DiskFullError` naming ``path``, the space free and the space the file needs
    (up to ``size_hint`` bytes when the writer knows, else more than it had written).
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
    except (OSError, RuntimeError) as exc:
        full = disk_full(target, tmp_path, exc, size_hint)
        if full is None:
            raise
        raise full from None
    finally:
        tmp_path.unlink(missing_ok=True)


def disk_full(target: Path, tmp: Path, exc: BaseException, size_hint: int | None) -> DiskFullError | None:
    """The one-line error for a write of ``target`` that ran out of space, or None when ``exc``
    is another failure (or the file system cannot be asked: the original error then says more).
    Removes ``tmp``: the space free that the message gives is what a rerun will find."""
    ran_out = getattr(exc, "errno", None) in FULL or "No space left on device" in str(exc)
    if not ran_out and not isinstance(exc, RuntimeError):
        return None  # asked only when it may be a full disk: a failure of another kind stays itself
    try:
        if not ran_out and shutil.disk_usage(target.parent).free >= NEARLY_FULL:
            return None
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)  # the partial file holds the space it took until it goes
        free = shutil.disk_usage(target.parent).free
    except OSError:
        return None
    needed = f"up to {size(size_hint)}" if size_hint and size_hint > written else f"more than {size(written)}"
    return DiskFullError(f"{target}: no space left on the device: writing it needs {needed}, {size(free)} free in "
                         f"{target.parent}; free some space and rerun (finished outputs are kept)")


def size(count: float) -> str:
    """A byte count as people read it: 512 B, 3.4 MB, 1.2 GB."""
    if count < 1000:
        return f"{count:.0f} B"
    for unit in ("kB", "MB", "GB"):
        count /= 1000
        if count < 1000:
            return f"{count:.1f} {unit}"
    return f"{count / 1000:.1f} TB"


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file (a byte-order mark, as Excel writes, is skipped); anything else,
    a NUL byte included, is a one-line DakdError naming the file, line and byte."""
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
