"""Operating points: the score thresholds a deployed detector alerts at.

Two kinds, both chosen on data the model may see, never on the test split:

- ``f1``: the threshold of best F1. On the validation split's frame labels when
  ``validation.split`` is configured (F1 over frames); otherwise on the training videos'
  video-level labels (F1 over videos, each scored by its highest snippet score: "does this
  video raise an alert"). Training scores are optimistic, so the validation split is the
  better source when there is one.
- ``fpr:<rate>``: the lowest threshold at which at most ``rate`` of the frames of the
  normal training videos score at or above it (1 % and 5 % by default), i.e. a target
  false-alarm rate measured on normal footage.

The record is plain data (it goes into checkpoints, loaded with ``weights_only=True``)::

    {"version": 1, "unit": "snippet scores repeated over their frames",
     "f1": {"threshold", "f1", "precision", "recall", "source", "split", "count"},
     "fpr": [{"target", "threshold", "measured", "normal_frames"}, ...],
     "provenance": {...}}

A score alerts when ``score >= threshold``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DakdError

VERSION = 1
FPR_TARGETS = (0.01, 0.05)
FILE_NAME = "operating_points.json"


class OperatingPointError(DakdError):
    """A threshold cannot be resolved or an operating-points file cannot be used."""


def best_f1(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The threshold of highest F1 when ``score >= threshold`` predicts label 1.

    Args:
        labels: (N,) 0/1, with at least one 1.
        scores: (N,) scores.
    Returns:
        ``threshold`` (one of the scores), ``f1``, ``precision``, ``recall``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(labels.sum())
    if positives == 0:
        raise OperatingPointError("best F1 needs at least one positive label")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # Candidates: the last index of each distinct score (every tie is on the same side).
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(sorted_scores) - 1]
    true_pos = np.cumsum(sorted_labels)[last]
    predicted = last + 1
    precision = true_pos / predicted
    recall = true_pos / positives
    f1 = np.where(true_pos > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    best = int(np.argmax(f1))
    return {"threshold": float(sorted_scores[last[best]]), "f1": float(f1[best]),
            "precision": float(precision[best]), "recall": float(recall[best])}


def fpr_threshold(normal_scores: np.ndarray, rate: float) -> dict[str, float]:
    """The lowest threshold with at most ``rate`` of ``normal_scores`` (N,) at or above it.

    Returns ``target``, ``threshold``, ``measured`` (the fraction at or above it) and
    ``normal_frames``. Ties are kept together: the measured rate may fall below the target.
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float32))[::-1]
    if scores.size == 0:
        raise OperatingPointError("a false-alarm threshold needs scores of normal frames")
    allowed = int(np.floor(rate * scores.size))
    if allowed >= scores.size:
        threshold = float(scores[-1])
    else:  # just above the (allowed + 1)-th highest score: at most `allowed` frames reach it
        threshold = float(np.nextafter(scores[allowed], np.float32(np.inf)))
    measured = float(np.count_nonzero(scores >= np.float32(threshold)) / scores.size)
    return {"target": rate, "threshold": threshold, "measured": measured, "normal_frames": int(scores.size)}


def operating_points(normal_frame_scores: np.ndarray, f1_labels: np.ndarray, f1_scores: np.ndarray,
                     f1_source: str, f1_split: str, provenance: dict[str, Any],
                     targets: Sequence[float] = FPR_TARGETS) -> dict[str, Any]:
    """The record described in the module docstring.

    Args:
        normal_frame_scores: (F,) frame scores of the normal training videos.
        f1_labels, f1_scores: (N,) what best F1 is chosen on (frames or videos).
        f1_source: how those were made, in words; ``f1_split`` the split they come from.
    """
    if f1_split == "test":
        raise OperatingPointError("operating points are never chosen on the test split")
    f1 = {**best_f1(f1_labels, f1_scores), "source": f1_source, "split": f1_split, "count": int(len(f1_labels))}
    return {"version": VERSION, "unit": "snippet scores repeated over their frames", "f1": f1,
            "fpr": [fpr_threshold(normal_frame_scores, rate) for rate in targets], "provenance": provenance}


