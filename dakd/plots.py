"""Figures of an evaluation: the frame-level ROC curve and per-video score timelines."""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from .io import atomic_path  # noqa: E402


def _frames(row: dict) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(row["frame_labels"], dtype=np.uint8)
    scores = np.asarray(row["snippet_scores"], dtype=np.float32)
    index = np.minimum(np.arange(len(labels)) // row["snippet_stride"], len(scores) - 1)
    return scores[index], labels


def plot_roc(scores_path: str | os.PathLike, result_path: str | os.PathLike, out: str | os.PathLike) -> None:
    """ROC curve over all test frames (the curve behind the reported AUC)."""
    rows = pq.read_table(scores_path).to_pylist()
    pairs = [_frames(r) for r in rows]
    scores = np.concatenate([s for s, _ in pairs])
    labels = np.concatenate([lab for _, lab in pairs])
    result = json.loads(open(result_path).read())
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if labels.min() != labels.max():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, lw=2, label=f"{result['model']} (AUC {result['auc']:.4f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title=f"frame-level ROC, {result['num_videos']} test videos")
    ax.legend(loc="lower right")
    _save(fig, out)


def plot_timelines(scores_path: str | os.PathLike, out: str | os.PathLike, max_videos: int = 12) -> None:
    """Anomaly score over frames for anomalous test videos (then normal ones), ground truth shaded."""
    rows = pq.read_table(scores_path).to_pylist()
    rows = sorted(rows, key=lambda r: (-r["label"], r["video_id"]))[:max_videos]
    cols = 3
    fig, axes = plt.subplots(-(-len(rows) // cols), cols, figsize=(4 * cols, 1.8 * -(-len(rows) // cols)),
                             squeeze=False)
    for ax, row in zip(axes.flat, rows):
        scores, labels = _frames(row)
        frames = np.arange(len(scores))
        ax.fill_between(frames, 0, labels, step="mid", color="tab:red", alpha=0.25, lw=0)
        ax.plot(frames, scores, color="tab:blue", lw=1.2)
        ax.set(ylim=(0, 1.02), title=f"{row['video_id']} ({row['class_name']})")
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.supxlabel("frame", fontsize=8)
    _save(fig, out)


def _save(fig: plt.Figure, out: str | os.PathLike) -> None:
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
