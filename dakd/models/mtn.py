"""RTFM's Multi-scale Temporal Network (Tian et al., ICCV 2021), at the model width d.

Three dilated temporal convolutions (dilation 1, 2, 4) and a non-local block over a
1x1-reduced branch, concatenated, fused by a temporal convolution and added back.
"""

from __future__ import annotations

import torch
from torch import nn


class NonLocalBlock1d(nn.Module):
    """Embedded-Gaussian non-local block on (B, C, n) with a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.theta = nn.Conv1d(channels, inner, 1)
        self.phi = nn.Conv1d(channels, inner, 1)
        self.g = nn.Conv1d(channels, inner, 1)
        self.out = nn.Sequential(nn.Conv1d(inner, channels, 1), nn.BatchNorm1d(channels))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta, phi, g = self.theta(x), self.phi(x), self.g(x)             # (B, C', n)
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)         # (B, n, n)
        y = (attn @ g.transpose(1, 2)).transpose(1, 2)                    # (B, C', n)
        return x + self.out(y)


class MultiScaleTemporalNetwork(nn.Module):
    """MTN on (B, n, d) -> (B, n, d); ``d`` must be divisible by 4."""

    def __init__(self, width: int) -> None:
        super().__init__()
        if width % 4:
            raise ValueError(f"MTN needs a width divisible by 4, got {width}")
        branch = width // 4

        def dilated(d: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(width, branch, 3, padding=d, dilation=d),
                                 nn.BatchNorm1d(branch), nn.ReLU())

        self.pyramid = nn.ModuleList([dilated(1), dilated(2), dilated(4)])
        self.reduce = nn.Sequential(nn.Conv1d(width, branch, 1), nn.ReLU())
        self.non_local = NonLocalBlock1d(branch)
        self.fuse = nn.Sequential(nn.Conv1d(width, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.transpose(1, 2)                                             # (B, d, n)
        parts = [conv(c) for conv in self.pyramid] + [self.non_local(self.reduce(c))]
        return (self.fuse(torch.cat(parts, dim=1)) + c).transpose(1, 2)
