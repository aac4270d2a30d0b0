"""Anomalous intervals: frames whose score reaches a threshold, merged across short gaps,
with intervals shorter than a minimum duration dropped."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..annotations import mask_intervals


def alert_intervals(frame_scores: np.ndarray, fps: float, threshold: float, min_gap_s: float = 0.0,
                    min_duration_s: float = 0.0, times: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Intervals of frames with ``score >= threshold``.

    Runs separated by fewer than ``min_gap_s`` seconds of lower scores are merged; merged
    intervals shorter than ``min_duration_s`` are dropped.

    Args:
        frame_scores: (F,) score of every frame.
        fps: frames per second: frame i is shown at i / fps when ``times`` is None.
        times: (F + 1,) or longer, when each frame is shown in seconds, then the end of the last
            (a variable-frame-rate video's presentation timestamps).
    Returns:
        One dict per interval: ``start_frame`` (first frame), ``end_frame`` (one past the
        last), ``start_s`` (when its first frame is shown), ``end_s`` (when its last frame
        ends), ``duration_s``, ``peak`` and ``mean`` score over its frames (the merged gaps
        included).
    """
    scores = np.asarray(frame_scores, dtype=np.float32)
    seconds = np.arange(len(scores) + 1) / fps if times is None else np.asarray(times, dtype=np.float64)
    merged: list[list[int]] = []
    for start, end in mask_intervals(scores >= np.float32(threshold)):
        if merged and seconds[start] - seconds[merged[-1][1]] < min_gap_s:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    out = []
    for start, end in merged:
        if seconds[end] - seconds[start] < min_duration_s:
            continue
        window = scores[start:end].astype(np.float64)
        out.append({"start_frame": start, "end_frame": end, "start_s": float(seconds[start]),
                    "end_s": float(seconds[end]), "duration_s": float(seconds[end] - seconds[start]),
                    "peak": float(window.max()), "mean": float(window.mean())})
    return out
