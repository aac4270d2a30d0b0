"""The sections about data: extraction and its backbones, feature input, evaluation, the
linear probe, validation and scoring."""

from __future__ import annotations

import math
from dataclasses import field
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, ValidationInfo, field_validator

from ..ids import BASE_SPLITS, SPLIT
from .base import Float, Int, config_dataclass
from .choices import (
    CROP_READINGS,
    IMAGE_BACKBONES,
    BackboneArch,
    Crops,
    DecodeDevice,
    Decoder,
    EvaluateMetric,
    EvaluateUnit,
    ExtractPrecision,
    FrameSampling,
    ScoreModel,
)
from .messages import Bad, show


def _crop(value: Any) -> Any:
    """``"mean"``, ``"per_crop_bags"`` or a crop index (an integer or its digits), stored as text: ``"0"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    text = value.strip() if isinstance(value, str) else None
    if text in CROP_READINGS:
        return text
    if text is not None and text.isascii() and text.isdigit():
        return str(int(text))
    raise Bad(f"must be 'mean', 'per_crop_bags' or a crop index >= 0, got {show(value)}")


@config_dataclass
class FeatureInputConfig:
    """How stored snippet features become model inputs."""

    segments: Int = Field(default=32, ge=1)
    # "mean" over crops, "per_crop_bags" (every crop its own training bag; test scores
    # averaged over crops), or a crop index as text ("0": the first crop; see features.reduce_crops)
    crop: Annotated[str, BeforeValidator(_crop)] = "mean"


@config_dataclass
class EvaluateConfig:
    """Frame-level evaluation.

    ``unit``: ``snippet`` scores every snippet of a test video (RTFM / UR-DMU / VadCLIP
    protocol); ``segment`` scores the 32 training segments and spreads them over frames.
    ``max_window``: longest snippet sequence given to the model at once; longer test
    videos are scored in consecutive windows to bound attention memory (null: no limit).
    ``metric``: the headline number, ``auc`` (UCF-Crime, ShanghaiTech) or ``ap`` (XD-Violence).
    """

    unit: EvaluateUnit = "snippet"
    max_window: Int | None = Field(default=4096, ge=1)
    metric: EvaluateMetric = "auc"


@config_dataclass
class ProbeConfig:
    """The linear probe (``dakd probe``): a logistic regression on single snippets, each labelled
    with its video's label, that knows nothing of MIL; the tables set every model beside it.

    ``backbones``: the feature sets probed, each a list of backbones whose snippet features are
    concatenated (null: each of ``teacher.backbones`` alone, then all of them together).
    ``C``: inverse L2 strength (scikit-learn's); ``standardize``: z-score each feature
    dimension on the training snippets first; ``max_iter``: L-BFGS iterations.
    """

    backbones: list[list[str]] | None = None
    C: Float = Field(default=0.1, gt=0)
    standardize: StrictBool = True
    max_iter: Int = Field(default=1000, ge=1)

    @field_validator("backbones")
    @classmethod
    def _non_empty_sets(cls, backbones: list[list[str]] | None) -> list[list[str]] | None:
        if backbones is not None and (not backbones or not all(backbones)):
            raise Bad(f"must be null or a non-empty list of non-empty backbone lists, got {show(backbones)}")
        return backbones


def _frames_per_snippet(value: Any) -> Any:
    """``all``, ``middle``, ``first`` or a whole number >= 1 of evenly spaced frames (its digits allowed)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    text = value.strip() if isinstance(value, str) else None
    if text in FrameSampling.__args__:
        return text
    if text is not None and text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise Bad(f"must be 'all', 'middle', 'first' or a number of frames >= 1, got {show(value)}")


@config_dataclass
class BackboneConfig:
    """One feature extractor.

    ``weights``: ``pretrained`` (the library's own download), ``random`` (tests only; stamped
    in the shard metadata) or the path of a local checkpoint. ``model`` and
    ``pretrained_tag`` name an open_clip model and its weights. ``size`` shrinks the input
    of randomly initialised models for tests and is refused with real weights.

    ``frames_per_snippet`` (image backbones, ``open_clip``): which frames of a snippet are
    embedded before their embeddings are averaged: ``all``, the ``middle`` frame (index
    T // 2), the ``first``, or k evenly spaced frames (the middle frame of each of k equal
    parts of the snippet; k = 1 is ``middle``, k = T is ``all``). Video backbones see the
    whole snippet and accept only ``all``.
    """

    arch: BackboneArch = "s3d"
    weights: str = "pretrained"
    model: str = ""
    pretrained_tag: str = ""
    size: Int | None = Field(default=None, ge=16)
    frames_per_snippet: Annotated[str | int, BeforeValidator(_frames_per_snippet)] = "all"

    @field_validator("frames_per_snippet")
    @classmethod
    def _image_backbones_only(cls, frames: str | int, info: ValidationInfo) -> str | int:
        arch = info.data.get("arch")
        if frames != "all" and arch is not None and arch not in IMAGE_BACKBONES:
            raise Bad(f"applies to image backbones ({', '.join(IMAGE_BACKBONES)}) only; a {arch} sees the "
                       f"whole snippet, so it must be 'all', got {show(frames)}")
        return frames


def _default_backbones() -> dict[str, BackboneConfig]:
    return {
        "i3d": BackboneConfig(arch="inception_i3d", weights="checkpoints/rgb_imagenet.pt"),
        "s3d": BackboneConfig(arch="s3d"),
        "clip": BackboneConfig(arch="open_clip", model="ViT-B-16-quickgelu", pretrained_tag="openai"),
    }


@config_dataclass
class ExtractConfig:
    """Video decoding and feature extraction."""

    backbones: dict[str, BackboneConfig] = field(default_factory=_default_backbones)
    snippet_len: Int = Field(default=16, ge=1)
    snippet_stride: Int = Field(default=16, ge=1)
    crops: Crops = "ten"
    decode_short_side: Int = Field(default=256, ge=16)
    batch_snippets: Int = Field(default=8, ge=1)
    num_workers: Int = Field(default=2, ge=1)
    video_timeout_s: Float = Field(default=1800.0, gt=0)
    videos_per_worker: Int = Field(default=16, ge=1)
    shard_size: Int = Field(default=32, ge=1)
    precision: ExtractPrecision = "auto"
    # pyav (default), torchcodec or decord: the same frames from each (dakd.video.readers);
    # decord decodes ahead without bound while the model is slower (BENCHMARKS.md)
    decoder: Decoder = "pyav"
    # cpu: decode in worker processes; cuda: torchcodec decodes on the GPU (NVDEC) in the
    # extracting process, frames never leave the GPU (needs decoder torchcodec and a CUDA device)
    decode_device: DecodeDevice = "cpu"

    @field_validator("decode_device")
    @classmethod
    def _gpu_decoding_is_torchcodecs(cls, where: str, info: ValidationInfo) -> str:
        decoder = info.data.get("decoder")
        if where == "cuda" and decoder not in (None, "torchcodec"):
            raise Bad(f"cuda needs decoder torchcodec (NVDEC), got decoder {decoder!r}")
        return where

    @field_validator("snippet_len")
    @classmethod
    def _sampled_frames_fit_the_snippet(cls, length: int, info: ValidationInfo) -> int:
        for name, backbone in (info.data.get("backbones") or {}).items():
            k = backbone.frames_per_snippet
            if isinstance(k, int) and k > length:
                raise Bad(f"must be at least backbone {name}'s frames_per_snippet ({k}), got {length}")
        return length


@config_dataclass
class ValidationConfig:
    """Model selection on a held-out split (never the test split).

    With ``split`` set (a split name present in the shards, with frame annotations), the
    model is scored on it every ``every`` epochs with ``evaluate.metric`` and the best epoch
    is kept; with ``split: null`` the last epoch is the model.
    """

    split: str | None = None
    every: Int = Field(default=1, ge=1)

    @field_validator("split")
    @classmethod
    def _held_out(cls, split: str | None) -> str | None:
        if split in BASE_SPLITS:
            raise Bad(f"must not be the {split} split: null or a held-out split name, got {show(split)}")
        if split is not None and not SPLIT.fullmatch(split):
            raise Bad(f"must be null or a held-out split name (a letter, then letters, digits, _ or -; "
                       f"not {' or '.join(BASE_SPLITS)}), got {show(split)}")
        return split


@config_dataclass
class ScoreConfig:
    """Scoring new footage (``dakd score`` and the workflow's ``results/<dataset>/scored/``).

    ``input_dir``: the folder of videos the workflow scores (null: no scoring target).
    ``model``: which of the dataset's checkpoints scores them. ``threshold``: a number,
    ``f1`` or ``fpr:<rate>`` (an operating point of the model); null takes ``f1`` when the
    model has operating points and writes no intervals otherwise. Scores at or above the
    threshold less than ``min_gap_s`` apart merge into one interval; intervals shorter than
    ``min_duration_s`` are dropped. ``window``: the snippets an online score sees.
    """

    input_dir: str | None = None
    model: ScoreModel = "student"
    threshold: str | None = None
    min_gap_s: Float = Field(default=1.0, ge=0)
    min_duration_s: Float = Field(default=0.0, ge=0)
    window: Int = Field(default=32, ge=1)

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, threshold: str | None) -> str | None:
        if threshold is None or threshold.strip() == "f1":
            return None if threshold is None else "f1"
        text = threshold.strip()
        rate = text.startswith("fpr:")
        try:
            value = float(text.removeprefix("fpr:"))
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (rate and not 0 < value < 1):
            raise Bad(f"must be null, a number, f1 or fpr:<rate> with a rate in (0, 1), got {show(threshold)}")
        return text


