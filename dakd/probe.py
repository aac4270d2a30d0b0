"""The linear probe: how far the features alone go, with no MIL and no distillation.

Every training snippet is labelled with its video's label, the feature dimensions are
standardised on the training snippets, and a logistic regression (scikit-learn, L2, C from
``probe.C``) learns to tell the two apart; test videos are scored snippet by snippet and
evaluated exactly as the models are (:func:`dakd.evaluate.align_scores`). When a trained
detector does not beat this, the training recipe, not the features, is what fails.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .annotations import read_annotation_table
from .atomic import write_json
from .config import DakdConfig, ProbeConfig
from .errors import DakdError
from .evaluate import VideoScores, align_scores, frame_metrics, write_scores
from .features import SnippetVideo, load_snippet_videos
from .provenance import provenance

PathLike = str | os.PathLike


def probe_sets(cfg: DakdConfig) -> list[list[str]]:
    """The backbone sets probed: ``probe.backbones``, or each teacher backbone alone and then all of them."""
    if cfg.probe.backbones is not None:
        return [list(s) for s in cfg.probe.backbones]
    alone = [[b] for b in cfg.teacher.backbones]
    return alone + ([list(cfg.teacher.backbones)] if len(alone) > 1 else [])


def set_name(backbones: Sequence[str]) -> str:
    return "+".join(backbones)


def _snippets(video: SnippetVideo, backbones: Sequence[str]) -> np.ndarray:
    """(S * crops, sum of d_t): the video's snippets (every crop a row of its own, with
    ``features.crop: per_crop_bags``), backbones side by side."""
    parts = [video.inputs[b] for b in backbones]
    return np.concatenate([p.reshape(-1, p.shape[-1]) for p in parts], axis=-1)


def fit_probe(videos: Sequence[SnippetVideo], backbones: Sequence[str], cfg: ProbeConfig, seed: int) -> Any:
    """A fitted scikit-learn pipeline on the snippets of ``videos`` (each labelled with its video's label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([_snippets(v, backbones) for v in videos])
    y = np.concatenate([np.full(len(_snippets(v, backbones)), v.meta.label) for v in videos])
    if len(set(y.tolist())) < 2:
        raise DakdError("the linear probe needs normal and anomalous training videos")
    steps = [StandardScaler()] if cfg.standardize else []
    return make_pipeline(*steps, LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, random_state=seed)).fit(x, y)


def probe_scores(probe: Any, video: SnippetVideo, backbones: Sequence[str]) -> np.ndarray:
    """(S,) snippet scores: the probability of 'anomalous', averaged over a video's crops when it has several."""
    scores = probe.predict_proba(_snippets(video, backbones))[:, 1]
    return scores.reshape(video.meta.num_snippets, -1).mean(axis=1).astype(np.float32)


def run_probe(cfg: DakdConfig, shards: Sequence[PathLike], annotations: PathLike, out: PathLike,
              split: str = "test", scores_out: PathLike | None = None) -> dict[str, Any]:
    """Fit the probe of every backbone set on the training videos, evaluate each on ``split`` and
    write one JSON: per set its metrics (as ``dakd evaluate`` reports them); with ``scores_out``,
    the scores of the last set (every backbone, by default) as a scores Parquet."""
    sets = probe_sets(cfg)
    backbones = list(dict.fromkeys(b for s in sets for b in s))
    train = load_snippet_videos(shards, backbones, "train", cfg.features.crop)
    test = load_snippet_videos(shards, backbones, split, cfg.features.crop)
    if not test:
        raise DakdError(f"no {split!r} videos in {len(shards)} shard(s)")
    table = read_annotation_table(annotations)
    probes: dict[str, Any] = {}
    results: list[VideoScores] = []
    for members in sets:
        probe = fit_probe(train, members, cfg.probe, cfg.seed)
        results = align_scores(test, lambda v: probe_scores(probe, v, members), table, str(annotations))
        metrics = frame_metrics(results)
        probes[set_name(members)] = {"backbones": members, **metrics, "value": metrics[cfg.evaluate.metric]}
    report = {"model": "probe", "split": split, "metric": cfg.evaluate.metric, "probes": probes,
              "train_videos": len(train),
              "protocol": "logistic regression on single snippets, each labelled with its video's label; test "
                          "snippet scores repeated over their frames, all videos concatenated",
              "provenance": provenance("probe", {"probe": dataclasses.asdict(cfg.probe),
                                                 "features": dataclasses.asdict(cfg.features),
                                                 "evaluate": dataclasses.asdict(cfg.evaluate), "seed": cfg.seed},
                                       shards=[str(p) for p in shards], annotations=str(annotations))}
    write_json(out, report)
    if scores_out is not None:
        write_scores(scores_out, results)
    return report
