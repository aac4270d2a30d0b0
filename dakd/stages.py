"""The learning stages as file-to-file functions; the CLI and the Snakemake rules call these."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .annotations import read_annotation_table
from .atomic import write_json
from .checkpoints import load_detector, save_checkpoint
from .config import DakdConfig
from .errors import DakdError
from .evaluate import (
    VideoScores,
    frame_metrics,
    match_annotations,
    score_video,
    score_videos,
    snippet_to_frames,
    write_scores,
)
from .features import iter_snippet_videos, list_shards, load_bags, load_snippet_videos, read_metadata
from .features.record import extraction_record
from .models import AnomalyDetector
from .operating_points import behaviour_on, model_points, operating_points
from .provenance import provenance
from .pseudo_labels import read_pseudo_labels, refine, write_pseudo_labels
from .runtime import resolve_device
from .training import DistillTargets, Validator, predict_bags, train_student, train_teacher

PathLike = str | os.PathLike


def expand_shards(paths: Sequence[PathLike]) -> list[Path]:
    """Shard files from a mix of files and directories (``*.parquet`` inside, sorted)."""
    shards: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = list_shards(path)
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


def model_operating_points(cfg: DakdConfig, shards: Sequence[Path], model: AnomalyDetector, device: torch.device,
                           annotations: PathLike | None) -> dict[str, Any]:
    """The model's operating points (``dakd.operating_points``), never from the test split.

    The training videos are scored as at test time (``evaluate`` settings): the frames of
    the normal ones give the false-alarm thresholds; best F1 is taken on the validation
    split's frame labels when ``validation.split`` is set, else on the training videos'
    labels with each video scored by its highest snippet score.
    """
    normal, video_scores, video_labels = [], [], []
    for video in iter_snippet_videos(shards, model.backbones, "train", cfg.features.crop):
        scores = score_video(model, video, cfg.evaluate, cfg.features.segments, device)
        video_scores.append(float(scores.max()))
        video_labels.append(video.meta.label)
        if video.meta.label == 0:
            normal.append(snippet_to_frames(scores, video.meta))
    labels, scores, split = np.array(video_labels), np.array(video_scores), "train"
    source = "video-level labels of the training videos, each scored by its highest snippet score"
    if cfg.validation.split is not None and annotations is not None:
        videos = load_snippet_videos(shards, model.backbones, cfg.validation.split, cfg.features.crop)
        results = score_videos(model, videos, read_annotation_table(annotations), cfg.evaluate,
                               cfg.features.segments, device, str(annotations))
        frame_labels = np.concatenate([r.frame_labels for r in results])
        if frame_labels.any():
            labels, scores = frame_labels, np.concatenate([r.frame_scores for r in results])
            split, source = cfg.validation.split, f"frame labels of the validation split ({len(results)} videos)"
    prov = provenance("operating-points", {"features": dataclasses.asdict(cfg.features),
                                           "evaluate": dataclasses.asdict(cfg.evaluate)},
                      shards=[str(p) for p in shards], annotations=None if annotations is None else str(annotations))
    return operating_points(np.concatenate(normal), labels, scores, source, split, prov)


def run_operating_points(features: Sequence[PathLike], model_path: PathLike, annotations: PathLike | None,
                         out: PathLike, device_name: str = "auto") -> dict[str, Any]:
    """Compute a checkpoint's operating points with the feature, evaluation and validation
    settings it was trained with, and write them to ``out`` (JSON)."""
    shards = expand_shards(features)
    device = resolve_device(device_name)
    model, payload = load_detector(model_path, device)
    try:
        cfg = DakdConfig.from_dict(payload["config"])
    except DakdError as exc:
        raise DakdError(f"{model_path}: its recorded config no longer loads ({exc})") from None
    points = model_operating_points(cfg, shards, model, device, annotations)
    points["provenance"]["inputs"]["checkpoint"] = str(model_path)
    write_json(out, points)
    return points


def make_validator(cfg: DakdConfig, shards: Sequence[Path], backbones: Sequence[str],
                   annotations: PathLike | None, device: torch.device) -> Validator | None:
    """Scores a model on ``validation.split`` with ``evaluate.metric``; None when no split is set."""
    split = cfg.validation.split
    if split is None:
        return None
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
    save_checkpoint(out, model, "teacher", cfg.to_dict(), cfg.teacher.model, history, prov, selection,
                    extraction=extraction_record(shards, model.backbones),
                    operating_points=model_operating_points(cfg, shards, model, device, annotations))


def run_pseudo_labels(cfg: DakdConfig, features: Sequence[PathLike], teacher: PathLike, out: PathLike) -> None:
    shards = expand_shards(features)
    device = resolve_device(cfg.device)
    model, payload = load_detector(teacher, device)
    bags = load_bags(shards, model.backbones, "train", cfg.features.segments, cfg.features.crop)
    # One row per video: with per-crop bags, the mean of its crops' scores (as at test time).
    scores = bags.per_video(predict_bags(model, bags, device)[0].cpu().numpy())
    videos = bags.videos
    pseudo = np.stack([refine(s, v.label, cfg.pseudo_labels) for s, v in zip(scores, videos)])
    prov = provenance("pseudo-labels", cfg.to_dict(), teacher=str(teacher),
                      teacher_config_digest=payload["provenance"]["config_digest"])
    write_pseudo_labels(out, [v.video_id for v in videos], [v.label for v in videos], scores, pseudo, prov)


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
                    extra_state=heads, diagnostics=diagnostics, extraction=extraction_record(shards, model.backbones),
                    operating_points=model_operating_points(cfg, shards, model, device, annotations))
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
        "operating_points": _operating_points_on(model_path, payload, results),
        "provenance": provenance("evaluate", evaluation, checkpoint=str(model_path),
                                 checkpoint_provenance=payload["provenance"], annotations=str(annotations),
                                 features=feature_sources(shards)),
    }
    write_json(out, report)
    if scores_out is not None:
        write_scores(scores_out, results)
    return report


def _operating_points_on(model_path: PathLike, payload: dict[str, Any], results: Sequence[VideoScores],
                         ) -> dict[str, Any] | None:
    """The model's operating points (chosen on training or validation data) and how each does on
    the evaluated frames; None for a model without them."""
    points, where = model_points(model_path, payload)
    if points is None:
        return None
    behaviour = behaviour_on(points, np.concatenate([r.frame_labels for r in results]),
                               np.concatenate([r.frame_scores for r in results]))
    return {"from": where, "chosen_on": {"f1": points["f1"]["split"], "fpr": "train (normal videos)"},
            "points": behaviour}

