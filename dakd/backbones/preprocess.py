"""Turning decoded uint8 snippets into a backbone's normalised crops.

Each backbone owns a :class:`Preprocessing` taken from its weights' definition, so the
input pipeline cannot drift from the weights. Crops use torchvision's own
``center_crop`` / ``five_crop`` / ``ten_crop``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

CROP_MODES = {"center": 1, "five": 5, "ten": 10}
# extract.crops -> the crops of a batch of frames, in torchvision's order (ten: four corners
# and centre, then the same of the flipped frames)
CROPPERS: dict[str, Callable[[torch.Tensor, list[int]], Sequence[torch.Tensor]]] = {
    "center": lambda x, size: [TF.center_crop(x, size)],
    "five": TF.five_crop,
    "ten": TF.ten_crop,
}


@dataclass(frozen=True)
class Preprocessing:
    """Resize, crop and normalisation of one backbone.

    ``resize`` is the target of the shorter side (int) or an exact (height, width);
    ``value_range`` is ``unit`` (x / 255, then mean/std) or ``symmetric`` (x / 127.5 - 1).
    """

    resize: int | tuple[int, int]
    crop: int
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    interpolation: str = "bilinear"
    value_range: str = "unit"

    def record(self) -> dict[str, Any]:
        return asdict(self)


def sampled_frames(sampling: str | int, length: int) -> list[int] | None:
    """Indices of the frames of a ``length``-frame snippet an image backbone embeds; None for all.

    ``first`` is frame 0; ``middle`` is frame ``length // 2`` (the frame at the snippet's
    centre time); an integer k takes the middle frame of each of k equal parts,
    ``floor((2i + 1) * length / (2k))`` for i < k, so k = 1 is ``middle`` and k = length is
    every frame.
    """
    if sampling == "all":
        return None
    if sampling == "first":
        return [0]
    if sampling == "middle":
        return [length // 2]
    if isinstance(sampling, int) and 1 <= sampling <= length:
        return [(2 * i + 1) * length // (2 * sampling) for i in range(sampling)]
    raise ValueError(f"frames_per_snippet {sampling!r} does not fit a snippet of {length} frames")


def num_crops(mode: str) -> int:
    """Crops per snippet of ``extract.crops`` (the config has refused any other mode)."""
    return CROP_MODES[mode]


def make_crops(frames: torch.Tensor, spec: Preprocessing, mode: str) -> torch.Tensor:
    """uint8 snippets (N, T, H, W, 3) -> normalised float crops (N, K, T, 3, crop, crop).

    K is 1, 5 or 10 for ``center``, ``five`` and ``ten``; the ten-crop order is
    torchvision's (four corners, centre, then the same of the flipped frames).
    """
    n, t = frames.shape[:2]
    x = frames.permute(0, 1, 4, 2, 3).reshape(n * t, 3, *frames.shape[2:4])
    size = [spec.resize] if isinstance(spec.resize, int) else list(spec.resize)
    x = TF.resize(x.float(), size, interpolation=InterpolationMode(spec.interpolation), antialias=True)
    x = torch.stack(CROPPERS[mode](x, [spec.crop, spec.crop]), dim=1).clamp_(0, 255)  # (N*T, K, 3, c, c)
    if spec.value_range == "symmetric":
        x = x / 127.5 - 1.0
    else:
        mean = torch.tensor(spec.mean, device=x.device).view(1, 1, 3, 1, 1)
        std = torch.tensor(spec.std, device=x.device).view(1, 1, 3, 1, 1)
        x = (x / 255.0 - mean) / std
    k = x.shape[1]
    return x.view(n, t, k, 3, spec.crop, spec.crop).transpose(1, 2)
