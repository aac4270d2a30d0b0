"""Typed configuration for the learning stages, read from the ``config.yaml`` the workflow uses.

Defaults are the paper's values (README "Configuration"; where the paper is silent, the
reading taken and its alternatives are in ``docs/readings.md``). Every value is checked
when the config loads (pydantic dataclasses): an unknown key, a value of the wrong type, an enumerated
value outside its choices or a number outside its range is a one-line :class:`ConfigError`
naming the dotted key, so a typo or a bad value cannot silently fall back to a default or
train to garbage. The sections stay real dataclasses (``dataclasses.asdict``/``replace``
work on them).

This module must stay light (no torch): the Snakefile imports it while it parses.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
import os
import re
import types
import typing
from dataclasses import field
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

from .errors import DakdError
from .ids import BASE_SPLITS, SPLIT


class ConfigError(DakdError):
    """The configuration is malformed."""


# ---------------------------------------------------------------- choices
# The registries these mirror (temporal networks, backbones, dataset adapters, feature label
# rules) live in torch-heavy modules; tests check that the lists are equal.

TemporalNetwork = Literal["tam", "disentangled", "mha", "lstm", "gru", "rnn", "cnn1d", "mtn", "none"]
BackboneArch = Literal["inception_i3d", "i3d_r50", "s3d", "open_clip"]
TrainPrecision = Literal["fp32", "bf16"]
ExtractPrecision = Literal["auto", "fp32", "bf16"]
Crops = Literal["center", "five", "ten"]
Decoder = Literal["decord", "pyav", "torchcodec"]
DecodeDevice = Literal["cpu", "cuda"]
FrameSampling = Literal["all", "middle", "first"]  # or a whole number k of frames (BackboneConfig)
EvaluateUnit = Literal["snippet", "segment"]
EvaluateMetric = Literal["auc", "ap"]
AnchorSource = Literal["teacher_scores", "pseudo_labels"]
# Readings of points the paper leaves open (docs/readings.md); the first value is dakd's default.
AttentionLayer = Literal["residual_ffn", "bare"]
AttentionScale = Literal["head_dim", "width"]
InputProjection = Literal["mlp", "none"]
ScoringHeadLayout = Literal["relu", "sultani"]
MILReduction = Literal["pairwise_mean", "sultani"]
WindowDivisor = Literal["taps", "two_epsilon"]
WindowPadding = Literal["edge", "zero"]
NormalVideoAnchors = Literal["thresholded", "normal"]
CROP_READINGS = ("mean", "per_crop_bags")  # features.crop besides a crop index
DatasetKind = Literal["demo", "ucf_crime", "shanghaitech", "xd_violence", "features"]
FeatureNaming = Literal["ucf_crime", "shanghaitech", "xd_violence"]
FeatureLayout = Literal["auto", "rtfm", "per_crop", "center"]
FeatureCrops = Literal["listed", "all"]  # the crop files a list names, or every crop file on disk

CROPS_PER_MODE = {"center": 1, "five": 5, "ten": 10}
IMAGE_BACKBONES = ("open_clip",)  # backbones that embed single frames (frames_per_snippet applies)
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
# Top-level keys of config.yaml that belong to the workflow, not to a stage's DakdConfig.
WORKFLOW_KEYS = ("datasets", "reproduce")


class _Bad(ValueError):
    """Raised by a validator: ``message`` (None: describe the field's type and range) about
    the field, or about its sub-key ``key``."""

    def __init__(self, message: str | None = None, key: str | None = None) -> None:
        super().__init__(message or "invalid value")
        self.message, self.key = message, key


def _not_bool(value: Any) -> Any:
    """Numbers must be numbers: YAML's true/false are not 1/0 here."""
    if isinstance(value, bool):
        raise _Bad()
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]

# extra=forbid: unknown keys are errors. allow_inf_nan=False: NaN/inf are errors.
# coerce_numbers_to_str: a string field given a number (a checkpoint path "1") keeps it as text.
# Numbers given as strings ("1e-3": PyYAML reads 1e-3 without a dot as a string) are numbers.
_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)


def config_dataclass(cls: type) -> type:
    """A validated dataclass: ``pydantic.dataclasses.dataclass`` whose construction with a
    bad value raises a one-line :class:`ConfigError` (``Class.key must be ..., got value``)."""
    cls = dataclass(config=_CONFIG)(cls)
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc, cls, base=cls.__name__)) from None

    cls.__init__ = __init__
    return cls


