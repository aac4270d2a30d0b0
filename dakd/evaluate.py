"""Frame-level evaluation: ROC AUC and AP over all test frames concatenated.

Protocol (RTFM / UR-DMU / VadCLIP): every test video is scored, each snippet score is
repeated over the frames of its snippet, frame labels are built to the length the
snippets actually cover, and all videos are concatenated before scikit-learn computes
the metrics. UCF-Crime's per-class AUC uses the frames of that class's test videos only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .annotations import AnnotationError, Interval, frame_labels
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
    """Snippet scores (S,) of one video.

    ``unit == "snippet"`` runs the model on the snippet sequence (in windows of at most
    ``max_window`` snippets); ``unit == "segment"`` runs it on the ``num_segments`` pooled
    segments and gives each snippet the mean score of the segments that contain it.
    """
    model.eval()
    num_snippets = video.meta.num_snippets
    if cfg.unit == "segment":
        inputs = {b: torch.from_numpy(segment_pool(video.inputs[b], num_segments))[None].to(device)
                  for b in model.backbones}
        seg_scores = model(inputs).scores[0].cpu().numpy().astype(np.float64)
        starts, ends = segment_ranges(num_snippets, num_segments)
        total, count = np.zeros(num_snippets), np.zeros(num_snippets)
        for score, start, end in zip(seg_scores, starts, ends):
            total[start:end] += score
            count[start:end] += 1
        return (total / count).astype(np.float32)
    if cfg.unit != "snippet":
        raise ValueError(f"unknown evaluation unit {cfg.unit!r}; use 'snippet' or 'segment'")
    window = cfg.max_window or num_snippets
    scores = []
    for start in range(0, num_snippets, window):
        inputs = {b: torch.from_numpy(video.inputs[b][start : start + window])[None].to(device)
                  for b in model.backbones}
        scores.append(model(inputs).scores[0].cpu().numpy())
    return np.concatenate(scores).astype(np.float32)


def snippet_to_frames(snippet_scores: np.ndarray, meta: VideoMeta) -> np.ndarray:
    """Repeat each snippet score over its frames, (S,) -> (covered_frames,)."""
    frames = np.arange(meta.covered_frames)
    return snippet_scores[np.minimum(frames // meta.snippet_stride, len(snippet_scores) - 1)]


def score_videos(model: AnomalyDetector, videos: Sequence[SnippetVideo], annotations: Mapping[str, list[Interval]],
                 cfg: EvaluateConfig, num_segments: int, device: torch.device) -> list[VideoScores]:
    """Score every video and align it with its frame labels.

    Anomalous videos must have annotations; normal videos without an entry are all-normal.
    """
    results = []
    for video in videos:
        meta = video.meta
        if meta.label == 1 and meta.video_id not in annotations:
            raise AnnotationError(f"no frame annotation for anomalous test video {meta.video_id!r}")
        snippet_scores = score_video(model, video, cfg, num_segments, device)
        results.append(VideoScores(
            meta=meta,
            snippet_scores=snippet_scores,
            frame_scores=snippet_to_frames(snippet_scores, meta),
            frame_labels=frame_labels(annotations.get(meta.video_id, []), meta.covered_frames),
        ))
    return results


def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    # Imported here: scikit-learn (with SciPy) costs about a second at start-up, and the
    # training commands, which import this module, only need it with a validation split.
    from sklearn.metrics import average_precision_score, roc_auc_score

    if labels.min() == labels.max():
        return {"auc": None, "ap": None}
    return {"auc": float(roc_auc_score(labels, scores)), "ap": float(average_precision_score(labels, scores))}


def frame_metrics(results: Sequence[VideoScores]) -> dict[str, Any]:
    """AUC and AP over all frames concatenated, per-class AUC, and counts."""
    labels = np.concatenate([r.frame_labels for r in results])
    scores = np.concatenate([r.frame_scores for r in results])
    by_class: dict[str, list[VideoScores]] = defaultdict(list)
    for r in results:
        if r.meta.label == 1:
            by_class[r.meta.class_name].append(r)
    per_class = {}
    for name, items in sorted(by_class.items()):
        per_class[name] = _metrics(np.concatenate([r.frame_labels for r in items]),
                                   np.concatenate([r.frame_scores for r in items]))["auc"]
    return {
        **_metrics(labels, scores),
        "per_class_auc": per_class,
        "num_videos": len(results),
        "num_anomalous_videos": sum(r.meta.label == 1 for r in results),
        "num_frames": int(labels.size),
        "num_anomalous_frames": int(labels.sum()),
    }
