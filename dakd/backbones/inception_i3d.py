"""Inception-I3D (Carreira & Zisserman), the 1024-d extractor behind the features that
RTFM, UR-DMU, PEL4VAD and XD-Violence share.

No installable library ships this network, so it is defined here with the module and
parameter names of the widely used ``pytorch-i3d`` port, whose ``rgb_imagenet.pt`` /
``rgb_charades.pt`` checkpoints therefore load unchanged. TensorFlow-style "same"
padding is computed from the input size, as in that port.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    pad = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return pad // 2, pad - pad // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    (pt, pt2), (ph, ph2), (pw, pw2) = (_same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride))
    return F.pad(x, (pw, pw2, ph, ph2, pt, pt2))


class MaxPool3dSamePadding(nn.MaxPool3d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_pad_same(x, self.kernel_size, self.stride))


class Unit3D(nn.Module):
    """Conv3d (same padding) + BatchNorm + ReLU, parameter names ``conv3d`` and ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), activation: bool = True,
                 batch_norm: bool = True, bias: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=0.001, momentum=0.01) if batch_norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a = MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=0)
        self.b3b = Unit3D(in_channels, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


_LAYERS: list[tuple[str, object]] = [
    ("Conv3d_1a_7x7", lambda: Unit3D(3, 64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", lambda: MaxPool3dSamePadding((1, 3, 3), (1, 2, 2), padding=0)),
    ("Conv3d_2b_1x1", lambda: Unit3D(64, 64)),
    ("Conv3d_2c_3x3", lambda: Unit3D(64, 192, (3, 3, 3))),
    ("MaxPool3d_3a_3x3", lambda: MaxPool3dSamePadding((1, 3, 3), (1, 2, 2), padding=0)),
    ("Mixed_3b", lambda: InceptionModule(192, (64, 96, 128, 16, 32, 32))),
    ("Mixed_3c", lambda: InceptionModule(256, (128, 128, 192, 32, 96, 64))),
    ("MaxPool3d_4a_3x3", lambda: MaxPool3dSamePadding((3, 3, 3), (2, 2, 2), padding=0)),
    ("Mixed_4b", lambda: InceptionModule(480, (192, 96, 208, 16, 48, 64))),
    ("Mixed_4c", lambda: InceptionModule(512, (160, 112, 224, 24, 64, 64))),
    ("Mixed_4d", lambda: InceptionModule(512, (128, 128, 256, 24, 64, 64))),
    ("Mixed_4e", lambda: InceptionModule(512, (112, 144, 288, 32, 64, 64))),
    ("Mixed_4f", lambda: InceptionModule(528, (256, 160, 320, 32, 128, 128))),
    ("MaxPool3d_5a_2x2", lambda: MaxPool3dSamePadding((2, 2, 2), (2, 2, 2), padding=0)),
    ("Mixed_5b", lambda: InceptionModule(832, (256, 160, 320, 32, 128, 128))),
    ("Mixed_5c", lambda: InceptionModule(832, (384, 192, 384, 48, 128, 128))),
]


class InceptionI3d(nn.Module):
    """Inception-I3D trunk plus its logits layer (kept so checkpoints load strictly).

    ``features`` maps (M, 3, T, H, W) in [-1, 1] to (M, 1024): the Mixed_5c output
    averaged over time and space.
    """

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.layer_names = [name for name, _ in _LAYERS]
        for name, build in _LAYERS:
            self.add_module(name, build())
        self.logits = Unit3D(1024, num_classes, activation=False, batch_norm=False, bias=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3, 4))