# ---------------------------------------------------------------- sections


@config_dataclass
class AttentionTerms:
    """The four logit terms of the disentangled attention (Table 5 switches them)."""

    self_c2c: StrictBool = True
    cross_c2c: StrictBool = True
    c2p: StrictBool = True
    p2c: StrictBool = True


@config_dataclass
class ModelConfig:
    """Projection MLPs + temporal network + scoring head."""

    temporal: TemporalNetwork = "tam"
    width: Int = Field(default=512, ge=1)
    heads: Int = Field(default=8, ge=1)
    ffn_dim: Int = Field(default=1024, ge=1)
    max_relative_distance: Int = Field(default=25, ge=1)
    terms: AttentionTerms = field(default_factory=AttentionTerms)
    dropout: Float = Field(default=0.1, ge=0, lt=1)
    head_dropout: Float = Field(default=0.6, ge=0, lt=1)
    # What surrounds the disentangled attention of tam / disentangled: an output projection,
    # a residual from the streams' mean, post-LayerNorm and a GELU feed-forward of ffn_dim
    # (residual_ffn), or nothing: the attention output H goes straight to the head (bare).
    layer: AttentionLayer = "residual_ffn"
    # Biases in the content (W_q, W_k, W_v) and relative-position (W_{q,r}, W_{k,r}) projections;
    # Eqs. 2-3 have none.
    attention_bias: StrictBool = True
    # d in Eq. 5's sqrt((T + 2) d): the per-head dimension (DeBERTa) or the model width.
    attention_scale: AttentionScale = "head_dim"
    # Per-backbone projection MLPs d_t -> width -> width (mlp), or none: the features,
    # concatenated, go straight to the head (Sultani's detector; needs temporal: none).
    projection: InputProjection = "mlp"
    # Scoring head d -> 512 -> 32 -> 1: ReLU after both hidden layers (relu), or after the
    # first only, as in Sultani et al.'s paper and code (sultani).
    head: ScoringHeadLayout = "relu"

    @field_validator("heads")
    @classmethod
    def _heads_divide_width(cls, heads: int, info: ValidationInfo) -> int:
        width = info.data.get("width")
        if width is not None and width % heads:
            raise _Bad(f"must divide width ({width}) evenly, got {heads}")
        return heads

    @field_validator("projection")
    @classmethod
    def _raw_features_skip_the_temporal_network(cls, projection: str, info: ValidationInfo) -> str:
        temporal = info.data.get("temporal")
        if projection == "none" and temporal not in (None, "none"):
            raise _Bad(f"none (features straight into the head) needs temporal: none, got temporal {temporal!r}")
        return projection


@config_dataclass
class OptimConfig:
    """A stage's training loop: Adagrad with one learning rate for the temporal network and
    one for the rest, balanced batches, and the precision of the forward matmuls."""

    epochs: Int = Field(default=100, ge=1)
    lr_temporal: Float = Field(default=1e-4, gt=0)
    lr_other: Float = Field(default=1e-3, gt=0)
    weight_decay: Float = Field(default=1e-3, ge=0)
    normal_per_batch: Int = Field(default=30, ge=1)
    anomalous_per_batch: Int = Field(default=30, ge=1)
    # fp32, or bf16: matmuls in bfloat16 under torch.autocast, while weights, optimizer
    # state and losses stay float32 (1.9x faster on an AVX512-BF16 CPU; its matmuls are slower without one).
    precision: TrainPrecision = "fp32"


@config_dataclass
class MILConfig:
    """Sultani et al.'s MIL ranking loss weights."""

    lambda_smooth: Float = Field(default=8e-5, ge=0)
    lambda_sparse: Float = Field(default=8e-5, ge=0)
    # pairwise_mean: hinge averaged over all (anomalous, normal) pairs, regularisers averaged
    # over anomalous bags; sultani: his code's sum over anomalous bags (hinge averaged over
    # normal bags), i.e. the same loss times the number of anomalous bags per batch.
    reduction: MILReduction = "pairwise_mean"


