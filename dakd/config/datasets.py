"""The workflow's ``datasets`` entries (kind, root, options, overrides) and the demo's options."""

from __future__ import annotations

import os
import typing
from typing import Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from ..ids import SPLIT
from .base import Float, Int, config_dataclass, validate
from .choices import DatasetKind, FeatureCrops, FeatureLayout, FeatureNaming
from .messages import ConfigError, check_keys, format_errors, show
from .root import DakdConfig, dataset_config, read_config_file

# The fewest frames a video may have: an event of at least 4 frames must fit inside it.
MIN_FRAMES = 5


@config_dataclass
class DemoSpec:
    """What :func:`make_demo` writes (``datasets.<name>.options`` of a ``demo`` dataset); a
    value out of range is a one-line ConfigError when the spec is made."""

    train_normal: Int = Field(default=40, ge=1)
    train_anomalous: Int = Field(default=40, ge=1)
    test_normal: Int = Field(default=10, ge=0)
    test_anomalous: Int = Field(default=10, ge=0)
    width: Int = Field(default=96, ge=16)
    height: Int = Field(default=72, ge=16)
    fps: Int = Field(default=15, ge=1)
    min_seconds: Float = Field(default=8.0, gt=0)
    max_seconds: Float = Field(default=14.0, gt=0)
    cameras: Int = Field(default=4, ge=1)
    seed: Int = Field(default=0, ge=0)

    @field_validator("min_seconds")
    @classmethod
    def _enough_frames(cls, min_seconds: float, info: ValidationInfo) -> float:
        fps = info.data.get("fps")
        if fps is not None and min_seconds * fps < MIN_FRAMES:
            raise ValueError(f"min_seconds * fps must be at least {MIN_FRAMES} frames, "
                             f"got {min_seconds:g} * {fps} = {min_seconds * fps:g}")
        return min_seconds

    @field_validator("max_seconds")
    @classmethod
    def _longer_than_min(cls, max_seconds: float, info: ValidationInfo) -> float:
        min_seconds = info.data.get("min_seconds")
        if min_seconds is not None and max_seconds < min_seconds:
            raise ValueError(f"must be >= min_seconds ({min_seconds:g}), got {max_seconds:g}")
        return max_seconds


ENTRY_KEYS = ("kind", "root", "options", "overrides")
FEATURE_ENTRY_KEYS = ("naming", "anomalous_first", "sources", "ground_truth", "compare_ground_truth")
SOURCE_KEYS = ("train", "test", "feature_root", "layout", "crops", "tag")
LIST_SPLITS = ("train", "test")
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
        raise ConfigError(f"{where}: a config file is a mapping of sections, got {show(data)}")
    try:
        DakdConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    datasets = data.get("datasets")
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"{where}: datasets must be a non-empty mapping of dataset names to entries "
                          f"(kind, root, ...), got {show(datasets)}")
    for name, entry in datasets.items():
        _check_dataset_entry(name, entry, f"{where}: datasets.{name}")
        merged = dataset_config(data, name, where)
        try:
            DakdConfig.from_dict(merged)
        except ConfigError as exc:
            raise ConfigError(f"{where}: datasets.{name}.overrides: {exc}") from None


def dataset_entry(path: str | os.PathLike, dataset: str) -> dict[str, Any]:
    """``datasets.<dataset>`` of a config file (kind, root, options, overrides), checked as
    the workflow checks it: its keys, ``kind``, and a ``features`` entry's sources."""
    entry = dataset_config(read_config_file(path), dataset, path)["datasets"][dataset]
    _check_dataset_entry(dataset, entry, f"{path}: datasets.{dataset}")
    return entry


