"""Stage 1 (teacher, MIL ranking) and stage 2 (student, bi-level distillation) training loops."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import DakdConfig, OptimConfig
from .errors import DakdError
from .features import BagSet
from .losses import FeatureProjector, can_contrast, distillation_loss, mil_ranking_loss
from .models import AnomalyDetector
from .runtime import autocast, matmul_dtype, seed_everything

log = logging.getLogger("dakd")


def batches_per_pass(labels: torch.Tensor, normal_per_batch: int, anomalous_per_batch: int) -> int:
    """Balanced batches that show the larger class once (each class capped at its size)."""
    counts = [int((labels == c).sum()) for c in (0, 1)]
    if min(counts) == 0:
        raise ValueError("MIL training needs both normal and anomalous training videos")
    sizes = [min(normal_per_batch, counts[0]), min(anomalous_per_batch, counts[1])]
    return max(-(-n // s) for n, s in zip(counts, sizes))


def balanced_batches(labels: torch.Tensor, normal_per_batch: int, anomalous_per_batch: int,
                     generator: torch.Generator, num_batches: int | None = None) -> Iterator[torch.Tensor]:
    """One epoch of batches, each ``normal_per_batch`` normal + ``anomalous_per_batch`` anomalous bags.

    The epoch ends when the larger class has been seen once (:func:`batches_per_pass`), or
    after ``num_batches`` batches when given; each class is drawn from fresh permutations
    whenever it runs out, so every batch stays balanced.
    """
    pools = [torch.nonzero(labels == c).squeeze(1) for c in (0, 1)]
    one_pass = batches_per_pass(labels, normal_per_batch, anomalous_per_batch)
    sizes = [min(normal_per_batch, len(pools[0])), min(anomalous_per_batch, len(pools[1]))]

    def stream(pool: torch.Tensor) -> Iterator[int]:
        while True:
            yield from pool[torch.randperm(len(pool), generator=generator)].tolist()

    streams = [stream(p) for p in pools]
    for _ in range(one_pass if num_batches is None else num_batches):
        yield torch.tensor([next(streams[c]) for c in (0, 1) for _ in range(sizes[c])])


def batches_per_epoch(labels: torch.Tensor, optim: OptimConfig) -> int:
    """One pass over the larger class, or more where ``optim.min_steps`` asks for more steps
    than ``epochs`` passes give (a training set that one batch holds: docs/readings.md)."""
    one_pass = batches_per_pass(labels, optim.normal_per_batch, optim.anomalous_per_batch)
    return max(one_pass, -(-optim.min_steps // optim.epochs))


def make_optimizer(modules: list[Any], optim: OptimConfig) -> torch.optim.Adagrad:
    """Adagrad over the detector's groups (temporal vs other) plus any extra modules at ``lr_other``.

    The fused kernel updates every parameter in one pass, faster on the CPU than the default
    for-each update (BENCHMARKS.md).
    """
    detector, *extra = modules
    groups = detector.parameter_groups(optim.lr_temporal, optim.lr_other)
    groups[1]["params"] += [p for m in extra for p in m.parameters()]
    return torch.optim.Adagrad(groups, weight_decay=optim.weight_decay, fused=True)


@torch.no_grad()
def predict_bags(model: AnomalyDetector, bags: BagSet, device: torch.device,
                 batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode scores (N, n) and hidden states (N, n, d) for every bag, on ``device``."""
    model.eval()
    scores, hidden = [], []
    for start in range(0, len(bags), batch_size):
        out = model(bags.inputs(torch.arange(start, min(start + batch_size, len(bags))), device))
        scores.append(out.scores)
        hidden.append(out.hidden)
    return torch.cat(scores), torch.cat(hidden)


Validator = Callable[[AnomalyDetector], float]


class BestEpoch:
    """Keeps the weights of the epoch with the highest validation score (when a validator is given)."""

    def __init__(self, validator: Validator | None, every: int) -> None:
        self.validator, self.every = validator, max(1, every)
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None

    def update(self, model: AnomalyDetector, epoch: int, record: dict[str, float]) -> None:
        if self.validator is None or epoch % self.every:
            return
        score = self.validator(model)
        record["validation"] = score
        model.train()
        if self.best is None or score > self.best[0]:
            self.best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})

    def finish(self, model: AnomalyDetector, num_epochs: int) -> dict[str, Any]:
        """Load the best weights; describe the selection for the checkpoint."""
        if self.best is None:
            return {"selection": "last_epoch", "epoch": num_epochs}
        score, epoch, state = self.best
        model.load_state_dict(state)
        return {"selection": "best_validation_epoch", "epoch": epoch, "validation": score}


