"""Feature extractors behind one registry, each bundling the preprocessing of its weights."""

from . import models  # noqa: F401  (registers the built-in backbones)
from .preprocess import CROP_MODES, Preprocessing, make_crops, num_crops
from .registry import Backbone, BackboneError, available_backbones, build_backbone, register_backbone

__all__ = [
    "CROP_MODES",
    "Backbone",
    "BackboneError",
    "Preprocessing",
    "available_backbones",
    "build_backbone",
    "make_crops",
    "num_crops",
    "register_backbone",
]
