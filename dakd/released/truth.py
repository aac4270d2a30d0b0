"""Released ground truth: a concatenated frame-label vector (``gt-ucf.npy``, ``gt-sh.npy``,
XD-Violence ``gt.npy``: the test videos in list order, each covering T x 16 frames), cut into
videos by their snippet counts, or a folder of per-video files (PEL4VAD
``single_gt/<video>__9_gt.npy``, ShanghaiTech ``test_frame_mask/<video>.npy``) matched by video
id. Either is checked against the video labels: an anomalous test video needs an anomalous
frame and a normal one may have none."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FeatureImportError
from .paths import CROP_SUFFIX, FEATURE_TAG, FolderIndex

GT_SUFFIX = re.compile(r"_gt$", re.IGNORECASE)


@dataclass(frozen=True)
class GroundTruthVideo:
    """A test video as the ground truth is checked against it: id, snippet count, label (None:
    unknown, the ground truth gives it)."""

    video_id: str
    snippets: int
    label: int | None


@dataclass
class VideoTruth:
    """One video's frame labels; ``num_frames`` is the labelled frame count when a
    per-video file gave it (None: the labels are the features' T x snippet_len frames)."""

    labels: np.ndarray
    num_frames: int | None = None


def _load_labels(path: Path, what: str) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False).ravel()
    except (OSError, ValueError) as exc:
        raise FeatureImportError(f"{path}: not a readable .npy {what} ({exc})") from exc
    if not np.isin(values, (0, 1)).all():
        bad = values[~np.isin(values, (0, 1))][0]
        raise FeatureImportError(f"{path}: frame labels must be 0 or 1, found {bad}")
    return values.astype(np.uint8)


def _contradictions(videos: Sequence[GroundTruthVideo], labels: dict[str, np.ndarray]) -> list[str]:
    """``'<id>' (anomalous, no anomalous frame)`` / ``(normal, N anomalous frames)`` for each
    video whose labels contradict its video-level label (a video without one has none)."""
    out = []
    for video in videos:
        count = int(labels[video.video_id].sum())
        if video.label == 1 and count == 0:
            out.append(f"{video.video_id!r} (anomalous, no anomalous frame)")
        elif video.label == 0 and count > 0:
            out.append(f"{video.video_id!r} (normal, {count} anomalous frames)")
    return out


def _contradiction_error(source: Path, bad: list[str], why: str) -> FeatureImportError:
    return FeatureImportError(f"{source}: the frame labels contradict the video labels of {len(bad)} test video(s), "
                              f"e.g. {', '.join(bad[:3])}; {why}")


def split_ground_truth(gt_file: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                       snippet_len: int) -> dict[str, np.ndarray]:
    """Cut a concatenated frame-label vector into ``video_id -> (T * snippet_len,)`` labels.

    ``videos`` are the test videos in the order of the list the vector was made for. A
    length that does not fit, or a cut that gives an anomalous video no anomalous frame (or
    a normal one any), is an error: the vector was made for other features or another order.
    """
    gt_file = Path(gt_file)
    gt = _load_labels(gt_file, "frame-label vector")
    expected = sum(v.snippets for v in videos) * snippet_len
    cut, start = {}, 0
    for video in videos:
        end = start + video.snippets * snippet_len
        cut[video.video_id] = gt[start:end]
        start = end
    if gt.size != expected:
        diff = gt.size - expected
        if diff % snippet_len == 0:
            hint = (f"{abs(diff) // snippet_len} snippet(s) {'more' if diff > 0 else 'fewer'} than the features: "
                    "one of them keeps a partial last snippet of each video, the other drops it, so this ground "
                    "truth was made for another extraction")
        else:
            hint = f"{abs(diff)} frames {'more' if diff > 0 else 'fewer'}, not a whole number of snippets"
        bad = _contradictions(videos, cut)
        if bad:
            hint += f"; cut from the start it first contradicts the video labels at {bad[0]}"
        raise FeatureImportError(f"{gt_file}: {gt.size} frame labels, but the {len(videos)} test videos cover "
                                 f"{expected} frames at {snippet_len} frames per snippet ({hint}); use the ground "
                                 "truth made for these very features, or a folder of per-video files")
    bad = _contradictions(videos, cut)
    if bad:
        raise _contradiction_error(gt_file, bad, "the vector is in another video order than the test list "
                                   "(sorted by name?) or belongs to other features")
    return cut