LossStep = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def fit(stage: str, model: AnomalyDetector, modules: list[nn.Module], optim: OptimConfig, labels: torch.Tensor,
        step: LossStep, generator: torch.Generator, device: torch.device, best: BestEpoch,
        progress: bool) -> list[dict[str, float]]:
    """The epoch loop both stages share: balanced batches of video indices, ``step(index)`` ->
    losses (``loss`` is minimised, every entry is logged), Adagrad over ``modules``, and
    validation bookkeeping. Returns the per-epoch mean of each entry."""
    optimizer = make_optimizer(modules, optim)
    per_epoch = batches_per_epoch(labels, optim)
    log.info("%s: %d epochs of %d batches (%d optimizer steps)", stage, optim.epochs, per_epoch,
             optim.epochs * per_epoch)
    if per_epoch == 1 and optim.min_steps == 0:
        log.warning("%s: the %d training bags fit one batch, so %d epochs are only %d optimizer steps; "
                    "set %s.optim.min_steps (docs/readings.md, 'Training length')", stage, len(labels),
                    optim.epochs, optim.epochs, stage)
    history = []
    for epoch in (bar := tqdm(range(optim.epochs), desc=stage, disable=not progress)):
        for module in modules:
            module.train()
        parts: dict[str, list[float]] = {}
        batches = balanced_batches(labels, optim.normal_per_batch, optim.anomalous_per_batch, generator, per_epoch)
        for number, index in enumerate(batches, 1):
            losses = step(index.to(device))
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            optimizer.step()
            for key, value in losses.items():
                parts.setdefault(key, []).append(value.item())  # ``loss`` and logged diagnostics
            _check_finite(stage, epoch + 1, number, {k: v[-1] for k, v in parts.items()})
        history.append({"epoch": epoch + 1, **{k: float(np.mean(v)) for k, v in parts.items()}})
        best.update(model, epoch + 1, history[-1])
        bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
    return history


class NonFiniteLossError(DakdError):
    """Training produced a NaN or infinite loss."""


def _check_finite(stage: str, epoch: int, step: int, values: dict[str, float]) -> None:
    """Stop at the first step whose loss (or a logged part of it) is NaN or infinite: the
    weights it updated are garbage, and every later epoch would train on them."""
    bad = {k: v for k, v in values.items() if not np.isfinite(v)}
    if bad:
        values = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise NonFiniteLossError(f"{stage}: non-finite loss at epoch {epoch}, step {step} ({values}); "
                                 "check the features for extreme values and the learning rates")


