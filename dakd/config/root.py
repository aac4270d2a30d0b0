"""The whole configuration (:class:`DakdConfig`), reading it and applying overrides."""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import field
from typing import Any, ClassVar

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from .base import Int, config_dataclass, has_error, validate
from .choices import CROP_READINGS, CROPS_PER_MODE, DEVICE, WORKFLOW_KEYS
from .data import EvaluateConfig, ExtractConfig, FeatureInputConfig, ProbeConfig, ScoreConfig, ValidationConfig
from .messages import Bad, ConfigError, format_errors, one_line, show
from .training import PseudoLabelConfig, StudentConfig, TeacherConfig


@config_dataclass
class DakdConfig:
    # top-level keys of config.yaml that belong to the workflow, not to a stage
    ignored_keys: ClassVar[tuple[str, ...]] = WORKFLOW_KEYS

    seed: Int = Field(default=0, ge=0)
    device: str = "auto"
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    features: FeatureInputConfig = field(default_factory=FeatureInputConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    pseudo_labels: PseudoLabelConfig = field(default_factory=PseudoLabelConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if not DEVICE.fullmatch(device):
            raise Bad(f"must be one of auto, cpu, cuda, cuda:N, got {show(device)}")
        return device

    @field_validator("features")
    @classmethod
    def _crop_exists(cls, features: FeatureInputConfig, info: ValidationInfo) -> FeatureInputConfig:
        extract = info.data.get("extract")
        if extract is not None and features.crop not in CROP_READINGS:
            count = CROPS_PER_MODE[extract.crops]
            if int(features.crop) >= count:
                raise Bad(f"must be 'mean', 'per_crop_bags' or a crop index in [0, {count}) for extract.crops "
                           f"{extract.crops!r}, got {features.crop}", key="crop")
        return features

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DakdConfig:
        """Build from a config mapping; the workflow's top-level keys (``datasets``,
        ``reproduce``) are ignored, any other unknown key is an error."""
        try:
            return validate(cls, data)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, cls)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- loading


def section_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild one config dataclass (e.g. a checkpoint's ModelConfig) from its dict form."""
    try:
        return validate(cls, data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, cls, base=cls.__name__)) from None


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
        return validate(DakdConfig, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        step = len(states) - 1
        while step > 0 and has_error(DakdConfig, states[step - 1][1], first):
            step -= 1
        raise ConfigError(format_errors(exc, DakdConfig, states[step][0])) from None


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping in a YAML config file; an unreadable file is a ConfigError naming it."""
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        if "=" in str(path) and not os.path.exists(path):  # the dotted form given where a file goes
            raise ConfigError(f"{path}: no such config file; --config takes a file, and one value is set with "
                              f"--set {path}") from None
        raise ConfigError(f"{path}: cannot read config ({one_line(exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file is a mapping of sections, got {show(data)}")
    return data


def dataset_config(data: dict[str, Any], dataset: str, source: Any = "config") -> dict[str, Any]:
    """``data`` with the dataset's ``overrides`` merged in (nested mappings merge, values replace)."""
    datasets = data.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise ConfigError(f"{source}: datasets must be a mapping of dataset names, got {show(datasets)}")
    if dataset not in datasets:
        raise ConfigError(f"{source}: no dataset {dataset!r} under 'datasets' (have {sorted(datasets)})")
    entry = datasets[dataset]
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: datasets.{dataset} must be a mapping (kind, root, ...), got {show(entry)}")
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: datasets.{dataset}.overrides must be a mapping of config sections, "
                          f"got {show(overrides)}")
    try:
        return deep_merge(data, expand_dotted(overrides))
    except ConfigError as exc:
        raise ConfigError(f"{source}: datasets.{dataset}.overrides.{exc}") from None


def expand_dotted(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with each dotted key (``teacher.optim.epochs: 30``, the form ``--set`` takes)
    made nested; dotted keys apply after the nested ones, so the more specific wins."""
    dotted = {k: v for k, v in mapping.items() if "." in str(k)}
    if not dotted:
        return mapping
    return set_dotted({k: v for k, v in mapping.items() if k not in dotted}, dotted)


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
    key, value = parse_override(item)
    try:
        return set_dotted(data, {key: value})
    except ConfigError as exc:
        raise ConfigError(f"--set {item}: {exc}") from None


def parse_override(item: str, flag: str = "--set ") -> tuple[str, Any]:
    """``(dotted key, value)`` of one ``a.b.c=value`` item (the value read as YAML); a malformed
    item is a ConfigError starting with ``flag`` and the item."""
    key, sep, raw = str(item).partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{flag}{item}: not of the form key.path=value (e.g. teacher.optim.epochs=50)")
    if not all(key.split(".")):
        raise ConfigError(f"{flag}{item}: {key}: not a dotted config key (an empty part)")
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"{flag}{item}: the value {raw!r} is not valid YAML") from None


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
                                  f"which is {show(node)}, not a mapping")
        node[parts[-1]] = copy.deepcopy(value)
    return data