def _gt_video_id(name: str) -> str:
    """The video id of a per-video ground-truth file: ``Abuse028_x264__9_gt.npy``,
    ``<video>__0.npy`` (XD-Violence) and ``01_0015.npy`` all name their video."""
    stem = GT_SUFFIX.sub("", name[:-4])
    crop = CROP_SUFFIX.search(stem)
    if crop:
        stem = stem[: crop.start()]
    return FEATURE_TAG.sub("", stem)


def read_ground_truth_folder(folder: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                             snippet_len: int) -> dict[str, VideoTruth]:
    """Per-video frame-label files matched by video id.

    A file of L frames fits features of T snippets when L == T x snippet_len; when the
    features kept a partial last snippet (``ceil(L / snippet_len) == T``) the labels are
    the video's L frames (zeros beyond); when they dropped it (T x snippet_len < L, less
    than two snippets short) the labels are cut. Anything else, an anomalous video without
    a file, or labels contradicting the video label stop the import. A normal video
    without a file is all-normal.
    """
    folder = Path(folder)
    found: dict[str, list[str]] = {}
    for name in FolderIndex().files(folder):
        if name.lower().endswith(".npy"):
            found.setdefault(_gt_video_id(name), []).append(name)
    out: dict[str, VideoTruth] = {}
    missing, wrong = [], []
    for video in videos:
        names = sorted(found.get(video.video_id, []))
        covered = video.snippets * snippet_len
        if len(names) > 1:
            raise FeatureImportError(f"{folder}: {len(names)} ground-truth files for video {video.video_id!r} "
                                     f"({', '.join(names[:3])})")
        if not names:  # a video of unknown label without a file is normal
            if video.label == 1:
                missing.append(video.video_id)
            out[video.video_id] = VideoTruth(np.zeros(covered, np.uint8))
            continue
        labels = _load_labels(folder / names[0], "frame-label file")
        length = labels.size
        if not (covered - snippet_len < length < covered + 2 * snippet_len):
            wrong.append(f"{names[0]} has {length} frames, the features {video.snippets} snippets x {snippet_len} "
                         f"= {covered}")
        out[video.video_id] = VideoTruth(labels, length)
    if missing:
        raise FeatureImportError(f"{folder}: no ground-truth file for {len(missing)} anomalous test video(s), e.g. "
                                 f"{missing[:3]} (files are matched by video id: <video>.npy, <video>__N.npy, "
                                 "<video>__N_gt.npy)")
    if wrong:
        raise FeatureImportError(f"{folder}: {len(wrong)} test video(s) have ground truth of another length than "
                                 f"their features, e.g. {'; '.join(wrong[:3])} (a partial last snippet kept or "
                                 "dropped is accepted; this ground truth was made for another extraction)")
    bad = _contradictions(videos, {v.video_id: out[v.video_id].labels[: v.snippets * snippet_len] for v in videos})
    if bad:
        raise _contradiction_error(folder, bad, "the files do not belong to these videos")
    return out


def read_ground_truth(gt: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                      snippet_len: int) -> dict[str, VideoTruth]:
    """A concatenated vector (file) or per-video files (folder), checked against ``videos``."""
    gt = Path(gt)
    if gt.is_dir():
        return read_ground_truth_folder(gt, videos, snippet_len)
    if not gt.is_file():
        raise FeatureImportError(f"{gt}: ground truth not found (a .npy frame-label vector or a folder of "
                                 "per-video .npy files)")
    return {vid: VideoTruth(labels) for vid, labels in split_ground_truth(gt, videos, snippet_len).items()}
