"""The anomaly detector: per-backbone projection MLPs, a temporal network, a scoring head.

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

    def forward(self, inputs: dict[str, torch.Tensor]) -> DetectorOutput:
        """inputs[backbone]: (B, n, d_t) -> scores (B, n) and hidden (B, n, d); d = sum_t d_t
        for raw inputs (projection: none)."""
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
