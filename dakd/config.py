"""Typed configuration for the learning stages, read from the ``config.yaml`` the workflow uses.

Defaults are the paper's values (see ``SPEC.md``). Unknown keys inside a section are an
error, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import DakdError


class ConfigError(DakdError):
    """The configuration is malformed."""


@dataclass
class AttentionTerms:
    """The four logit terms of the disentangled attention (Table 5 switches them)."""

    self_c2c: bool = True
    cross_c2c: bool = True
    c2p: bool = True
    p2c: bool = True


@dataclass
class ModelConfig:
    """Projection MLPs + temporal network + scoring head."""

    temporal: str = "tam"
    width: int = 512
    heads: int = 8
    ffn_dim: int = 1024
    max_relative_distance: int = 25
    terms: AttentionTerms = field(default_factory=AttentionTerms)
    dropout: float = 0.1
    head_dropout: float = 0.6


@dataclass
class OptimConfig:
    """A stage's training loop: Adagrad with one learning rate for the temporal network and
    one for the rest, balanced batches, and the precision of the forward matmuls."""

    epochs: int = 100
    lr_temporal: float = 1e-4
    lr_other: float = 1e-3
    weight_decay: float = 1e-3
    normal_per_batch: int = 30
    anomalous_per_batch: int = 30
    # fp32, or bf16: matmuls in bfloat16 under torch.autocast, while weights, optimizer
    # state and losses stay float32 (1.9x faster on an AVX512-BF16 CPU; its matmuls are slower without one).
    precision: str = "fp32"


@dataclass
class MILConfig:
    """Sultani et al.'s MIL ranking loss weights."""

    lambda_smooth: float = 8e-5
    lambda_sparse: float = 8e-5


@dataclass
class TeacherConfig:
    backbones: list[str] = field(default_factory=lambda: ["i3d", "s3d", "clip"])
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mil: MILConfig = field(default_factory=MILConfig)


@dataclass
class PseudoLabelConfig:
    """Refinement of teacher scores into student targets (Eq. 6)."""

    moving_average: bool = True
    window: int = 5
    min_max: bool = True
    # A video whose smoothed scores are all equal cannot be min-max normalised: it gets
    # all ones when that flat score is >= this threshold, all zeros otherwise.
    flat_threshold: float = 0.5


@dataclass
class DistillConfig:
    """Bi-level distillation: L_d = L_bce + alpha * tau^2 * L_nce (Eq. 8)."""

    use_bce: bool = True
    use_nce: bool = True
    alpha: float = 7.5
    tau: float = 1.0
    delta: float = 0.9
    # What is thresholded at delta to split InfoNCE anchors: the teacher's raw scores (the
    # paper's "Teacher's predictions") or the refined pseudo-labels (min-max puts every
    # anomalous video's top segments at 1, so anchors exist even for a timid teacher).
    anchors: str = "teacher_scores"
    projection_hidden: int = 512
    projection_dim: int = 128


def _student_model() -> ModelConfig:
    return ModelConfig(terms=AttentionTerms(cross_c2c=False))


@dataclass
class StudentConfig:
    backbone: str = "clip"
    model: ModelConfig = field(default_factory=_student_model)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)


@dataclass
class FeatureInputConfig:
    """How stored snippet features become model inputs."""

    segments: int = 32
    crop: str = "mean"


@dataclass
class EvaluateConfig:
    """Frame-level evaluation.

    ``unit``: ``snippet`` scores every snippet of a test video (RTFM / UR-DMU / VadCLIP
    protocol); ``segment`` scores the 32 training segments and spreads them over frames.
    ``max_window``: longest snippet sequence given to the model at once; longer test
    videos are scored in consecutive windows to bound attention memory (null: no limit).
    ``metric``: the headline number, ``auc`` (UCF-Crime, ShanghaiTech) or ``ap`` (XD-Violence).
    """

    unit: str = "snippet"
    max_window: int | None = 4096
    metric: str = "auc"


@dataclass
class BackboneConfig:
    """One feature extractor.

    ``weights``: ``pretrained`` (the library's own download), ``random`` (tests only; stamped
    in the shard metadata) or the path of a local checkpoint. ``model`` and
    ``pretrained_tag`` name an open_clip model and its weights. ``size`` shrinks the input
    of randomly initialised models for tests and is refused with real weights.
    """

    arch: str = "s3d"
    weights: str = "pretrained"
    model: str = ""
    pretrained_tag: str = ""
    size: int | None = None