def train_teacher(cfg: DakdConfig, bags: BagSet, device: torch.device, progress: bool = True,
                  validator: Validator | None = None,
                  ) -> tuple[AnomalyDetector, list[dict[str, float]], dict[str, Any]]:
    """Stage 1: MIL ranking on multi-backbone bags.

    Returns the model after the last epoch, or after the best validation epoch when a
    ``validator`` (model -> score, higher is better) is given, its history, and which
    epoch was kept (the ``selection`` record).
    """
    generator = seed_everything(cfg.seed)
    tcfg = cfg.teacher
    low = matmul_dtype(tcfg.optim.precision, device)
    dims = {b: bags.segments[b].shape[-1] for b in tcfg.backbones}
    model = AnomalyDetector(dims, tcfg.model)
    model.fit_inputs(bags.segments)
    model.to(device)
    labels_cpu = bags.labels
    bags = _on_device(bags, device, low)

    def step(index: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(device, low):
            scores = model(bags.inputs(index)).scores.float()
        labels = bags.labels[index]
        return {"loss": mil_ranking_loss(scores[labels == 1], scores[labels == 0], tcfg.mil.lambda_smooth,
                                         tcfg.mil.lambda_sparse, tcfg.mil.reduction)}

    best = BestEpoch(validator, cfg.validation.every)
    history = fit("teacher", model, [model], tcfg.optim, labels_cpu, step, generator, device, best, progress)
    selection = best.finish(model, tcfg.optim.epochs)
    return model.eval(), history, selection


# student.distill.anchors: the DistillTargets field thresholded at delta
ANCHOR_SOURCES = ("teacher_scores", "pseudo_labels")


@dataclasses.dataclass
class DistillTargets:
    """What the frozen teacher provides for every training bag, aligned with the student's bags."""

    pseudo_labels: torch.Tensor   # (N, n) refined soft labels
    teacher_scores: torch.Tensor  # (N, n) raw teacher predictions, thresholded at delta
    teacher_hidden: torch.Tensor  # (N, n, d) teacher temporal-network outputs


def train_student(cfg: DakdConfig, bags: BagSet, targets: DistillTargets, device: torch.device,
                  progress: bool = True, validator: Validator | None = None,
                  ) -> tuple[AnomalyDetector, dict[str, Any], list[dict[str, float]], dict[str, Any]]:
    """Stage 2: distil the teacher into a single-backbone student.

    Returns the student (last or best validation epoch, as for the teacher), the state of
    the two InfoNCE projection heads, the history and the selection record.
    """
    generator = seed_everything(cfg.seed)
    scfg, dcfg = cfg.student, cfg.student.distill
    low = matmul_dtype(scfg.optim.precision, device)
    model = AnomalyDetector({scfg.backbone: bags.segments[scfg.backbone].shape[-1]}, scfg.model)
    model.fit_inputs(bags.segments)
    model.to(device)
    width_t = targets.teacher_hidden.shape[-1]
    g_teacher = FeatureProjector(width_t, dcfg.projection_hidden, dcfg.projection_dim).to(device)
    g_student = FeatureProjector(model.hidden_width, dcfg.projection_hidden, dcfg.projection_dim).to(device)
    labels_cpu = bags.labels
    bags = _on_device(bags, device, low)
    targets = DistillTargets(targets.pseudo_labels.to(device), targets.teacher_scores.to(device),
                             targets.teacher_hidden.to(device, low))
    split_by = getattr(targets, dcfg.anchors)
    # normal_video_anchors: normal -> a normal video's segments are never anomalous anchors
    anomalous_videos_only = dcfg.normal_video_anchors == "normal"

    def step(index: torch.Tensor) -> dict[str, torch.Tensor]:
        anomalous = split_by[index] >= dcfg.delta                                   # (B, n)
        if anomalous_videos_only:
            anomalous &= (bags.labels[index] == 1)[:, None]
        anomalous = anomalous.flatten()
        # A batch without both kinds of anchor has no L_nce: the heads stay out of the graph,
        # so Adagrad leaves them alone instead of decaying them on zero gradients (which
        # drives their weights into denormals and makes every later matmul with them slow).
        contrast = dcfg.use_nce and can_contrast(anomalous)
        z_teacher = z_student = None
        with autocast(device, low):
            out = model(bags.inputs(index))
            if contrast:
                z_teacher = g_teacher(targets.teacher_hidden[index]).flatten(0, 1).float()
                z_student = g_student(out.hidden).flatten(0, 1).float()
        losses = distillation_loss(
            out.scores.float(), targets.pseudo_labels[index], z_teacher=z_teacher, z_student=z_student,
            anomalous=anomalous, alpha=dcfg.alpha, tau=dcfg.tau, use_bce=dcfg.use_bce, use_nce=contrast,
        )
        # nce_active: 1 for a batch whose L_nce term took part in the loss (its epoch mean is
        # the fraction of batches where it did; zero means "w/o L_nce" in all but name).
        return {**losses, "anchor_fraction": anomalous.float().mean(),
                "nce_active": torch.tensor(float(contrast))}

    best = BestEpoch(validator, cfg.validation.every)
    history = fit("student", model, [model, g_teacher, g_student], scfg.optim, labels_cpu, step, generator,
                  device, best, progress)
    selection = best.finish(model, scfg.optim.epochs)
    heads = {"g_teacher": g_teacher.state_dict(), "g_student": g_student.state_dict()}
    return model.eval(), heads, history, selection


def _on_device(bags: BagSet, device: torch.device, dtype: torch.dtype | None = None) -> BagSet:
    """``bags`` on ``device``; features stored in ``dtype`` when given (casting them once is
    what autocast would do to them before the first projection on every step)."""
    return BagSet(metas=bags.metas, labels=bags.labels.to(device),
                  segments={k: v.to(device, dtype) for k, v in bags.segments.items()})
