"""Frame-level evaluation: ROC AUC and AP over all test frames concatenated.

Protocol (RTFM / UR-DMU / VadCLIP): every test video is scored, each snippet score is
repeated over the frames of its snippet, frame labels are built to the length the
snippets actually cover, and all videos are concatenated before scikit-learn computes
the metrics. The AUC within anomalous videos (UCF-Crime's per-class AUC of Figure 6, and
for a one-class set such as ShanghaiTech the "abnormal-video AUC") uses the frames of the
anomalous test videos only, of one class or of all.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from .annotations import AnnotationError, Interval, check_fits_video, frame_labels
from .atomic import atomic_path
from .config import EvaluateConfig
from .features import SnippetVideo, VideoMeta, segment_pool, segment_ranges
from .models import AnomalyDetector


@dataclass
class VideoScores:
    """Per-video result: snippet scores (S,) and the frame-level scores and labels (F,)."""

    meta: VideoMeta
    snippet_scores: np.ndarray
    frame_scores: np.ndarray
    frame_labels: np.ndarray


@torch.no_grad()
def score_video(model: AnomalyDetector, video: SnippetVideo, cfg: EvaluateConfig, num_segments: int,
                device: torch.device) -> np.ndarray:
    """Snippet scores (S,) of one video, by ``evaluate.unit`` (:data:`UNITS`).

    A video with a crop axis, (S, crops, d) (``features.crop: per_crop_bags``), is scored
    crop by crop and the crops' scores are averaged.
    """
    model.eval()
    return UNITS[cfg.unit](model, video, cfg, num_segments, device)


def _by_segment(model: AnomalyDetector, video: SnippetVideo, cfg: EvaluateConfig, num_segments: int,
                device: torch.device) -> np.ndarray:
    """Run the model on the ``num_segments`` pooled segments; each snippet gets the mean score
    of the segments that contain it."""
    num_snippets = video.meta.num_snippets
    inputs = {b: _crop_batch(segment_pool(video.inputs[b], num_segments)).to(device) for b in model.backbones}
    seg_scores = _crop_mean(model(inputs).scores).astype(np.float64)
    starts, ends = segment_ranges(num_snippets, num_segments)
    total, count = np.zeros(num_snippets), np.zeros(num_snippets)
    for score, start, end in zip(seg_scores, starts, ends):
        total[start:end] += score
        count[start:end] += 1
    return (total / count).astype(np.float32)


def _by_snippet(model: AnomalyDetector, video: SnippetVideo, cfg: EvaluateConfig, num_segments: int,
                device: torch.device) -> np.ndarray:
    """Run the model on the snippet sequence, in windows of at most ``max_window`` snippets."""
    num_snippets = video.meta.num_snippets
    window = cfg.max_window or num_snippets
    scores = []
    for start in range(0, num_snippets, window):
        inputs = {b: _crop_batch(video.inputs[b][start : start + window]).to(device) for b in model.backbones}
        scores.append(_crop_mean(model(inputs).scores))
    return np.concatenate(scores).astype(np.float32)


# evaluate.unit -> how a test video is scored: snippet (RTFM / UR-DMU / VadCLIP protocol) or
# the 32 training segments spread over their snippets
UNITS: dict[str, Callable[..., np.ndarray]] = {"snippet": _by_snippet, "segment": _by_segment}


def _crop_batch(features: np.ndarray) -> torch.Tensor:
    """A model batch of one video's crops: (L, d) -> (1, L, d); (L, crops, d) -> (crops, L, d)."""
    batch = torch.from_numpy(features)
    return batch[None] if batch.ndim == 2 else batch.transpose(0, 1)


def _crop_mean(scores: torch.Tensor) -> np.ndarray:
    """(crops, L) scores -> (L,), the mean over crops (one crop: its scores as they are)."""
    return (scores[0] if len(scores) == 1 else scores.mean(dim=0)).cpu().numpy()


def snippet_to_frames(snippet_scores: np.ndarray, meta: VideoMeta) -> np.ndarray:
    """Repeat each snippet score over its frames, (S,) -> (covered_frames,)."""
    return frames_of(snippet_scores, meta.covered_frames, meta.snippet_stride)