def behaviour_on(points: dict[str, Any], labels: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    """How each operating point does on labelled frames it was not chosen on (an evaluation's
    test split): per point its name, threshold, false-alarm rate on the normal frames, and
    recall and precision on the anomalous ones. Reported, never used to choose.

    Args:
        labels: (F,) 0/1 frame labels; scores: (F,) frame scores.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float32)
    out = []
    for name in describe(points):
        threshold = resolve_threshold(name, points, "")[0]
        alert = scores >= np.float32(threshold)
        hits = int(np.count_nonzero(alert & labels))
        out.append({"name": name, "threshold": threshold,
                    "false_alarm_rate": float(alert[~labels].mean()) if (~labels).any() else None,
                    "recall": hits / int(labels.sum()) if labels.any() else None,
                    "precision": hits / int(alert.sum()) if alert.any() else None})
    return out


def describe(points: dict[str, Any]) -> list[str]:
    """The names ``--threshold`` accepts for ``points``: ``f1``, ``fpr:0.01``, ..."""
    return ["f1"] + [f"fpr:{p['target']:g}" for p in points.get("fpr", [])]


def resolve_threshold(spec: str | float | None, points: dict[str, Any] | None, where: str,
                      ) -> tuple[float, dict[str, Any]] | None:
    """(threshold, what it is) for ``--threshold``: a number, ``f1`` or ``fpr:<rate>``.

    ``spec`` None means ``f1`` when the model has operating points, and no threshold at all
    (None) when it has none. A named point the model lacks is an OperatingPointError naming
    ``where`` (the checkpoint) and the points it has.
    """
    if spec is None:
        if points is None:
            return None
        spec = "f1"
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec), {"kind": "number", "given": float(spec)}
    text = str(spec).strip()
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None:
        if not np.isfinite(value):
            raise OperatingPointError(f"--threshold {text}: not a finite number")
        return value, {"kind": "number", "given": value}
    if text != "f1" and not text.startswith("fpr:"):
        raise OperatingPointError(f"--threshold {text}: use a number, f1 or fpr:<rate> (e.g. fpr:0.01)")
    if points is None:
        raise OperatingPointError(f"--threshold {text}: {where} has no operating points (train it with this "
                                  f"dakd, or write {FILE_NAME} beside it with `dakd operating-points`); "
                                  f"give a number instead")
    if text == "f1":
        return float(points["f1"]["threshold"]), {"kind": "f1", **points["f1"]}
    try:
        rate = float(text.removeprefix("fpr:"))
    except ValueError:
        raise OperatingPointError(f"--threshold {text}: the rate after fpr: is not a number") from None
    for point in points.get("fpr", []):
        if np.isclose(point["target"], rate, rtol=0, atol=1e-12):
            return float(point["threshold"]), {"kind": "fpr", **point}
    raise OperatingPointError(f"--threshold {text}: {where} has operating points {', '.join(describe(points))}")


def check_points(points: Any, where: str) -> dict[str, Any]:
    """``points`` if it is an operating-points record of this version, else a one-line error."""
    if not isinstance(points, dict) or points.get("version") != VERSION:
        version = points.get("version") if isinstance(points, dict) else None
        raise OperatingPointError(f"{where}: operating points version {version} is not the supported {VERSION}")
    try:
        float(points["f1"]["threshold"])
        [float(p["threshold"]) + float(p["target"]) for p in points["fpr"]]
    except (KeyError, TypeError, ValueError):
        raise OperatingPointError(f"{where}: malformed operating points (needs f1.threshold and fpr targets)") from None
    return points


def sidecar_path(checkpoint: str | os.PathLike) -> Path:
    """``operating_points.json`` beside a checkpoint, named after it: ``student.operating_points.json``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.{FILE_NAME}")


def read_points(path: str | os.PathLike) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise OperatingPointError(f"{path}: cannot read operating points ({' '.join(str(exc).split())})") from None
    return check_points(data, str(path))


def model_points(checkpoint: str | os.PathLike, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """A model's operating points and where they came from: the checkpoint's own record, else
    ``<stem>.operating_points.json`` beside it, else (None, "")."""
    if payload.get("operating_points"):
        return check_points(payload["operating_points"], str(checkpoint)), str(checkpoint)
    beside = sidecar_path(checkpoint)
    if beside.is_file():
        return read_points(beside), str(beside)
    return None, ""
