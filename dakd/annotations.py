"""Frame-level test annotations: anomalous frame intervals per video, stored as Parquet.

Dataset adapters convert each benchmark's own format (UCF-Crime's temporal annotation
file, ShanghaiTech frame masks, XD-Violence ``annotations.txt``) into this one table:
``video_id`` (string) and ``intervals`` (list<int64>, flat ``[start0, end0, start1, ...]``
with 0-based ``start`` inclusive and ``end`` exclusive).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import atomic_path
from .errors import DakdError

Interval = tuple[int, int]


class AnnotationError(DakdError):
    """Annotations are missing or malformed."""


def write_annotations(path: str | os.PathLike, intervals: Mapping[str, Sequence[Interval]],
                      num_frames: Mapping[str, int] | None = None) -> None:
    """Write ``video_id -> [(start, end), ...]`` (end exclusive) atomically.

    ``num_frames`` gives, for videos whose labels come per frame (ShanghaiTech's masks,
    per-video ground-truth files), how many frames the labels cover; evaluation then
    requires the decoded video to have exactly that many frames.
    """
    ids = sorted(intervals)
    lengths = dict(num_frames or {})
    flat = []
    for vid in ids:
        pairs = [int(x) for pair in intervals[vid] for x in pair]
        for start, end in zip(pairs[::2], pairs[1::2]):
            if not 0 <= start <= end:
                raise AnnotationError(f"{path}: video {vid!r} has invalid interval [{start}, {end})")
            if vid in lengths and end > lengths[vid]:
                raise AnnotationError(f"{path}: video {vid!r} has interval [{start}, {end}) beyond its "
                                      f"{lengths[vid]} labelled frames")
        flat.append(pairs)
    table = pa.table({"video_id": pa.array(ids, pa.string()), "intervals": pa.array(flat, pa.list_(pa.int64())),
                      "num_frames": pa.array([lengths.get(v) for v in ids], pa.int64())})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_annotations(path: str | os.PathLike) -> dict[str, list[Interval]]:
    """``video_id -> [(start, end), ...]`` from a file written by :func:`write_annotations`."""
    return {vid: intervals for vid, (intervals, _) in read_annotation_table(path).items()}


def read_annotation_table(path: str | os.PathLike) -> dict[str, tuple[list[Interval], int | None]]:
    """``video_id -> (intervals, labelled frame count or None)``; a file that is not an
    annotation table is an AnnotationError naming it."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise AnnotationError(f"{path}: not a readable annotation Parquet file ({exc})") from None
    missing = [c for c in ("video_id", "intervals") if c not in table.column_names]
    if missing:
        raise AnnotationError(f"{path}: not a dakd annotation table (no column {missing[0]!r})")
    ids = table.column("video_id").to_pylist()
    flats = table.column("intervals").to_pylist()
    lengths = table.column("num_frames").to_pylist() if "num_frames" in table.column_names else [None] * len(ids)
    out: dict[str, tuple[list[Interval], int | None]] = {}
    for vid, flat, length in zip(ids, flats, lengths):
        if vid in out:
            raise AnnotationError(f"{path}: video {vid!r} appears twice")
        out[vid] = (list(zip(flat[::2], flat[1::2])), length)
    return out


def check_fits_video(intervals: Sequence[Interval], labelled_frames: int | None, video_id: str, num_frames: int,
                     tolerance: int, where: str) -> None:
    """Stop when a video's annotation does not fit its decoded frame count ``num_frames``.

    Per-frame labels (``labelled_frames`` known) must have exactly ``num_frames`` frames.
    An interval must start inside the video and end at most ``tolerance`` frames after
    its end: the official UCF-Crime annotation has a few intervals ending 1-2 frames past
    the last frame, which are cut; anything further means labels for another video or
    another frame rate.
    """
    if labelled_frames is not None and labelled_frames != num_frames:
        raise AnnotationError(f"{where}: video {video_id!r} has frame labels for {labelled_frames} frames "
                              f"but {num_frames} decoded frames")
    for start, end in intervals:
        if start >= num_frames or end > num_frames + tolerance:
            raise AnnotationError(f"{where}: video {video_id!r} has an anomalous interval [{start}, {end}) "
                                  f"beyond its end ({num_frames} decoded frames)")


def mask_intervals(mask: np.ndarray) -> list[Interval]:
    """[start, end) of each run of nonzero frames: the inverse of :func:`frame_labels`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (np.asarray(mask) != 0).astype(np.int8), [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


def frame_labels(intervals: Sequence[Interval], num_frames: int) -> np.ndarray:
    """(num_frames,) uint8 mask with 1 inside the intervals; parts beyond ``num_frames`` are cut."""
    labels = np.zeros(num_frames, dtype=np.uint8)
    for start, end in intervals:
        labels[max(start, 0) : min(end, num_frames)] = 1
    return labels
