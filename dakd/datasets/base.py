"""Dataset adapters: a benchmark's own files -> a video manifest and frame annotations.

Every adapter returns a :class:`DatasetIndex`; :func:`write_index` stores it as the
``videos.csv`` manifest that ``dakd extract`` reads and the ``annotations.parquet`` that
``dakd evaluate`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..annotations import Interval, write_annotations
from ..errors import DakdError
from ..ids import check_split, check_video_id
from ..registry import Registry
from .manifest import write_manifest


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
    """A dataset's videos, the anomalous frame intervals of its test videos, and for videos
    labelled frame by frame (ShanghaiTech masks) how many frames the labels cover."""

    videos: list[VideoEntry]
    intervals: dict[str, list[Interval]] = field(default_factory=dict)
    num_frames: dict[str, int] = field(default_factory=dict)

    def split_counts(self) -> dict[str, int]:
        """Videos per split, splits in name order."""
        return {s: sum(v.split == s for v in self.videos) for s in sorted({v.split for v in self.videos})}


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
    return check_index(adapter(root, dict(options or {})), root)


def check_index(index: DatasetIndex, root: Path) -> DatasetIndex:
    """Ids are safe file names, splits are train/test, and no video is listed twice, within a
    split or across splits (a video in both lists would be trained and tested on)."""
    seen: dict[str, VideoEntry] = {}
    for video in index.videos:
        check_video_id(video.video_id, f"{root}: {video.split} list")
        check_split(video.split, f"{root}: video {video.video_id!r}")
        if video.video_id in seen:
            first = seen[video.video_id]
            where = (f"twice in the {first.split} list" if first.split == video.split
                     else "in both the train and the test list")
            raise DatasetError(f"{root}: video {video.video_id!r} is listed {where}")
        seen[video.video_id] = video
    return index


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"{path}: required dataset file not found")
    return path


def find_videos(root: Path, extensions: Iterable[str] = (".mp4", ".avi", ".mkv", ".mov", ".webm")) -> dict[str, Path]:
    """Every video file under ``root`` by file name (layouts differ between downloads).

    Symlinked folders are followed (datasets are often assembled from links to shared
    storage); each real directory is searched once, so a link back to an ancestor cannot
    loop. When a name occurs twice, the first path in sorted order wins.
    """
    found: dict[str, Path] = {}
    wanted = {e.lower() for e in extensions}
    candidates = []
    visited = {os.path.realpath(root)}
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        # prune in place: skip directories already reached by another path (links, loops)
        keep = []
        for name in sorted(dirnames):
            real = os.path.realpath(os.path.join(folder, name))
            if real not in visited:
                visited.add(real)
                keep.append(name)
        dirnames[:] = keep
        candidates += [Path(folder) / name for name in filenames if os.path.splitext(name)[1].lower() in wanted]
    for path in sorted(candidates):
        if path.is_file():
            found.setdefault(path.name, path)
    return found


def locate(videos: dict[str, Path], name: str, listed_in: Path) -> Path:
    if name not in videos:
        raise DatasetError(f"{listed_in}: video {name!r} is listed but not found under the dataset root")
    return videos[name]


def write_index(index: DatasetIndex, manifest: str | os.PathLike, annotations: str | os.PathLike) -> None:
    """Write the manifest CSV (absolute video paths) and the annotation Parquet, atomically."""
    write_manifest(index.videos, manifest)
    write_annotations(annotations, index.intervals, index.num_frames)
