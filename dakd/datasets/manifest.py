"""The video manifest ``videos.csv`` (video_id, path, split, label, class_name): written by
``dakd index-dataset`` / ``dakd make-demo`` (:func:`write_manifest`), read by ``dakd extract``
(:func:`read_manifest`) and counted by the workflow to plan its shards (:func:`count_videos`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import DakdError
from ..ids import BASE_SPLITS, check_split, check_video_id

MANIFEST_COLUMNS = ("video_id", "path", "split", "label", "class_name")


@dataclass(frozen=True)
class VideoTask:
    """One row of the manifest: a video to extract (``path`` absolute or relative to the manifest's folder)."""

    video_id: str
    path: str
    split: str
    label: int
    class_name: str


def read_manifest(path: str | os.PathLike, splits: Sequence[str] = BASE_SPLITS) -> list[VideoTask]:
    """Videos to extract, from a CSV with columns video_id, path, split, label, class_name.

    Relative video paths are taken relative to the manifest's directory. Columns are found
    by name (others are ignored); a byte-order mark (Excel's "CSV UTF-8") is skipped. Every
    problem is a one-line :class:`DakdError` naming the line: a row with the wrong number of
    cells, an unsafe video id (``dakd.ids.check_video_id``), a split not in ``splits``, a
    label other than 0 or 1, an empty path or class name, and a video id or a video file
    listed twice. A manifest without rows is an error too.
    """
    path = Path(path)
    if not path.is_file():
        raise DakdError(f"{path}: video manifest not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read_manifest_rows(path, csv.reader(fh), tuple(splits))
    except UnicodeDecodeError:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:  # again on the whole file, for a position in it
            line = data.count(b"\n", 0, exc.start) + 1
            raise DakdError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                            f"manifest as CSV UTF-8") from None
        raise DakdError(f"{path}: not UTF-8 text; save the manifest as CSV UTF-8") from None  # changed meanwhile
    except OSError as exc:
        raise DakdError(f"{path}: cannot read the video manifest ({exc.strerror or type(exc).__name__})") from None


def _read_manifest_rows(path: Path, reader, splits: tuple[str, ...]) -> list[VideoTask]:
    line = 1  # where the current record starts (a quoted cell may span lines)
    try:
        header = _read_header(path, reader)
        index = {name: header.index(name) for name in MANIFEST_COLUMNS}
        expected = f"{len(header)} ({', '.join(n if n.isprintable() else repr(n) for n in header)})"
        tasks: list[VideoTask] = []
        ids: dict[str, int] = {}
        files: dict[str, tuple[int, str]] = {}
        line = reader.line_num + 1
        for row in reader:
            if not row:  # a blank line
                line = reader.line_num + 1
                continue
            where = f"{path}:{line}"
            if len(row) != len(header):
                raise DakdError(f"{where}: {len(row)} column{'s' if len(row) != 1 else ''}, expected {expected}")
            cell = {name: row[i] for name, i in index.items()}
            for name in ("path", "class_name"):
                if not cell[name].strip():
                    raise DakdError(f"{where}: empty {name} (column {index[name] + 1})")
            video_id = check_video_id(cell["video_id"], where)
            if video_id in ids:
                raise DakdError(f"{where}: duplicate video_id {video_id!r} (first on line {ids[video_id]})")
            split = check_split(cell["split"], where, splits)
            if cell["label"] not in ("0", "1"):
                raise DakdError(f"{where}: label must be 0 or 1, got {cell['label']!r}")
            if "\0" in cell["path"]:
                raise DakdError(f"{where}: path {cell['path']!r} contains a NUL character")
            video = Path(cell["path"])
            video = video if video.is_absolute() else path.parent / video
            key = os.path.normcase(os.path.realpath(video))
            if key in files:
                first, other = files[key]
                raise DakdError(f"{where}: video {cell['path']!r} (video_id {video_id!r}) is already listed on "
                                f"line {first} as video_id {other!r}")
            ids[video_id] = line
            files[key] = (line, video_id)
            tasks.append(VideoTask(video_id, str(video), split, int(cell["label"]), cell["class_name"]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DakdError(f"{path}:{line}: not a well-formed CSV row ({exc})") from None
    if not tasks:
        raise DakdError(f"{path}: manifest lists no videos (a header and no rows)")
    return tasks


def _read_header(path: Path, reader: Any) -> list[str]:
    """The header row's column names; a missing or repeated manifest column is an error."""
    header = next(reader, None)
    if header is None:
        raise DakdError(f"{path}: empty manifest (expected a header row {', '.join(MANIFEST_COLUMNS)})")
    header = [name.strip() for name in header]
    for i, name in enumerate(header):
        if name in MANIFEST_COLUMNS and name in header[:i]:
            raise DakdError(f"{path}:1: column {name!r} appears twice in the header")
    missing = [c for c in MANIFEST_COLUMNS if c not in header]
    if missing:
        raise DakdError(f"{path}: manifest lacks column(s) {missing}")
    return header


def write_manifest(videos: Iterable[Any], path: str | os.PathLike) -> None:
    """Write ``videos`` (objects with the manifest's fields, e.g. :class:`dakd.datasets.VideoEntry`)
    as the manifest CSV, with absolute video paths, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(MANIFEST_COLUMNS))
        for v in videos:
            writer.writerow([v.video_id, str(Path(v.path).resolve()), v.split, v.label, v.class_name])


def shard_tasks(tasks: Sequence[VideoTask], shard_size: int) -> list[list[VideoTask]]:
    """The manifest's videos cut into shards of ``shard_size``, in manifest order."""
    return [list(tasks[i : i + shard_size]) for i in range(0, len(tasks), shard_size)]


def video_stats(tasks: Sequence[VideoTask]) -> list[list[int] | None]:
    """Per video, ``[size in bytes, modification time in ns]`` (None for a missing file): a video
    replaced by another (a repaired copy) changes them, so its shard is extracted again."""
    stats: list[list[int] | None] = []
    for task in tasks:
        try:
            stat = os.stat(task.path)
        except OSError:
            stats.append(None)
        else:
            stats.append([stat.st_size, stat.st_mtime_ns])
    return stats


def count_videos(path: str | os.PathLike) -> int:
    """How many videos (non-blank rows below the header) a manifest lists, without checking them."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return sum(1 for _ in csv.DictReader(fh))
