"""Refining teacher segment scores into soft pseudo-labels for the student (Eq. 6)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.ndimage import uniform_filter1d

from .atomic import atomic_path
from .config import PseudoLabelConfig
from .errors import DakdError

# pseudo_labels.padding -> scipy's filter mode beyond a video's ends
PADDINGS = {"edge": "nearest", "zero": "constant"}
# pseudo_labels.divisor -> the factor from the mean over ``window`` taps to that divisor
DIVISORS: dict[str, Callable[[int], float]] = {"taps": lambda window: 1.0,
                                               "two_epsilon": lambda window: window / (window - 1)}


def moving_average(scores: np.ndarray, window: int, padding: str = "edge", divisor: str = "taps") -> np.ndarray:
    """Centred moving filter with ``window`` taps, (n,) -> (n,) float64.

    ``padding``: beyond the ends the first/last score repeats (``edge``) or is zero (``zero``).
    ``divisor``: the window's sum over the tap count, a mean (``taps``), or over
    2 epsilon = taps - 1, as Eq. 6 prints it (``two_epsilon``, an odd window >= 3).
    """
    if window < 1:
        raise ValueError(f"moving-average window must be >= 1, got {window}")
    if divisor == "two_epsilon" and (window < 3 or window % 2 == 0):
        raise ValueError(f"Eq. 6's 1 / (2 epsilon) needs an odd window >= 3 (2 epsilon + 1 taps), got {window}")
    mean = uniform_filter1d(scores.astype(np.float64), size=window, mode=PADDINGS[padding])
    return mean * DIVISORS[divisor](window)


def min_max(scores: np.ndarray, flat_threshold: float, eps: float = 1e-8) -> np.ndarray:
    """Rescale to [0, 1]. A flat sequence (max - min < eps) becomes all ones if its value is
    >= ``flat_threshold`` and all zeros otherwise, never a division by zero."""
    low, high = scores.min(), scores.max()
    if high - low < eps:
        return np.full_like(scores, 1.0 if low >= flat_threshold else 0.0)
    return (scores - low) / (high - low)


def refine(scores: np.ndarray, label: int, cfg: PseudoLabelConfig) -> np.ndarray:
    """Pseudo-labels of one training video from its teacher segment scores, (n,) -> (n,) float32.

    Normal videos (``label == 0``) get zeros: their segment labels are known.
    """
    if label == 0:
        return np.zeros(len(scores), dtype=np.float32)
    refined = scores.astype(np.float64)
    if cfg.moving_average:
        refined = moving_average(refined, cfg.window, cfg.padding, cfg.divisor)
    if cfg.min_max:
        refined = min_max(refined, cfg.flat_threshold)
    return np.clip(refined, 0.0, 1.0).astype(np.float32)


def write_pseudo_labels(path: str | os.PathLike, video_ids: Sequence[str], labels: Sequence[int],
                        teacher_scores: np.ndarray, pseudo: np.ndarray, provenance: dict[str, Any]) -> None:
    """Atomically write per-video teacher scores and pseudo-labels, both (N, n), to Parquet."""
    table = pa.table(
        {
            "video_id": pa.array(list(video_ids), pa.string()),
            "label": pa.array(list(labels), pa.int8()),
            "teacher_scores": pa.array(list(teacher_scores.astype(np.float32)), pa.list_(pa.float32())),
            "pseudo_labels": pa.array(list(pseudo.astype(np.float32)), pa.list_(pa.float32())),
        }
    )
    table = table.replace_schema_metadata({b"dakd": json.dumps({"provenance": provenance}, default=str)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_pseudo_labels(path: str | os.PathLike, video_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Teacher scores and pseudo-labels, (N, n) each, in the order of ``video_ids``."""
    if not os.path.isfile(path):
        raise DakdError(f"{path}: pseudo-label file not found")
    table = pq.read_table(path)
    rows = {vid: i for i, vid in enumerate(table.column("video_id").to_pylist())}
    missing = [v for v in video_ids if v not in rows]
    if missing:
        raise DakdError(f"{path}: no pseudo-labels for {len(missing)} training video(s), e.g. {missing[:3]}")
    order = [rows[v] for v in video_ids]
    scores = np.array(table.column("teacher_scores").to_pylist(), dtype=np.float32)[order]
    pseudo = np.array(table.column("pseudo_labels").to_pylist(), dtype=np.float32)[order]
    return scores, pseudo
