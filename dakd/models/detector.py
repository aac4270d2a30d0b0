"""The anomaly detector: per-backbone input scaling and projection MLPs, a temporal network,
a scoring head.

The teacher is a detector over several backbones, the student over one; both are built
from a :class:`ModelConfig` and the input dimension of each backbone read from the features.
With ``projection: none`` (Sultani's detector, the Table 4 baseline) there is neither
projection nor temporal network: the backbones' features, concatenated, go straight into
the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import ModelConfig
from .dropout import Dropout
from .temporal import build_temporal

# model.head -> the layers after the 32-unit layer of the scoring head
HEAD_LAYOUTS: dict[str, tuple[type[nn.Module], ...]] = {"relu": (nn.ReLU,), "sultani": ()}


class Standardize(nn.Module):
    """(B, n, d) -> (x - mean) / std per feature dimension, with the mean and std of the
    training segments (:meth:`fit`), kept as buffers so that a checkpoint carries them.
    Dimensions that never vary (a ReLU unit that is always 0) get std 1, not a division by zero."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, segments: torch.Tensor) -> None:
        """Statistics of (N, n, d) training segments, in float64 for long sums."""
        flat = segments.reshape(-1, segments.shape[-1]).double()
        std = flat.std(dim=0, unbiased=False)
        self.mean.copy_(flat.mean(dim=0))
        self.std.copy_(torch.where(std > 1e-6 * std.max().clamp_min(1e-12), std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


# model.input_scale -> the per-backbone module the features pass first
INPUT_SCALES: dict[str, type[nn.Module] | None] = {"raw": None, "standardize": Standardize}


def projection_mlp(in_dim: int, width: int) -> nn.Sequential:
    """d_t -> width -> width, ReLU after the first layer (paper Sec. 4.2)."""
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width))


class ScoringHead(nn.Module):
    """(B, n, d) -> (B, n) anomaly scores in [0, 1]: d -> 512 -> 32 -> 1 with a sigmoid.

    ``layout``: ``relu`` puts a ReLU after both hidden layers; ``sultani`` after the first
    only, as Sultani et al.'s paper and code do (their 32-unit layer is linear).
    """

    def __init__(self, width: int, dropout: float, layout: str = "relu") -> None:
        super().__init__()
        second = [layer() for layer in HEAD_LAYOUTS[layout]]
        self.net = nn.Sequential(
            nn.Linear(width, 512), nn.ReLU(), Dropout(dropout),
            nn.Linear(512, 32), *second, Dropout(dropout),
            nn.Linear(32, 1),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(h).squeeze(-1))


@dataclass
class DetectorOutput:
    scores: torch.Tensor   # (B, n) segment scores in [0, 1]
    hidden: torch.Tensor   # (B, n, d) temporal network output, used for feature distillation


class AnomalyDetector(nn.Module):
    """Scores every position of aligned backbone feature sequences.

    Args:
        input_dims: backbone name -> feature dimension, in stream order.
        cfg: widths, temporal network and its options.
    """

    def __init__(self, input_dims: dict[str, int], cfg: ModelConfig) -> None:
        super().__init__()
        if not input_dims:
            raise ValueError("a detector needs at least one backbone")
        self.input_dims = dict(input_dims)
        scale = INPUT_SCALES[cfg.input_scale]
        self.scales = nn.ModuleDict({} if scale is None else {name: scale(dim) for name, dim in input_dims.items()})
        self.raw_inputs = cfg.projection == "none"
        if self.raw_inputs:  # the config allows it with temporal: none only
            self.projections, self.temporal = nn.ModuleDict(), nn.Identity()
            head_width = sum(self.input_dims.values())
        else:
            self.projections = nn.ModuleDict({name: projection_mlp(dim, cfg.width)
                                              for name, dim in input_dims.items()})
            self.temporal = build_temporal(cfg.temporal, len(input_dims), cfg)
            head_width = cfg.width
        self.hidden_width = head_width  # d of ``DetectorOutput.hidden``
        self.head = ScoringHead(head_width, cfg.head_dropout, cfg.head)

    @property
    def backbones(self) -> list[str]:
        return list(self.input_dims)

    def fit_inputs(self, segments: dict[str, torch.Tensor]) -> None:
        """Fit the input scaling (``model.input_scale``) to the training bags, segments[backbone]
        (N, n, d_t); nothing to fit for raw inputs."""
        for name, scale in self.scales.items():
            scale.fit(segments[name])

    def forward(self, inputs: dict[str, torch.Tensor]) -> DetectorOutput:
        """inputs[backbone]: (B, n, d_t) -> scores (B, n) and hidden (B, n, d); d = sum_t d_t
        for raw inputs (projection: none)."""
        if self.scales:
            inputs = {name: self.scales[name](x) if name in self.scales else x for name, x in inputs.items()}
        if self.raw_inputs:
            hidden = torch.cat([inputs[name] for name in self.input_dims], dim=-1)
        else:
            hidden = self.temporal(torch.stack([self.projections[name](inputs[name]) for name in self.input_dims]))
        return DetectorOutput(scores=self.head(hidden), hidden=hidden)

    def parameter_groups(self, lr_temporal: float, lr_other: float) -> list[dict]:
        """Adagrad groups: the temporal network at ``lr_temporal``, everything else at ``lr_other``."""
        temporal = list(self.temporal.parameters())
        ids = {id(p) for p in temporal}
        other = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": temporal, "lr": lr_temporal}, {"params": other, "lr": lr_other}]
