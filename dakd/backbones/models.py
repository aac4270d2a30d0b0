"""The registered backbones: I3D (two variants), S3D and CLIP, each with its preprocessing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import BackboneConfig
from .inception_i3d import InceptionI3d
from .preprocess import Preprocessing
from .registry import Backbone, BackboneError, load_checkpoint, register_backbone, weights_kind

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


def _sized(spec: Preprocessing, cfg: BackboneConfig) -> Preprocessing:
    """Shrink a random model's input for tests (``cfg.size`` is only allowed with random weights)."""
    if cfg.size is None:
        return spec
    resize = cfg.size if isinstance(spec.resize, int) else (cfg.size, cfg.size)
    return Preprocessing(resize, cfg.size, spec.mean, spec.std, spec.interpolation, spec.value_range)


class I3DResNet50(Backbone):
    """pytorchvideo ``i3d_r50`` (Kinetics-400): 2048-d, the trunk output pooled over time and space."""

    dim = 2048

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        from pytorchvideo.models.hub import i3d_r50

        kind = weights_kind(cfg)
        net = i3d_r50(pretrained=kind == "pretrained")
        if kind == "checkpoint":
            load_checkpoint(net, cfg.weights, cfg.arch)
        self.trunk = nn.Sequential(*net.blocks[:-1])  # drop the classification head
        self.weights_source = cfg.weights if kind != "pretrained" else "pytorchvideo:i3d_r50"
        self.preprocessing = _sized(Preprocessing(256, 224, KINETICS_MEAN, KINETICS_STD), cfg)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.trunk(clips.transpose(1, 2)).mean(dim=(2, 3, 4))


class InceptionI3D(Backbone):
    """Inception-I3D, 1024-d, inputs in [-1, 1]; weights only from a local checkpoint (or random)."""

    dim = 1024

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        kind = weights_kind(cfg)
        if kind == "pretrained":
            raise BackboneError("inception_i3d: no library ships these weights; set weights to the path of "
                                "a pytorch-i3d checkpoint such as rgb_imagenet.pt")
        self.net = InceptionI3d()
        if kind == "checkpoint":
            load_checkpoint(self.net, cfg.weights, cfg.arch)
        self.weights_source = cfg.weights
        self.preprocessing = _sized(Preprocessing(256, 224, value_range="symmetric"), cfg)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.net.features(clips.transpose(1, 2))


class S3D(Backbone):
    """torchvision ``s3d`` (KINETICS400_V1): 1024-d mean of ``features(x)`` over time and space."""

    dim = 1024

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        from torchvision.models.video import S3D_Weights, s3d

        kind = weights_kind(cfg)
        weights = S3D_Weights.KINETICS400_V1
        net = s3d(weights=weights if kind == "pretrained" else None)
        if kind == "checkpoint":
            load_checkpoint(net, cfg.weights, cfg.arch)
        self.features = net.features
        ref = weights.transforms()
        self.weights_source = cfg.weights if kind != "pretrained" else "torchvision:S3D_Weights.KINETICS400_V1"
        self.preprocessing = _sized(Preprocessing(
            tuple(ref.resize_size), ref.crop_size[0], tuple(ref.mean), tuple(ref.std), ref.interpolation.value,
        ), cfg)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.features(clips.transpose(1, 2)).mean(dim=(2, 3, 4))


class OpenCLIP(Backbone):
    """open_clip image encoder applied to the snippet's frames (``frames_per_snippet``), averaged."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        import open_clip

        if not cfg.model:
            raise BackboneError("open_clip backbone needs 'model' (an open_clip model name, e.g. ViT-B-16)")
        if cfg.model not in open_clip.list_models():
            raise BackboneError(f"unknown open_clip model {cfg.model!r}")
        kind = weights_kind(cfg)
        if kind == "pretrained":
            if not cfg.pretrained_tag:
                raise BackboneError(f"open_clip model {cfg.model!r}: set 'pretrained_tag' (e.g. openai)")
            if cfg.pretrained_tag == "openai" and "quickgelu" not in cfg.model.lower():
                raise BackboneError(f"OpenAI CLIP weights need QuickGELU: use model "
                                    f"{cfg.model}-quickgelu instead of {cfg.model}")
        pretrained = cfg.pretrained_tag if kind == "pretrained" else (cfg.weights if kind == "checkpoint" else None)
        extra = {"force_image_size": cfg.size} if cfg.size is not None else {}
        model = open_clip.create_model(cfg.model, pretrained=pretrained, **extra)
        pre = open_clip.get_model_preprocess_cfg(model)
        self.visual = model.visual
        self.dim = int(model.visual.output_dim)
        self.weights_source = {"pretrained": f"open_clip:{cfg.model}/{cfg.pretrained_tag}",
                               "checkpoint": cfg.weights, "random": "random"}[kind]
        size = pre["size"][0] if isinstance(pre["size"], (tuple, list)) else pre["size"]
        self.preprocessing = Preprocessing(size, size, tuple(pre["mean"]), tuple(pre["std"]), pre["interpolation"])
        self.frames_per_snippet = cfg.frames_per_snippet

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "frames_per_snippet": self.frames_per_snippet}

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(M, t, 3, h, w) -> (M, dim): the mean embedding of the t frames given (the sampled ones)."""
        m, t = clips.shape[:2]
        return self.visual(clips.flatten(0, 1)).view(m, t, -1).mean(dim=1)


register_backbone("i3d_r50")(I3DResNet50)
register_backbone("inception_i3d")(InceptionI3D)
register_backbone("s3d")(S3D)
register_backbone("open_clip")(OpenCLIP)