def _check_dataset_entry(name: Any, entry: Any, where: str) -> None:
    if not isinstance(name, str) or not SPLIT.fullmatch(name):
        raise ConfigError(f"{where}: a dataset name is a letter, then letters, digits, _ or -, got {show(name)}")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping (kind, root, options, overrides), got {show(entry)}")
    check_keys(entry, ENTRY_KEYS + FEATURE_ENTRY_KEYS, where)
    kind = entry.get("kind")
    kinds = typing.get_args(DatasetKind)
    if kind not in kinds:
        raise ConfigError(f"{where}.kind must be one of {', '.join(kinds)}, got {show(kind)}")
    for key in FEATURE_ENTRY_KEYS:
        if kind != "features" and key in entry:
            raise ConfigError(f"{where}.{key}: only a dataset of kind 'features' has this key (this one is {kind!r})")
    if not isinstance(entry.get("root"), str) or not entry["root"]:
        raise ConfigError(f"{where}.root must be the dataset's directory (a non-empty string), "
                          f"got {show(entry.get('root'))}")
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{where}.options must be a mapping, got {show(options)}")
    options = options or {}
    if kind == "demo":
        try:
            validate(DemoSpec, options)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, DemoSpec, base=f"{where}.options")) from None
    elif kind in ADAPTER_OPTIONS:
        check_keys(options, ADAPTER_OPTIONS[kind], f"{where}.options")
        for key, value in options.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}.options.{key} must be a path under the root (a string), "
                                  f"got {show(value)}")
    if kind == "features":
        _check_feature_entry(entry, where)


def _check_feature_entry(entry: dict[str, Any], where: str) -> None:
    """``naming``, ``anomalous_first``, ``sources`` and ``ground_truth`` of released features
    (options: the importer's). Neither label source is required here: lists with a label
    column need none, and the importer names the first video nothing labels."""
    namings = typing.get_args(FeatureNaming)
    if entry.get("naming") is not None and entry["naming"] not in namings:
        raise ConfigError(f"{where}.naming must be one of {', '.join(namings)} (the rule that labels the "
                          f"videos by name), got {show(entry.get('naming'))}")
    order = entry.get("anomalous_first")
    if order is not None:
        if not isinstance(order, dict):
            raise ConfigError(f"{where}.anomalous_first must map a split (train, test) to N, the number of "
                              f"anomalous videos that open its lists, got {show(order)}")
        check_keys(order, LIST_SPLITS, f"{where}.anomalous_first")
        for split, count in order.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ConfigError(f"{where}.anomalous_first.{split} must be a whole number >= 0, got {show(count)}")
    if not isinstance(entry.get("ground_truth"), str) or not entry["ground_truth"]:
        raise ConfigError(f"{where}.ground_truth must be the frame ground-truth file (a string), "
                          f"got {show(entry.get('ground_truth'))}")
    compare = entry.get("compare_ground_truth")
    if compare is not None and (not isinstance(compare, str) or not compare):
        raise ConfigError(f"{where}.compare_ground_truth must be a second ground-truth file or folder (a string), "
                          f"got {show(compare)}")
    sources = entry.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ConfigError(f"{where}.sources must be a non-empty mapping of backbone names to "
                          f"{{train, test, feature_root, layout}}, got {show(sources)}")
    layouts = typing.get_args(FeatureLayout)
    for backbone, source in sources.items():
        here = f"{where}.sources.{backbone}"
        if not isinstance(source, dict):
            raise ConfigError(f"{here} must be a mapping (train, test, feature_root, layout), got {show(source)}")
        check_keys(source, SOURCE_KEYS, here)
        for key in ("train", "test", "feature_root"):
            if source.get(key) is not None and not isinstance(source[key], str):
                raise ConfigError(f"{here}.{key} must be a path (a string), got {show(source[key])}")
        tag = source.get("tag")
        if tag is not None and (not isinstance(tag, str) or not SPLIT.fullmatch(tag)):
            raise ConfigError(f"{here}.tag must be the extractor tag of the file names (Video_<tag>.npy: a "
                              f"letter, then letters, digits, _ or -), got {show(tag)}")
        if source.get("layout") is not None and source["layout"] not in layouts:
            raise ConfigError(f"{here}.layout must be one of {', '.join(layouts)}, got {show(source['layout'])}")
        crops = typing.get_args(FeatureCrops)
        if source.get("crops") is not None and source["crops"] not in crops:
            raise ConfigError(f"{here}.crops must be one of {', '.join(crops)}, got {show(source['crops'])}")
