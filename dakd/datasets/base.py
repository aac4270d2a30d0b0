"""Dataset adapters: a benchmark's own files -> a video manifest and frame annotations.

Every adapter returns a :class:`DatasetIndex`; :func:`write_index` stores it as the
``videos.csv`` manifest that ``dakd extract`` reads and the ``annotations.parquet`` that
``dakd evaluate`` reads.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..annotations import Interval, write_annotations
from ..errors import DakdError
from ..ids import check_split, check_video_id
from ..registry import Registry
from ..videofiles import Listing, list_videos
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
    """A dataset's videos, the anomalous frame intervals of its test videos, for videos
    labelled frame by frame (ShanghaiTech masks) how many frames the labels cover, and how
    many files the video folders held that are not videos, per reason
    (:func:`dakd.videofiles.skip_reason`)."""

    videos: list[VideoEntry]
    intervals: dict[str, list[Interval]] = field(default_factory=dict)
    num_frames: dict[str, int] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)

    def split_counts(self) -> dict[str, int]:
        """Videos per split, splits in name order."""
        return {s: sum(v.split == s for v in self.videos) for s in sorted({v.split for v in self.videos})}


Adapter = Callable[[Path, dict[str, Any]], DatasetIndex]
ADAPTERS: Registry[Adapter] = Registry("dataset kind", DatasetError)
register_dataset = ADAPTERS.register


@dataclass(frozen=True)
class DatasetSources:
    """What indexing a dataset reads: ``files`` (lists, annotations, frame masks; some may be
    missing, which the index reports) and the ``folders`` it searches for videos. The workflow
    reruns the index when any of them changes."""

    files: list[Path]
    folders: list[Path]

    def listing(self) -> Listing:
        """The videos under every folder, and the files skipped there."""
        listing = Listing()
        for folder in self.folders:
            listing.update(list_videos(folder))
        return listing


Sources = Callable[[Path, dict[str, Any]], DatasetSources]
SOURCES: Registry[Sources] = Registry("dataset kind", DatasetError)
register_sources = SOURCES.register


def dataset_sources(kind: str, root: str | os.PathLike, options: dict[str, Any] | None = None) -> DatasetSources:
    """The files and folders indexing dataset ``kind`` under ``root`` reads."""
    return SOURCES.get(kind)(Path(root), dict(options or {}))


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


def locate(names: dict[str, list[Path]], listed: str, where: str) -> Path:
    """The file a list names (``Abuse/Abuse001_x264.mp4`` or a bare file name), among the videos
    ``names`` maps by file name.

    A name found once is that file. A name found more than once (a backup copy in another
    folder) is the file whose path ends with the listed folders and name, when exactly one
    does; otherwise there is no way to choose, and a one-line error names two candidates.
    """
    parts = tuple(part for part in listed.replace("\\", "/").split("/") if part)
    if not parts:
        raise DatasetError(f"{where}: no video name in {listed!r}")
    candidates = names.get(parts[-1], [])
    if not candidates:
        raise DatasetError(f"{where}: video {parts[-1]!r} is listed but not found under the dataset root")
    if len(candidates) == 1:
        return candidates[0]
    matching = [p for p in candidates if len(parts) > 1 and p.parts[-len(parts):] == parts]
    if len(matching) == 1:
        return matching[0]
    pool = matching or candidates
    raise DatasetError(f"{where}: {listed!r} matches {len(pool)} files, {pool[0]} and {pool[1]}, and the list "
                       "does not say which; remove or rename the copy")


def write_index(index: DatasetIndex, manifest: str | os.PathLike, annotations: str | os.PathLike) -> None:
    """Write the manifest CSV (absolute video paths) and the annotation Parquet, atomically."""
    write_manifest(index.videos, manifest)
    write_annotations(annotations, index.intervals, index.num_frames)