def _default_backbones() -> dict[str, BackboneConfig]:
    return {
        "i3d": BackboneConfig(arch="inception_i3d", weights="checkpoints/rgb_imagenet.pt"),
        "s3d": BackboneConfig(arch="s3d"),
        "clip": BackboneConfig(arch="open_clip", model="ViT-B-16-quickgelu", pretrained_tag="openai"),
    }


@dataclass
class ExtractConfig:
    """Video decoding and feature extraction."""

    backbones: dict[str, BackboneConfig] = field(default_factory=_default_backbones)
    snippet_len: int = 16
    snippet_stride: int = 16
    crops: str = "ten"
    decode_short_side: int = 256
    batch_snippets: int = 8
    num_workers: int = 2
    video_timeout_s: float = 1800.0
    videos_per_worker: int = 16
    shard_size: int = 32
    precision: str = "auto"


@dataclass
class ValidationConfig:
    """Model selection on a held-out split (never the test split).

    With ``split`` set (a split name present in the shards, with frame annotations), the
    model is scored on it every ``every`` epochs with ``evaluate.metric`` and the best epoch
    is kept; with ``split: null`` the last epoch is the model.
    """

    split: str | None = None
    every: int = 1


@dataclass
class DakdConfig:
    seed: int = 0
    device: str = "auto"
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    features: FeatureInputConfig = field(default_factory=FeatureInputConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    pseudo_labels: PseudoLabelConfig = field(default_factory=PseudoLabelConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DakdConfig:
        """Build from a config mapping; top-level keys that belong to the workflow are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return _build(cls, {k: v for k, v in data.items() if k in known}, "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def section_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild one config dataclass (e.g. a checkpoint's ModelConfig) from its dict form."""
    return _build(cls, data, cls.__name__)


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None,
                dataset: str | None = None) -> DakdConfig:
    """Read ``config.yaml`` (defaults when ``path`` is None), merge ``datasets.<dataset>.overrides``
    when a dataset is named, then apply ``a.b.c=value`` overrides."""
    data = read_config_file(path) if path is not None else {}
    if dataset is not None:
        data = dataset_config(data, dataset, path)
    return DakdConfig.from_dict(apply_overrides(data, overrides or []))


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping in a YAML config file; an unreadable file is a ConfigError naming it."""
    try:
        with open(path) as fh:
            return yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc


def dataset_entry(path: str | os.PathLike, dataset: str) -> dict[str, Any]:
    """``datasets.<dataset>`` of a config file (kind, root, options, overrides)."""
    return dataset_config(read_config_file(path), dataset, path)["datasets"][dataset]


def dataset_config(data: dict[str, Any], dataset: str, source: Any = "config") -> dict[str, Any]:
    """``data`` with the dataset's ``overrides`` merged in (nested mappings merge, values replace)."""
    datasets = data.get("datasets") or {}
    if dataset not in datasets:
        raise ConfigError(f"{source}: no dataset {dataset!r} under 'datasets' (have {sorted(datasets)})")
    return deep_merge(data, datasets[dataset].get("overrides") or {})


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "backbones":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` (value parsed as YAML) set."""
    changes = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        changes[key] = yaml.safe_load(raw)
    return set_dotted(data, changes)


def set_dotted(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted key set (mappings are replaced, not merged)."""
    data = copy.deepcopy(data)
    for key, value in changes.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = copy.deepcopy(value)
    return data


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config section {where or '<root>'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) {sorted(unknown)} in {where or '<root>'!r}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        path = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            default = getattr(cls(), name)
            merged = {**dataclasses.asdict(default), **(value or {})}
            kwargs[name] = _build(hint, merged, path)
        elif typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            # A mapping of named sections (e.g. extract.backbones) replaces the default whole.
            if not isinstance(value, dict):
                raise ConfigError(f"config key {path!r} must be a mapping, got {value!r}")
            item = typing.get_args(hint)[1]
            kwargs[name] = {k: _build(item, v or {}, f"{path}.{k}") for k, v in value.items()}
        else:
            kwargs[name] = _coerce(hint, value, path)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key {where!r} must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(item, v, where) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {where!r} must be true/false, got {value!r}")
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, (str, int)):
        return str(value)
    raise ConfigError(f"config key {where!r} must be {getattr(hint, '__name__', hint)}, got {value!r}")
