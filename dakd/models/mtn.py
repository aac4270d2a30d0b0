"""RTFM's Multi-scale Temporal Network (Tian et al., ICCV 2021), at the model width d.

As RTFM's ``Aggregate`` (tianyu0207/RTFM, ``model.py``) builds it, with its 2048-d input
read as d and every branch at d / 4:

    out_k = BN(ReLU(conv3_dilation_k(x)))          k = 1, 2, 4   (convs with bias)
    nl    = NonLocal(ReLU(conv1(x)))                              (conv without bias)
    y     = BN(ReLU(conv3(cat(out_1, out_2, out_4, nl)))) + x     (conv without bias)

ReLU comes before BatchNorm, as there; every convolution starts from RTFM's
``weight_init`` (Xavier-uniform weights, zero biases).
"""

from __future__ import annotations

import torch
from torch import nn


class NonLocalBlock1d(nn.Module):
    """RTFM's ``NONLocalBlock1D(sub_sample=False, bn_layer=True)`` on (B, C, n):

        z = x + BN(W (theta(x)^T phi(x) / n) g(x))

    The affinity is divided by the number of positions n; there is no softmax. theta, phi
    and g map C to C / 2 channels (1x1 convolutions with bias); the BatchNorm after W starts
    at zero, so the block starts as the identity.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.g = nn.Conv1d(channels, inner, 1)
        self.theta = nn.Conv1d(channels, inner, 1)
        self.phi = nn.Conv1d(channels, inner, 1)
        self.out = nn.Sequential(nn.Conv1d(inner, channels, 1), nn.BatchNorm1d(channels))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta, phi, g = self.theta(x), self.phi(x), self.g(x)             # (B, C', n)
        affinity = theta.transpose(1, 2) @ phi / x.shape[-1]              # (B, n, n)
        y = (affinity @ g.transpose(1, 2)).transpose(1, 2)                # (B, C', n)
        return x + self.out(y)


class MultiScaleTemporalNetwork(nn.Module):
    """MTN on (B, n, d) -> (B, n, d); ``d`` must be divisible by 4."""

    def __init__(self, width: int) -> None:
        super().__init__()
        if width % 4:
            raise ValueError(f"MTN needs a width divisible by 4, got {width}")
        branch = width // 4

        def dilated(d: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(width, branch, 3, padding=d, dilation=d), nn.ReLU(),
                                 nn.BatchNorm1d(branch))

        self.pyramid = nn.ModuleList([dilated(1), dilated(2), dilated(4)])
        self.reduce = nn.Sequential(nn.Conv1d(width, branch, 1, bias=False), nn.ReLU())
        self.fuse = nn.Sequential(nn.Conv1d(width, width, 3, padding=1, bias=False), nn.ReLU(),
                                  nn.BatchNorm1d(width))
        self.non_local = NonLocalBlock1d(branch)
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.transpose(1, 2)                                             # (B, d, n)
        parts = [conv(c) for conv in self.pyramid] + [self.non_local(self.reduce(c))]
        return (self.fuse(torch.cat(parts, dim=1)) + c).transpose(1, 2)
