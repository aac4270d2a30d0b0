"""Inverted dropout with a cheaper mask on the CPU.

On CPU, ``torch.nn.Dropout`` draws its mask with ``bernoulli_``, and even ``torch.rand``
pays one 32-bit generator draw per element, which makes dropout masks a large part of a
CPU training step. Here each 64-bit draw yields four 16-bit uniforms, so a mask costs a
quarter of the draws (BENCHMARKS.md).
The drop probability is rounded to a multiple of 2^-16. Kept units are scaled by
1 / (1 - p), as in ``torch.nn.Dropout``. Other devices run PyTorch's fused dropout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_INT16_MIN, _LEVELS = -(2**15), 2**16


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Bool mask of ``shape``, each entry True with probability 1 - p (p rounded to k / 2^16),
    drawn from the default generator of ``device``."""
    numel = shape.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((numel + 3) // 4,), dtype=torch.int64, device=device)
    return (words.view(torch.int16)[:numel] >= _INT16_MIN + round(p * _LEVELS)).view(shape)


class Dropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        # One (mask * scale) tensor in x's dtype: the product's backward then is a single multiply.
        scale = keep_mask(x.shape, self.p, x.device).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return x * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
