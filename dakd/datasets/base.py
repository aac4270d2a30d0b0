"""Dataset adapters: a benchmark's own files -> a video manifest and frame annotations.

Every adapter returns a :class:`DatasetIndex`; :func:`write_index` stores it as the
``videos.csv`` manifest that ``dakd extract`` reads and the ``annotations.parquet`` that
``dakd evaluate`` reads.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..annotations import Interval, write_annotations
from ..errors import DakdError
from ..io import atomic_path
from ..registry import Registry


class DatasetError(DakdError):
    """A dataset file is missing or malformed; the message names it."""


@dataclass(frozen=True)
class VideoEntry:
    video_id: str
    path: Path
    split: str
    label: int
    class_name: str


@dataclass
class DatasetIndex:
    videos: list[VideoEntry]
    intervals: dict[str, list[Interval]] = field(default_factory=dict)


Adapter = Callable[[Path, dict[str, Any]], DatasetIndex]
ADAPTERS: Registry[Adapter] = Registry("dataset kind", DatasetError)
register_dataset = ADAPTERS.register


def available_datasets() -> list[str]:
    return ADAPTERS.names()


def index_dataset(kind: str, root: str | os.PathLike, options: dict[str, Any] | None = None) -> DatasetIndex:
    """Parse dataset ``kind`` under ``root``; a missing root is a one-line error naming it."""
    adapter = ADAPTERS.get(kind)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset directory not found")
    return adapter(root, dict(options or {}))


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"{path}: required dataset file not found")
    return path


def find_videos(root: Path, extensions: Iterable[str] = (".mp4", ".avi", ".mkv", ".mov", ".webm")) -> dict[str, Path]:
    """Every video file under ``root`` by file name (layouts differ between downloads)."""
    found: dict[str, Path] = {}
    wanted = {e.lower() for e in extensions}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in wanted and path.is_file():
            found.setdefault(path.name, path)
    return found


def locate(videos: dict[str, Path], name: str, listed_in: Path) -> Path:
    if name not in videos:
        raise DatasetError(f"{listed_in}: video {name!r} is listed but not found under the dataset root")
    return videos[name]


def write_index(index: DatasetIndex, manifest: str | os.PathLike, annotations: str | os.PathLike) -> None:
    """Write the manifest CSV (absolute video paths) and the annotation Parquet, atomically."""
    with atomic_path(manifest) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "path", "split", "label", "class_name"])
        for v in index.videos:
            writer.writerow([v.video_id, str(Path(v.path).resolve()), v.split, v.label, v.class_name])
    write_annotations(annotations, index.intervals)
