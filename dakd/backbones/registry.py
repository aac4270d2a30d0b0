"""Backbone registry: ``extract.backbones.<name>.arch`` selects a builder registered here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import BackboneConfig
from ..errors import DakdError
from ..registry import Registry
from .preprocess import Preprocessing, make_crops, sampled_frames


class BackboneError(DakdError):
    """Unknown backbone, missing checkpoint or weights that do not fit."""


class Backbone(nn.Module):
    """A frozen feature extractor with the preprocessing its weights expect.

    ``forward`` maps normalised snippets (M, T, 3, h, w) to features (M, dim).
    """

    dim: int
    preprocessing: Preprocessing
    weights_source: str
    # Image backbones embed these frames of each snippet (BackboneConfig.frames_per_snippet).
    frames_per_snippet: str | int = "all"

    def describe(self) -> dict[str, Any]:
        """What goes into the shard metadata's ``preprocessing`` record."""
        return {"arch": type(self).__name__, **self.preprocessing.record()}

    def frame_indices(self, length: int) -> list[int] | None:
        """The frames of a ``length``-frame snippet this backbone reads; None for all of them."""
        return sampled_frames(self.frames_per_snippet, length)

    def clips(self, frames: torch.Tensor, crops: str) -> torch.Tensor:
        """uint8 snippets (N, T, H, W, 3) -> this backbone's normalised input (N, K, t, 3, c, c):
        the t frames it reads (:meth:`frame_indices`, before any resize, so fewer frames cost
        less), K crops of c x c."""
        indices = self.frame_indices(frames.shape[1])
        return make_crops(frames if indices is None else frames[:, indices], self.preprocessing, crops)


Builder = Callable[[BackboneConfig], Backbone]
BACKBONES: Registry[Builder] = Registry("backbone", BackboneError)
register_backbone = BACKBONES.register


def available_backbones() -> list[str]:
    return BACKBONES.names()


def weights_kind(cfg: BackboneConfig) -> str:
    """``pretrained``, ``random`` or ``checkpoint``; a missing checkpoint file is an error now."""
    if cfg.weights in ("pretrained", "random"):
        return cfg.weights
    if not Path(cfg.weights).is_file():
        raise BackboneError(f"{cfg.weights}: checkpoint for backbone {cfg.arch!r} not found")
    return "checkpoint"


def check_size_override(cfg: BackboneConfig) -> None:
    if cfg.size is not None and cfg.weights != "random":
        raise BackboneError(f"backbone {cfg.arch!r}: 'size' may only shrink randomly initialised models "
                            "(real weights come with their own input size)")


def load_checkpoint(model: nn.Module, path: str, arch: str) -> None:
    """Load a local state dict (optionally nested under 'state_dict' / 'model'), strictly."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BackboneError(f"{path}: weights do not fit backbone {arch!r} ({first})") from None


def reinit_variance_preserving(model: nn.Module) -> None:
    """Re-draw a random model's weights so activations keep their scale through depth.

    The libraries' default initialisations assume training follows; untrained, the I3D and
    S3D trunks shrink their inputs to features of about 1e-7. He-normal convolutions and
    linear layers, unit batch norms and zero biases keep random features at unit scale, so
    random backbones give usable (if weak) features for tests and the demo.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def build_backbone(cfg: BackboneConfig) -> Backbone:
    """Build, load and freeze the backbone ``cfg.arch`` (eval mode, no gradients)."""
    builder = BACKBONES.get(cfg.arch)
    kind = weights_kind(cfg)
    check_size_override(cfg)
    model = builder(cfg)
    if kind == "random":
        reinit_variance_preserving(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
