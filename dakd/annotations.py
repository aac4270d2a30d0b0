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

from .errors import DakdError
from .io import atomic_path

Interval = tuple[int, int]


class AnnotationError(DakdError):
    """Annotations are missing or malformed."""


def write_annotations(path: str | os.PathLike, intervals: Mapping[str, Sequence[Interval]]) -> None:
    """Write ``video_id -> [(start, end), ...]`` (end exclusive) atomically."""
    ids = sorted(intervals)
    flat = []
    for vid in ids:
        pairs = [int(x) for pair in intervals[vid] for x in pair]
        for start, end in zip(pairs[::2], pairs[1::2]):
            if not 0 <= start <= end:
                raise AnnotationError(f"{path}: video {vid!r} has invalid interval [{start}, {end})")
        flat.append(pairs)
    table = pa.table({"video_id": pa.array(ids, pa.string()), "intervals": pa.array(flat, pa.list_(pa.int64()))})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_annotations(path: str | os.PathLike) -> dict[str, list[Interval]]:
    """``video_id -> [(start, end), ...]`` from a file written by :func:`write_annotations`."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found")
    table = pq.read_table(path)
    out: dict[str, list[Interval]] = {}
    for vid, flat in zip(table.column("video_id").to_pylist(), table.column("intervals").to_pylist()):
        out[vid] = list(zip(flat[::2], flat[1::2]))
    return out


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
