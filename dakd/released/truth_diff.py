"""How two ground truths of the same test videos differ, said in one line: a benchmark's
ground truths disagree (TEVAD's ``gt-ped2.npy`` starts every UCSD Ped2 anomaly one frame
after the official masks and labels the padding of a partial last snippet), and a frame AUC
moves with them. :func:`describe_difference` compares what :func:`dakd.released.truth.read_ground_truth`
read from each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .truth import VideoTruth


@dataclass(frozen=True)
class VideoDifference:
    """One video: how far the other ground truth's first anomalous frame and first normal frame
    after it lie from the reference's (frames; None where either has none), the frames past the
    reference's length it labels (and how many of those anomalous), the reference's frames past
    the other's true length (a per-video file's) and how many of those the reference labels
    anomalous, and the frames both label on which they disagree."""

    onset: int | None
    offset: int | None
    extra_frames: int
    extra_anomalous: int
    missing_frames: int
    missing_anomalous: int
    disagreeing: int

    @property
    def differs(self) -> bool:
        return bool(self.onset or self.offset or self.extra_anomalous or self.missing_anomalous or self.disagreeing)


def _edges(labels: np.ndarray) -> tuple[int | None, int | None]:
    """The first anomalous frame and the first normal frame after it (None when there is none)."""
    anomalous = np.flatnonzero(labels)
    if anomalous.size == 0:
        return None, None
    start = int(anomalous[0])
    normal = np.flatnonzero(labels[start:] == 0)
    return start, (start + int(normal[0]) if normal.size else None)


def _shift(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else b - a


def compare_video(reference: VideoTruth, other: VideoTruth) -> VideoDifference:
    """``other`` against ``reference`` on one video. The reference's length is its true frame
    count where a per-video file gave one; labels past it are the padding of a partial last snippet."""
    ref, oth = reference.labels, other.labels
    length = reference.num_frames if reference.num_frames is not None else ref.size
    common = min(length, oth.size)
    (ref_on, ref_off), (oth_on, oth_off) = _edges(ref[:common]), _edges(oth[:common])
    extra, missing = oth[length:], (ref[common:length] if other.num_frames is not None else ref[:0])
    return VideoDifference(_shift(ref_on, oth_on), _shift(ref_off, oth_off), int(extra.size), int(extra.sum()),
                           int(missing.size), int(missing.sum()), int((ref[:common] != oth[:common]).sum()))


def _shifts(values: list[int], what: str) -> str:
    """``'start 1 frame later on 6'`` for the most common non-zero shift, with the count of others."""
    moved = [v for v in values if v]
    if not moved:
        return ""
    shift, count = Counter(moved).most_common(1)[0]
    frames = f"{abs(shift)} frame{'s' if abs(shift) != 1 else ''} {'later' if shift > 0 else 'earlier'}"
    rest = len(moved) - count
    return f"{what} {frames} on {count}" + (f" (and by other amounts on {rest})" if rest else "")


def describe_difference(reference: Mapping[str, VideoTruth], other: Mapping[str, VideoTruth],
                        reference_name: str, other_name: str) -> str:
    """One line: on how many test videos ``other`` differs from ``reference`` and how (shifted
    interval edges, frames labelled past the reference's video length, other disagreeing frames)."""
    diffs = {vid: compare_video(truth, other[vid]) for vid, truth in reference.items() if vid in other}
    differing = [d for d in diffs.values() if d.differs]
    if not differing:
        return f"{other_name} agrees with {reference_name} on every frame of the {len(diffs)} test videos"
    parts = [p for p in (_shifts([d.onset for d in diffs.values() if d.onset is not None], "anomalies start"),
                         _shifts([d.offset for d in diffs.values() if d.offset is not None], "end"))
             if p]
    padded = [d for d in diffs.values() if d.extra_anomalous]
    if padded:
        parts.append(f"{sum(d.extra_anomalous for d in padded)} frames past the end of {len(padded)} video(s) are "
                     f"labelled anomalous (the padding of a partial last snippet; "
                     f"{sum(d.extra_frames for d in diffs.values())} padding frames in all)")
    cut = [d for d in diffs.values() if d.missing_anomalous]
    if cut:
        parts.append(f"{reference_name} labels {sum(d.missing_anomalous for d in cut)} frames past the true end of "
                     f"{len(cut)} video(s) anomalous (the padding of a partial last snippet, which "
                     f"{other_name} leaves out)")
    parts.append(f"{sum(d.disagreeing for d in diffs.values())} frames both label disagree")
    where = f"{other_name} differs from {reference_name} on {len(differing)} of {len(diffs)} test videos"
    return f"{where}: " + "; ".join(parts)