@config_dataclass
class TeacherConfig:
    backbones: list[str] = field(default_factory=lambda: ["i3d", "s3d", "clip"])
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mil: MILConfig = field(default_factory=MILConfig)

    @field_validator("backbones")
    @classmethod
    def _distinct_backbones(cls, backbones: list[str]) -> list[str]:
        if not backbones or len(set(backbones)) != len(backbones) or not all(backbones):
            raise _Bad(f"must be a non-empty list of distinct backbone names, got {_show(backbones)}")
        return backbones


@config_dataclass
class PseudoLabelConfig:
    """Refinement of teacher scores into student targets (Eq. 6)."""

    moving_average: StrictBool = True
    # Taps of the centred moving-average kernel (the text's "kernel of size epsilon"; Eq. 6's
    # kernel has 2 epsilon + 1 taps).
    window: Int = Field(default=5, ge=1)
    min_max: StrictBool = True
    # A video whose smoothed scores are all equal cannot be min-max normalised: it gets
    # all ones when that flat score is >= this threshold, all zeros otherwise.
    flat_threshold: Float = Field(default=0.5, ge=0, le=1)
    # The moving sum divided by the tap count (a mean), or by 2 epsilon = taps - 1 as Eq. 6
    # prints it (needs an odd window >= 3; min-max normalisation cancels it).
    divisor: WindowDivisor = "taps"
    # Scores beyond a video's ends: its first/last score repeated (edge), or zeros (zero).
    padding: WindowPadding = "edge"

    @field_validator("divisor")
    @classmethod
    def _two_epsilon_needs_an_odd_window(cls, divisor: str, info: ValidationInfo) -> str:
        window = info.data.get("window")
        if divisor == "two_epsilon" and window is not None and (window < 3 or window % 2 == 0):
            raise _Bad(f"two_epsilon needs an odd window >= 3 (2 epsilon + 1 taps), got window {window}")
        return divisor


@config_dataclass
class DistillConfig:
    """Bi-level distillation: L_d = L_bce + alpha * tau^2 * L_nce (Eq. 8)."""

    use_bce: StrictBool = True
    use_nce: StrictBool = True
    alpha: Float = Field(default=7.5, ge=0)
    tau: Float = Field(default=1.0, gt=0)
    delta: Float = Field(default=0.9, ge=0, le=1)
    # What is thresholded at delta to split InfoNCE anchors: the teacher's raw scores (the
    # paper's "Teacher's predictions") or the refined pseudo-labels (min-max puts every
    # anomalous video's top segments at 1, so anchors exist even for a timid teacher).
    anchors: AnchorSource = "teacher_scores"
    # Segments of normal training videos: anchors by the same threshold as any segment
    # (thresholded), or always normal anchors (normal).
    normal_video_anchors: NormalVideoAnchors = "thresholded"
    projection_hidden: Int = Field(default=512, ge=1)
    projection_dim: Int = Field(default=128, ge=1)


def _student_model() -> ModelConfig:
    return ModelConfig(terms=AttentionTerms(cross_c2c=False))


@config_dataclass
class StudentConfig:
    backbone: str = "clip"
    model: ModelConfig = field(default_factory=_student_model)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    @field_validator("backbone")
    @classmethod
    def _named(cls, backbone: str) -> str:
        if not backbone:
            raise _Bad("must name a backbone, got ''")
        return backbone


def _crop(value: Any) -> Any:
    """``"mean"``, ``"per_crop_bags"`` or a crop index (an integer or its digits), stored as text: ``"0"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    text = value.strip() if isinstance(value, str) else None
    if text in CROP_READINGS:
        return text
    if text is not None and text.isascii() and text.isdigit():
        return str(int(text))
    raise _Bad(f"must be 'mean', 'per_crop_bags' or a crop index >= 0, got {_show(value)}")


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


def _frames_per_snippet(value: Any) -> Any:
    """``all``, ``middle``, ``first`` or a whole number >= 1 of evenly spaced frames (its digits allowed)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    text = value.strip() if isinstance(value, str) else None
    if text in FrameSampling.__args__:
        return text
    if text is not None and text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise _Bad(f"must be 'all', 'middle', 'first' or a number of frames >= 1, got {_show(value)}")


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
            raise _Bad(f"applies to image backbones ({', '.join(IMAGE_BACKBONES)}) only; a {arch} sees the "
                       f"whole snippet, so it must be 'all', got {_show(frames)}")
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
            raise _Bad(f"cuda needs decoder torchcodec (NVDEC), got decoder {decoder!r}")
        return where

    @field_validator("snippet_len")
    @classmethod
    def _sampled_frames_fit_the_snippet(cls, length: int, info: ValidationInfo) -> int:
        for name, backbone in (info.data.get("backbones") or {}).items():
            k = backbone.frames_per_snippet
            if isinstance(k, int) and k > length:
                raise _Bad(f"must be at least backbone {name}'s frames_per_snippet ({k}), got {length}")
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
            raise _Bad(f"must not be the {split} split: null or a held-out split name, got {_show(split)}")
        if split is not None and not SPLIT.fullmatch(split):
            raise _Bad(f"must be null or a held-out split name (a letter, then letters, digits, _ or -; "
                       f"not {' or '.join(BASE_SPLITS)}), got {_show(split)}")
        return split