def frames_of(snippet_scores: np.ndarray, num_frames: int, snippet_stride: int) -> np.ndarray:
    """(S,) snippet scores -> (num_frames,): frame i gets the score of snippet i // stride (the last
    snippet's past the end)."""
    frames = np.arange(num_frames)
    return snippet_scores[np.minimum(frames // snippet_stride, len(snippet_scores) - 1)]


def match_annotations(videos: Sequence[SnippetVideo], table: Mapping[str, tuple[list[Interval], int | None]],
                      where: str) -> dict[str, list[Interval]]:
    """The intervals of each video, checked against what the shards know of it.

    Every anomalous video needs an anomalous interval and a normal one may have none
    (a missing normal video is all-normal); per-frame labels must cover exactly the
    decoded frames, and intervals must lie in the video (up to one snippet past its end,
    which is cut). Anything else is an AnnotationError naming the video: labels that
    belong to another video or another decode would otherwise give a wrong AUC silently.
    """
    out = {}
    for video in videos:
        meta = video.meta
        intervals, labelled = table.get(meta.video_id, ([], None))
        if meta.label == 1 and meta.video_id not in table:
            raise AnnotationError(f"{where}: no frame annotation for anomalous {meta.split} video {meta.video_id!r}")
        check_fits_video(intervals, labelled, meta.video_id, meta.num_frames, meta.snippet_len, where)
        has_anomaly = any(min(end, meta.num_frames) > start for start, end in intervals)
        if meta.label == 1 and not has_anomaly:
            raise AnnotationError(f"{where}: anomalous {meta.split} video {meta.video_id!r} has no anomalous frame")
        if meta.label == 0 and has_anomaly:
            raise AnnotationError(f"{where}: normal {meta.split} video {meta.video_id!r} has anomalous frames "
                                  f"{intervals[:3]}")
        out[meta.video_id] = list(intervals)
    return out


def score_videos(model: AnomalyDetector, videos: Sequence[SnippetVideo],
                 annotations: Mapping[str, tuple[list[Interval], int | None]], cfg: EvaluateConfig,
                 num_segments: int, device: torch.device, where: str = "annotations") -> list[VideoScores]:
    """Score every video and align it with its frame labels.

    ``annotations`` is the table :func:`dakd.annotations.read_annotation_table` returns
    (read from ``where``); every video is checked against it before any is scored
    (:func:`match_annotations`).
    """
    return align_scores(videos, lambda video: score_video(model, video, cfg, num_segments, device), annotations,
                        where)


def align_scores(videos: Sequence[SnippetVideo], snippet_scores_of: Callable[[SnippetVideo], np.ndarray],
                 annotations: Mapping[str, tuple[list[Interval], int | None]],
                 where: str = "annotations") -> list[VideoScores]:
    """Each video's (S,) snippet scores from ``snippet_scores_of`` (a model's, or the linear
    probe's), spread over its frames and aligned with its frame labels, after every video is
    checked against ``annotations`` (:func:`match_annotations`)."""
    intervals = match_annotations(videos, annotations, where)
    results = []
    for video in videos:
        meta = video.meta
        snippet_scores = snippet_scores_of(video)
        results.append(VideoScores(
            meta=meta,
            snippet_scores=snippet_scores,
            frame_scores=snippet_to_frames(snippet_scores, meta),
            frame_labels=frame_labels(intervals[meta.video_id], meta.covered_frames),
        ))
    return results


def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    # Imported here: scikit-learn (with SciPy) is slow to import, and the
    # training commands, which import this module, only need it with a validation split.
    from sklearn.metrics import average_precision_score, roc_auc_score

    if labels.min() == labels.max():
        return {"auc": None, "ap": None}
    return {"auc": float(roc_auc_score(labels, scores)), "ap": float(average_precision_score(labels, scores))}


def frame_metrics(results: Sequence[VideoScores]) -> dict[str, Any]:
    """AUC and AP over all frames concatenated, the AUC within anomalous videos (all of them
    and per class), and counts."""
    labels = np.concatenate([r.frame_labels for r in results])
    scores = np.concatenate([r.frame_scores for r in results])
    by_class: dict[str, list[VideoScores]] = defaultdict(list)
    for r in results:
        if r.meta.label == 1:
            by_class[r.meta.class_name].append(r)
    anomalous = [r for items in by_class.values() for r in items]
    return {
        **_metrics(labels, scores),
        "anomalous_video_auc": {
            "all": _within(anomalous),
            "per_class": {name: _within(items) for name, items in sorted(by_class.items())},
        },
        "num_videos": len(results),
        "num_anomalous_videos": len(anomalous),
        "num_frames": int(labels.size),
        "num_anomalous_frames": int(labels.sum()),
    }


def _within(results: Sequence[VideoScores]) -> float | None:
    """Frame AUC over the frames of ``results`` only (anomalous videos: their normal frames
    against their anomalous frames); None without results."""
    if not results:
        return None
    return _metrics(np.concatenate([r.frame_labels for r in results]),
                    np.concatenate([r.frame_scores for r in results]))["auc"]


# ---------------------------------------------------------------- the per-video scores file


@dataclass(frozen=True)
class StoredScores:
    """One video of a scores file (:func:`write_scores`), expanded to frames as evaluation scored it."""

    video_id: str
    label: int
    class_name: str
    frame_scores: np.ndarray
    frame_labels: np.ndarray


def write_scores(path: str | os.PathLike, results: Sequence[VideoScores]) -> None:
    """Per-video snippet scores and frame labels (``evaluate --scores-out``: plots, error analysis), atomically."""
    table = pa.table({
        "video_id": [r.meta.video_id for r in results],
        "label": pa.array([r.meta.label for r in results], pa.int8()),
        "class_name": [r.meta.class_name for r in results],
        "snippet_stride": pa.array([r.meta.snippet_stride for r in results], pa.int32()),
        "snippet_scores": pa.array([r.snippet_scores for r in results], pa.list_(pa.float32())),
        "frame_labels": pa.array([r.frame_labels for r in results], pa.list_(pa.uint8())),
    })
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_scores(path: str | os.PathLike) -> list[StoredScores]:
    """The videos of a scores file, each snippet score repeated over its frames (:func:`frames_of`)."""
    videos = []
    for row in pq.read_table(path).to_pylist():
        labels = np.asarray(row["frame_labels"], dtype=np.uint8)
        scores = np.asarray(row["snippet_scores"], dtype=np.float32)
        videos.append(StoredScores(row["video_id"], row["label"], row["class_name"],
                                   frames_of(scores, len(labels), row["snippet_stride"]), labels))
    return videos
