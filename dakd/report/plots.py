"""Figures: an evaluation's frame-level ROC curve and per-video score timelines, and the
paper-style plots of a study (a sweep as a line with error bars, a table as bars)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..evaluate import read_scores  # noqa: E402

if TYPE_CHECKING:
    from ..reproduce import Cell, Study


def plot_roc(scores_path: str | os.PathLike, result_path: str | os.PathLike, out: str | os.PathLike) -> None:
    """ROC curve over all test frames (the curve behind the reported AUC)."""
    videos = read_scores(scores_path)
    scores = np.concatenate([v.frame_scores for v in videos])
    labels = np.concatenate([v.frame_labels for v in videos])
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
    rows = sorted(read_scores(scores_path), key=lambda v: (-v.label, v.video_id))[:max_videos]
    cols = 3
    fig, axes = plt.subplots(-(-len(rows) // cols), cols, figsize=(4 * cols, 1.8 * -(-len(rows) // cols)),
                             squeeze=False)
    for ax, row in zip(axes.flat, rows):
        scores, labels = row.frame_scores, row.frame_labels
        frames = np.arange(len(scores))
        ax.fill_between(frames, 0, labels, step="mid", color="tab:red", alpha=0.25, lw=0)
        ax.plot(frames, scores, color="tab:blue", lw=1.2)
        ax.set(ylim=(0, 1.02), title=f"{row.video_id} ({row.class_name})")
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.supxlabel("frame", fontsize=8)
    _save(fig, out)


def plot_study(study: Study, cells: Sequence[Cell], out: str | os.PathLike) -> None:
    """Mean ± std (%) of each model: against the swept value, or one bar per row."""
    metric = "/".join(sorted({c.metric.upper() for c in cells}))
    models = study.models
    if study.parameter is not None:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for model in models:
            mine = sorted((c for c in cells if c.model == model), key=lambda c: c.row.x)
            ax.errorbar([c.row.x for c in mine], [c.mean for c in mine],
                        yerr=[0.0 if math.isnan(c.std) else c.std for c in mine], marker="o", capsize=3, label=model)
        if len({c.row.x for c in cells}) > 2 and min(c.row.x for c in cells) > 0:
            xs = sorted({c.row.x for c in cells})
            if xs[-1] / xs[0] >= 50:
                ax.set_xscale("log")
        ax.set_xlabel(study.parameter)
    else:
        labels = [row.label for row in study.rows]
        fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(labels) + 1.2))
        height = 0.8 / len(models)
        for i, model in enumerate(models):
            by_row = {c.row.label: c for c in cells if c.model == model}
            ys = [j + i * height for j in range(len(labels))]
            means = [by_row[label].mean if label in by_row else np.nan for label in labels]
            errs = [0.0 if label not in by_row or math.isnan(by_row[label].std) else by_row[label].std
                    for label in labels]
            ax.barh(ys, means, height=height, xerr=errs, capsize=2, label=model)
        ax.set_yticks([j + height * (len(models) - 1) / 2 for j in range(len(labels))], labels, fontsize=8)
        ax.invert_yaxis()
        finite = [c.mean for c in cells]
        ax.set_xlim(max(0.0, min(finite) - 10), min(100.0, max(finite) + 5))
        ax.set_xlabel(f"{metric} (%)")
    if study.parameter is not None:
        ax.set_ylabel(f"{metric} (%)")
    ax.set_title(study.title, fontsize=9)
    ax.legend(fontsize=8)
    _save(fig, out)


def _save(fig: plt.Figure, out: str | os.PathLike) -> None:
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
