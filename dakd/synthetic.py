"""Synthetic feature shards with planted anomalies, for tests, benchmarks and smoke runs.

Every snippet feature is Gaussian noise plus a per-video scene offset. In anomalous
videos one contiguous run of snippets also carries a fixed per-backbone anomaly
direction; its frames are the test annotation. Nothing here is used on real data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .annotations import write_annotations
from .features import BackboneInfo, VideoFeatures, VideoMeta, write_shard
from .features.store import shard_file_name
from .provenance import provenance

ANOMALY_CLASSES = ("Abuse", "Arrest", "Fighting")


@dataclass
class SyntheticSpec:
    train_normal: int = 40
    train_anomalous: int = 40
    test_normal: int = 12
    test_anomalous: int = 12
    val_normal: int = 0
    val_anomalous: int = 0
    backbones: dict[str, int] = field(default_factory=lambda: {"i3d": 64, "s3d": 64, "clip": 32})
    crops: int = 1
    min_snippets: int = 40
    max_snippets: int = 120
    snippet_len: int = 16
    fps: float = 30.0
    signal: float = 1.5
    scene_scale: float = 0.5
    shard_size: int = 64
    shuffle_train_labels: bool = False
    seed: int = 0


def make_synthetic_dataset(out_dir: str | os.PathLike, spec: SyntheticSpec) -> tuple[list[Path], Path]:
    """Write shards ``out_dir/features/shard-NNNNN.parquet`` and ``out_dir/annotations.parquet``.

    Returns the shard paths and the annotation path.
    """
    rng = np.random.default_rng(spec.seed)
    out_dir = Path(out_dir)
    directions = {}
    for name, dim in spec.backbones.items():
        u = rng.standard_normal(dim)
        directions[name] = (u / np.linalg.norm(u)).astype(np.float32)

    plan = ([("train", 0)] * spec.train_normal + [("train", 1)] * spec.train_anomalous
            + [("test", 0)] * spec.test_normal + [("test", 1)] * spec.test_anomalous
            + [("val", 0)] * spec.val_normal + [("val", 1)] * spec.val_anomalous)
    train_labels = _train_labels(plan, spec, rng)
    videos, intervals = [], {}
    train_iter = iter(train_labels)
    for index, (split, truth) in enumerate(plan):
        given = train_iter if split == "train" else None
        videos.append(_video(index, split, truth, given, spec, rng, directions, intervals))

    infos = [BackboneInfo(name=n, dim=d, crops=spec.crops, weights="synthetic",
                          preprocessing={"generator": "dakd.synthetic", "signal": spec.signal})
             for n, d in spec.backbones.items()]
    prov = provenance("synthetic-features", vars(spec))
    shards = []
    for number, start in enumerate(range(0, len(videos), spec.shard_size)):
        path = out_dir / "features" / shard_file_name(number)
        write_shard(path, videos[start : start + spec.shard_size], infos, prov)
        shards.append(path)
    annotation_path = out_dir / "annotations.parquet"
    write_annotations(annotation_path, intervals)
    return shards, annotation_path


def _train_labels(plan: list[tuple[str, int]], spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """The labels the training videos are given: their truth, or with ``shuffle_train_labels``
    a balanced shuffle (each true class split evenly between the two given labels, so the
    labels carry no information about the planted anomalies, not even by chance)."""
    train_labels = np.array([label for split, label in plan if split == "train"])
    if spec.shuffle_train_labels:
        shuffled = np.empty_like(train_labels)
        for truth in (0, 1):
            members = np.flatnonzero(train_labels == truth)
            shuffled[members] = rng.permutation(np.arange(len(members)) % 2)
        train_labels = shuffled
    return train_labels


def _video(index: int, split: str, truth: int, train_labels: Iterator | None, spec: SyntheticSpec,
           rng: np.random.Generator, directions: dict[str, np.ndarray],
           intervals: dict[str, list[tuple[int, int]]]) -> VideoFeatures:
    """Video ``index``: noise plus a scene offset, and for an anomalous one a planted run of
    snippets (its frames added to ``intervals`` outside training). A training video takes the
    next of ``train_labels`` as its label."""
    num_snippets = int(rng.integers(spec.min_snippets, spec.max_snippets + 1))
    last = int(rng.integers(1, spec.snippet_len + 1))
    num_frames = (num_snippets - 1) * spec.snippet_len + last
    scene = {n: rng.standard_normal(d).astype(np.float32) * spec.scene_scale for n, d in spec.backbones.items()}
    features = {n: rng.standard_normal((num_snippets, spec.crops, d)).astype(np.float32) + scene[n]
                for n, d in spec.backbones.items()}
    class_name = "Normal"
    if truth == 1:
        length = int(rng.integers(max(2, num_snippets // 10), max(3, num_snippets // 3)))
        start = int(rng.integers(0, num_snippets - length))
        for n in spec.backbones:
            features[n][start : start + length] += spec.signal * directions[n]
        class_name = ANOMALY_CLASSES[index % len(ANOMALY_CLASSES)]
        if split != "train":
            end = min((start + length) * spec.snippet_len, num_frames)
            intervals[f"video{index:05d}"] = [(start * spec.snippet_len, end)]
    label = int(next(train_labels)) if train_labels is not None else truth
    meta = VideoMeta(
        video_id=f"video{index:05d}", split=split, label=label,
        class_name=class_name if label == truth else ("Normal" if label == 0 else ANOMALY_CLASSES[0]),
        num_frames=num_frames, fps=spec.fps, snippet_len=spec.snippet_len, snippet_stride=spec.snippet_len,
        num_snippets=num_snippets, last_snippet_frames=last,
    )
    return VideoFeatures(meta=meta, features=features)