ScoreModel = Literal["student", "teacher"]


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
            raise _Bad(f"must be null, a number, f1 or fpr:<rate> with a rate in (0, 1), got {_show(threshold)}")
        return text


@config_dataclass
class DakdConfig:
    seed: Int = Field(default=0, ge=0)
    device: str = "auto"
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    features: FeatureInputConfig = field(default_factory=FeatureInputConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    pseudo_labels: PseudoLabelConfig = field(default_factory=PseudoLabelConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if not DEVICE.fullmatch(device):
            raise _Bad(f"must be one of auto, cpu, cuda, cuda:N, got {_show(device)}")
        return device

    @field_validator("features")
    @classmethod
    def _crop_exists(cls, features: FeatureInputConfig, info: ValidationInfo) -> FeatureInputConfig:
        extract = info.data.get("extract")
        if extract is not None and features.crop not in CROP_READINGS:
            count = CROPS_PER_MODE[extract.crops]
            if int(features.crop) >= count:
                raise _Bad(f"must be 'mean', 'per_crop_bags' or a crop index in [0, {count}) for extract.crops "
                           f"{extract.crops!r}, got {features.crop}", key="crop")
        return features

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DakdConfig:
        """Build from a config mapping; the workflow's top-level keys (``datasets``,
        ``reproduce``) are ignored, any other unknown key is an error."""
        try:
            return _validate(cls, data)
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc, cls)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- loading


def section_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild one config dataclass (e.g. a checkpoint's ModelConfig) from its dict form."""
    try:
        return _validate(cls, data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, cls, base=cls.__name__)) from None


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None,
                dataset: str | None = None) -> DakdConfig:
    """Read ``config.yaml`` (defaults when ``path`` is None), merge ``datasets.<dataset>.overrides``
    when a dataset is named, then apply ``a.b.c=value`` overrides.

    An error names where the offending value came from: the file, the dataset's overrides
    or the ``--set`` item."""
    data = read_config_file(path) if path is not None else {}
    source = path if path is not None else "config"
    states = [(f"{path}: " if path is not None else "", data)]
    if dataset is not None:
        data = dataset_config(data, dataset, source)
        states.append((f"{source}: datasets.{dataset}.overrides: ", data))
    for item in overrides or []:
        data = _apply_override(data, item)
        states.append((f"--set {item}: ", data))
    try:
        return _validate(DakdConfig, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        step = len(states) - 1
        while step > 0 and _has_error(states[step - 1][1], first):
            step -= 1
        raise ConfigError(_format_errors(exc, DakdConfig, states[step][0])) from None


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping in a YAML config file; an unreadable file is a ConfigError naming it."""
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({_one_line(exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file is a mapping of sections, got {_show(data)}")
    return data


def dataset_entry(path: str | os.PathLike, dataset: str) -> dict[str, Any]:
    """``datasets.<dataset>`` of a config file (kind, root, options, overrides)."""
    return dataset_config(read_config_file(path), dataset, path)["datasets"][dataset]


def dataset_config(data: dict[str, Any], dataset: str, source: Any = "config") -> dict[str, Any]:
    """``data`` with the dataset's ``overrides`` merged in (nested mappings merge, values replace)."""
    datasets = data.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise ConfigError(f"{source}: datasets must be a mapping of dataset names, got {_show(datasets)}")
    if dataset not in datasets:
        raise ConfigError(f"{source}: no dataset {dataset!r} under 'datasets' (have {sorted(datasets)})")
    entry = datasets[dataset]
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: datasets.{dataset} must be a mapping (kind, root, ...), got {_show(entry)}")
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: datasets.{dataset}.overrides must be a mapping of config sections, "
                          f"got {_show(overrides)}")
    return deep_merge(data, overrides)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "backbones":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` (value parsed as YAML) set; a
    malformed item is a ConfigError naming it."""
    for item in overrides:
        data = _apply_override(data, item)
    return copy.deepcopy(data)


def _apply_override(data: dict[str, Any], item: str) -> dict[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item}: not of the form key.path=value (e.g. teacher.optim.epochs=50)")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"--set {item}: the value {raw!r} is not valid YAML") from None
    try:
        return set_dotted(data, {key: value})
    except ConfigError as exc:
        raise ConfigError(f"--set {item}: {exc}") from None


def set_dotted(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted key set (mappings are replaced, not merged)."""
    data = copy.deepcopy(data)
    for key, value in changes.items():
        parts = str(key).split(".")
        if not all(parts):
            raise ConfigError(f"{key}: not a dotted config key (an empty part)")
        node = data
        for depth, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: cannot set a key inside {'.'.join(parts[:depth + 1])}, "
                                  f"which is {_show(node)}, not a mapping")
        node[parts[-1]] = copy.deepcopy(value)
    return data


# ---------------------------------------------------------------- the workflow's config.yaml

ENTRY_KEYS = ("kind", "root", "options", "overrides")
FEATURE_ENTRY_KEYS = ("naming", "sources", "ground_truth")
SOURCE_KEYS = ("train", "test", "feature_root", "layout", "crops")
# Options of the dataset adapters (dakd/datasets/adapters.py): file names under the root.
ADAPTER_OPTIONS = {
    "ucf_crime": ("train_list", "test_annotations"),
    "shanghaitech": ("train_list", "test_list", "test_frame_masks"),
    "xd_violence": ("train_dir", "test_dir", "test_annotations"),
}


def check_workflow_config(data: dict[str, Any], where: str) -> None:
    """Check a whole ``config.yaml`` mapping as the Snakemake workflow holds it, before any
    job runs: the top-level sections, and for every dataset under ``datasets`` its entry
    (keys, ``kind``, ``root``, the adapter's ``options``) and the config its ``overrides``
    make. The first problem is a one-line ConfigError starting with ``where``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config file is a mapping of sections, got {_show(data)}")
    try:
        DakdConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    datasets = data.get("datasets")
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"{where}: datasets must be a non-empty mapping of dataset names to entries "
                          f"(kind, root, ...), got {_show(datasets)}")
    for name, entry in datasets.items():
        _check_dataset_entry(name, entry, f"{where}: datasets.{name}")
        merged = dataset_config(data, name, where)
        try:
            DakdConfig.from_dict(merged)
        except ConfigError as exc:
            raise ConfigError(f"{where}: datasets.{name}.overrides: {exc}") from None


def _check_dataset_entry(name: Any, entry: Any, where: str) -> None:
    if not isinstance(name, str) or not SPLIT.fullmatch(name):
        raise ConfigError(f"{where}: a dataset name is a letter, then letters, digits, _ or -, got {_show(name)}")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping (kind, root, options, overrides), got {_show(entry)}")
    _check_keys(entry, ENTRY_KEYS + FEATURE_ENTRY_KEYS, where)
    kind = entry.get("kind")
    kinds = typing.get_args(DatasetKind)
    if kind not in kinds:
        raise ConfigError(f"{where}.kind must be one of {', '.join(kinds)}, got {_show(kind)}")
    for key in FEATURE_ENTRY_KEYS:
        if kind != "features" and key in entry:
            raise ConfigError(f"{where}.{key}: only a dataset of kind 'features' has this key (this one is {kind!r})")
    if not isinstance(entry.get("root"), str) or not entry["root"]:
        raise ConfigError(f"{where}.root must be the dataset's directory (a non-empty string), "
                          f"got {_show(entry.get('root'))}")
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{where}.options must be a mapping, got {_show(options)}")
    options = options or {}
    if kind == "demo":
        from .datasets.demo import DemoSpec  # here, not at the top: numpy and the adapters

        try:
            _validate(DemoSpec, options)
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc, DemoSpec, base=f"{where}.options")) from None
    elif kind in ADAPTER_OPTIONS:
        _check_keys(options, ADAPTER_OPTIONS[kind], f"{where}.options")
        for key, value in options.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}.options.{key} must be a path under the root (a string), "
                                  f"got {_show(value)}")
    if kind == "features":
        _check_feature_entry(entry, where)


def _check_feature_entry(entry: dict[str, Any], where: str) -> None:
    """``naming``, ``sources`` and ``ground_truth`` of released features (options: the importer's)."""
    namings = typing.get_args(FeatureNaming)
    if entry.get("naming") not in namings:
        raise ConfigError(f"{where}.naming must be one of {', '.join(namings)} (the rule that labels the "
                          f"videos), got {_show(entry.get('naming'))}")
    if not isinstance(entry.get("ground_truth"), str) or not entry["ground_truth"]:
        raise ConfigError(f"{where}.ground_truth must be the frame ground-truth file (a string), "
                          f"got {_show(entry.get('ground_truth'))}")
    sources = entry.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ConfigError(f"{where}.sources must be a non-empty mapping of backbone names to "
                          f"{{train, test, feature_root, layout}}, got {_show(sources)}")
    layouts = typing.get_args(FeatureLayout)
    for backbone, source in sources.items():
        here = f"{where}.sources.{backbone}"
        if not isinstance(source, dict):
            raise ConfigError(f"{here} must be a mapping (train, test, feature_root, layout), got {_show(source)}")
        _check_keys(source, SOURCE_KEYS, here)
        for key in ("train", "test", "feature_root"):
            if source.get(key) is not None and not isinstance(source[key], str):
                raise ConfigError(f"{here}.{key} must be a path (a string), got {_show(source[key])}")
        if source.get("layout") is not None and source["layout"] not in layouts:
            raise ConfigError(f"{here}.layout must be one of {', '.join(layouts)}, got {_show(source['layout'])}")
        crops = typing.get_args(FeatureCrops)
        if source.get("crops") is not None and source["crops"] not in crops:
            raise ConfigError(f"{here}.crops must be one of {', '.join(crops)}, got {_show(source['crops'])}")


def _check_keys(mapping: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: {_unknown(str(key), allowed)}")


# ---------------------------------------------------------------- validation and messages


def _validate(cls: type, data: Any) -> Any:
    """``cls`` validated from ``data`` (its missing keys keep their defaults); raises ValidationError."""
    if cls is DakdConfig and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in WORKFLOW_KEYS}
    return cls.__pydantic_validator__.validate_python(_with_defaults(cls, data))


def _has_error(data: Any, error: Any) -> bool:
    """Whether ``data`` has ``error`` (same key, same kind of problem) as a DakdConfig."""
    try:
        _validate(DakdConfig, data)
    except ValidationError as exc:
        return any((e["loc"], e["type"]) == (error["loc"], error["type"]) for e in exc.errors())
    return False


def _with_defaults(cls: type, data: Any) -> Any:
    """``data`` with each nested section given partially (or empty: ``teacher:``) completed
    from that field's default, which for ``student.model`` differs from ``ModelConfig()``.
    A mapping of named sections (``extract.backbones``) replaces the default whole."""
    if not isinstance(data, dict):
        return data
    fields = getattr(cls, "__pydantic_fields__", {})
    out = dict(data)
    default = None
    for name, value in data.items():
        info = fields.get(name)
        if info is None or not (value is None or isinstance(value, dict)):
            continue
        if dataclasses.is_dataclass(info.annotation):
            if default is None:
                default = cls()
            out[name] = _merge_defaults(dataclasses.asdict(getattr(default, name)), value or {})
        elif value is None and typing.get_origin(info.annotation) is dict:
            out[name] = {}
    return out


def _merge_defaults(default: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    merged = dict(default)
    for key, item in value.items():
        if key == "backbones" and isinstance(item, dict):  # named sections: replace the default whole
            merged[key] = {name: {} if entry is None else entry for name, entry in item.items()}
        elif isinstance(merged.get(key), dict) and (item is None or isinstance(item, dict)):
            merged[key] = _merge_defaults(merged[key], item or {})
        else:
            merged[key] = item
    return merged


def _format_errors(exc: ValidationError, cls: type, source: str = "", base: str = "") -> str:
    """One line for the first error: ``<source><base>.<dotted.key> must be <what>, got <value>``
    (``source``: where the value came from, e.g. ``"config.yaml: "``; ``base``: what the
    key is under, e.g. ``ModelConfig``)."""
    errors = exc.errors()
    key, problem = _format_error(errors[0], cls)
    key = ".".join(part for part in (base, key) if part) or "<config>"
    # "teacher.optim.epochs must be ..., got 0"; other problems after a colon: "teacher.x: unknown key; ..."
    message = f"{source}{key}{' ' if problem.startswith('must ') else ': '}{problem}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return _one_line(message)


def _format_error(error: Any, root: type) -> tuple[str, str]:
    """The dotted key of one pydantic error and the problem: ``must be <what>, got <value>``."""
    loc = list(error["loc"])
    if loc and isinstance(loc[0], int) and loc[0] < len(dataclasses.fields(root)):
        loc[0] = dataclasses.fields(root)[loc[0]].name  # a positional argument of the constructor
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    bad = ctx.get("error")
    if isinstance(bad, _Bad) and bad.key:
        loc += bad.key.split(".")
    owner, name = _owner(root, loc)
    key = _dotted(loc)
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        valid = tuple(getattr(owner, "__pydantic_fields__", {}))
        return key, _unknown(str(loc[-1]), valid + (WORKFLOW_KEYS if owner is DakdConfig else ()))
    if isinstance(bad, Exception) and not (isinstance(bad, _Bad) and bad.message is None):
        return key, bad.message if isinstance(bad, _Bad) else str(bad)
    if kind in ("dataclass_type", "dataclass_exact_type", "dict_type", "model_type"):
        return key, f"must be a mapping, got {_show(value)}"
    described = _describe(owner, name) if owner is not None and name is not None else None
    if described is None:
        described = {"list_type": "a list", "string_type": "a string"}.get(kind)
    if described is None:
        return key, f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {_show(value)}"
    return key, f"must be {described}, got {_show(value)}"


def _owner(root: type, loc: list[Any]) -> tuple[type | None, str | None]:
    """The dataclass holding the field ``loc`` points at, and the field's name."""
    cls, i = root, 0
    while i < len(loc) - 1:
        info = getattr(cls, "__pydantic_fields__", {}).get(loc[i])
        hint = _unwrap(info.annotation)[0] if info is not None else None
        if hint is not None and dataclasses.is_dataclass(hint):
            cls, i = hint, i + 1
        elif typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            cls, i = typing.get_args(hint)[1], i + 2
        else:
            return None, None
    return (cls, loc[i]) if i == len(loc) - 1 else (None, None)


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``hint`` without ``Optional`` and ``Annotated``, and whether it was optional."""
    optional = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return hint, optional


def _describe(cls: type, name: str) -> str | None:
    """What field ``name`` of ``cls`` accepts: ``an integer >= 1``, ``a number in [0, 1)``, ..."""
    info = getattr(cls, "__pydantic_fields__", {}).get(name)
    if info is None:
        return None
    hint, optional = _unwrap(info.annotation)
    if typing.get_origin(hint) is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(hint))
    elif hint is bool:
        text = "true or false"
    elif hint in (int, float):
        text = ("an integer" if hint is int else "a number") + _range(info.metadata)
    elif hint is str:
        text = "a string"
    else:
        return None
    return f"null or {text}" if optional else text


def _range(metadata: list[Any]) -> str:
    bounds = {}
    for item in metadata:
        for attr in ("gt", "ge", "lt", "le"):
            if getattr(item, attr, None) is not None:
                bounds[attr] = getattr(item, attr)
    low = ("gt", bounds["gt"]) if "gt" in bounds else ("ge", bounds["ge"]) if "ge" in bounds else None
    high = ("lt", bounds["lt"]) if "lt" in bounds else ("le", bounds["le"]) if "le" in bounds else None
    if low and high:
        return f" in {'(' if low[0] == 'gt' else '['}{low[1]:g}, {high[1]:g}{')' if high[0] == 'lt' else ']'}"
    symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    bound = low or high
    return f" {symbols[bound[0]]} {bound[1]:g}" if bound else ""


def _unknown(key: str, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"unknown key; did you mean {close[0]!r}?" if close else f"unknown key (valid: {', '.join(valid)})"


def _dotted(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _show(value: Any) -> str:
    """A value as the user wrote it, on one line and short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(message: Any) -> str:
    return " ".join(str(message).split()) if "\n" in str(message) or "\r" in str(message) else str(message)
