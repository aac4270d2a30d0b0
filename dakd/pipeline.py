"""The learning stages as file-to-file functions; the CLI and the Snakemake rules call these."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from .annotations import read_annotation_table
from .checkpoints import load_detector, save_checkpoint
from .config import DakdConfig
from .errors import DakdError
from .evaluate import VideoScores, frame_metrics, match_annotations, score_videos
from .features import load_bags, load_snippet_videos, read_metadata
from .io import atomic_path, write_json
from .provenance import provenance
from .pseudo_labels import read_pseudo_labels, refine, write_pseudo_labels
from .training import DistillTargets, Validator, predict_bags, resolve_device, train_student, train_teacher

PathLike = str | os.PathLike


def expand_shards(paths: Sequence[PathLike]) -> list[Path]:
    """Shard files from a mix of files and directories (``*.parquet`` inside, sorted)."""
    shards: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
            if not found:
                raise DakdError(f"{path}: directory holds no .parquet feature shards")
            shards.extend(found)
        elif path.is_file():
            shards.append(path)
        else:
            raise DakdError(f"{path}: feature shard or directory not found")
    if not shards:
        raise DakdError("no feature shards given")
    return shards


def feature_sources(shards: Sequence[Path]) -> dict[str, Any]:
    """Backbone weights and preprocessing as recorded in the first shard, for provenance."""
    infos, prov = read_metadata(shards[0])
    return {"backbones": {n: dataclasses.asdict(i) for n, i in infos.items()},
            "extractor_code_version": prov.get("code_version"), "num_shards": len(shards)}


def make_validator(cfg: DakdConfig, shards: Sequence[Path], backbones: Sequence[str],
                   annotations: PathLike | None, device: torch.device) -> Validator | None:
    """Scores a model on ``validation.split`` with ``evaluate.metric``; None when no split is set."""
    split = cfg.validation.split
    if split is None:
        return None
    if split == "test":
        raise DakdError("validation.split must not be the test split (no model selection on the test set)")
    if annotations is None:
        raise DakdError(f"validation.split is {split!r}: give --annotations with that split's frame labels")
    videos = load_snippet_videos(shards, backbones, split, cfg.features.crop)
    if not videos:
        raise DakdError(f"validation.split {split!r}: no such videos in {len(shards)} shard(s)")
    labels = read_annotation_table(annotations)
    match_annotations(videos, labels, str(annotations))  # before the first epoch, not after it

    def validate(model) -> float:
        results = score_videos(model, videos, labels, cfg.evaluate, cfg.features.segments, device, str(annotations))
        value = frame_metrics(results)[cfg.evaluate.metric]
        return float("-inf") if value is None else value

    return validate


def run_train_teacher(cfg: DakdConfig, features: Sequence[PathLike], out: PathLike, progress: bool = True,
                      annotations: PathLike | None = None) -> None:
    shards = expand_shards(features)
    device = resolve_device(cfg.device)
    bags = load_bags(shards, cfg.teacher.backbones, "train", cfg.features.segments, cfg.features.crop)
    validator = make_validator(cfg, shards, cfg.teacher.backbones, annotations, device)
    model, history, selection = train_teacher(cfg, bags, device, progress, validator)
    prov = provenance("train-teacher", cfg.to_dict(), features=feature_sources(shards), device=str(device),
                      train_videos=len(bags))
    save_checkpoint(out, model, "teacher", cfg.to_dict(), cfg.teacher.model, history, prov, selection)


def run_pseudo_labels(cfg: DakdConfig, features: Sequence[PathLike], teacher: PathLike, out: PathLike) -> None:
    shards = expand_shards(features)
    device = resolve_device(cfg.device)
    model, payload = load_detector(teacher, device)
    bags = load_bags(shards, model.backbones, "train", cfg.features.segments, cfg.features.crop)
    scores = predict_bags(model, bags, device)[0].cpu().numpy()
    pseudo = np.stack([refine(s, int(y), cfg.pseudo_labels) for s, y in zip(scores, bags.labels.tolist())])
    prov = provenance("pseudo-labels", cfg.to_dict(), teacher=str(teacher),
                      teacher_config_digest=payload["provenance"]["config_digest"])
    write_pseudo_labels(out, bags.video_ids, bags.labels.tolist(), scores, pseudo, prov)


def run_train_student(cfg: DakdConfig, features: Sequence[PathLike], teacher: PathLike, pseudo_labels: PathLike,
                      out: PathLike, progress: bool = True, annotations: PathLike | None = None) -> dict[str, float]:
    """Train the student; returns its distillation diagnostics (see :func:`distillation_diagnostics`)."""
    shards = expand_shards(features)
    device = resolve_device(cfg.device)
    teacher_model, _ = load_detector(teacher, device)
    backbones = list(dict.fromkeys([*teacher_model.backbones, cfg.student.backbone]))
    bags = load_bags(shards, backbones, "train", cfg.features.segments, cfg.features.crop)
    teacher_scores, pseudo = read_pseudo_labels(pseudo_labels, bags.video_ids)
    if pseudo.shape[1] != cfg.features.segments:
        raise DakdError(f"{pseudo_labels}: pseudo-labels have {pseudo.shape[1]} segments, "
                        f"config says {cfg.features.segments}")
    teacher_bags = dataclasses.replace(bags, segments={b: bags.segments[b] for b in teacher_model.backbones})
    teacher_hidden = predict_bags(teacher_model, teacher_bags, device)[1].cpu()
    del teacher_model
    targets = DistillTargets(torch.from_numpy(pseudo), torch.from_numpy(teacher_scores), teacher_hidden)
    student_bags = dataclasses.replace(bags, segments={cfg.student.backbone: bags.segments[cfg.student.backbone]})
    validator = make_validator(cfg, shards, [cfg.student.backbone], annotations, device)
    model, heads, history, selection = train_student(cfg, student_bags, targets, device, progress, validator)
    diagnostics = distillation_diagnostics(history)
    distill = cfg.student.distill
    if distill.use_nce and diagnostics["nce_active_fraction"] == 0:
        logging.getLogger("dakd").warning(
            "L_nce never contributed: no training segment had its %s >= delta=%s (InfoNCE needs both "
            "anomalous and normal anchors in a batch); lower student.distill.delta or set "
            "student.distill.anchors: pseudo_labels", distill.anchors, distill.delta)
    prov = provenance("train-student", cfg.to_dict(), features=feature_sources(shards), teacher=str(teacher),
                      pseudo_labels=str(pseudo_labels), device=str(device), train_videos=len(bags))
    save_checkpoint(out, model, "student", cfg.to_dict(), cfg.student.model, history, prov, selection,
                    extra_state=heads, diagnostics=diagnostics)
    return diagnostics


def distillation_diagnostics(history: Sequence[dict[str, float]]) -> dict[str, float]:
    """How much the InfoNCE term took part: the fraction of training batches where it was in
    the loss, and the mean fraction of segments that were anomalous anchors."""
    return {"nce_active_fraction": float(np.mean([h["nce_active"] for h in history])),
            "anchor_fraction": float(np.mean([h["anchor_fraction"] for h in history]))}


def run_evaluate(cfg: DakdConfig, features: Sequence[PathLike], annotations: PathLike, model_path: PathLike,
                 out: PathLike, split: str = "test", scores_out: PathLike | None = None) -> dict[str, Any]:
    """Score the ``split`` videos with a checkpoint and write the metrics JSON (and scores Parquet)."""
    shards = expand_shards(features)
    device = resolve_device(cfg.device)
    model, payload = load_detector(model_path, device)
    videos = load_snippet_videos(shards, model.backbones, split, cfg.features.crop)
    if not videos:
        raise DakdError(f"no {split!r} videos in {len(shards)} shard(s)")
    results = score_videos(model, videos, read_annotation_table(annotations), cfg.evaluate,
                           cfg.features.segments, device, str(annotations))
    metrics = frame_metrics(results)
    evaluation = {"device": cfg.device, "features": dataclasses.asdict(cfg.features),
                  "evaluate": dataclasses.asdict(cfg.evaluate)}
    report = {
        "model": payload["kind"],
        "checkpoint": str(model_path),
        "backbones": model.backbones,
        "split": split,
        # Nothing is selected on the test split: the checkpoint is the last training epoch,
        # or the best epoch on the configured validation split.
        "selection": payload["selection"]["selection"],
        "selected_epoch": payload["selection"]["epoch"],
        "epochs": payload["epochs"],
        **metrics,
        "metric": cfg.evaluate.metric,
        "value": metrics[cfg.evaluate.metric],
        "protocol": {
            "unit": cfg.evaluate.unit,
            "frames": "snippet scores repeated over their frames; all videos concatenated",
            "anomalous_video_auc": "AUC over the frames of anomalous test videos only (their normal frames "
                                   "against their anomalous frames): 'all' of them, and per class (UCF-Crime's "
                                   "per-class AUC); it leaves out every normal video",
        },
        # What made the model (the checkpoint's own record), then how it was evaluated.
        "training_config": payload["config"],
        "training_diagnostics": payload.get("diagnostics", {}),
        "evaluation_config": evaluation,
        "provenance": provenance("evaluate", evaluation, checkpoint=str(model_path),
                                 checkpoint_provenance=payload["provenance"], annotations=str(annotations),
                                 features=feature_sources(shards)),
    }
    write_json(out, report)
    if scores_out is not None:
        write_scores(scores_out, results)
    return report


def write_scores(path: PathLike, results: Sequence[VideoScores]) -> None:
    """Per-video snippet scores (for plots and error analysis), atomically."""
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
