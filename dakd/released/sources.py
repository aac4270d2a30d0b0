"""What an import reads: one :class:`FeatureSource` per backbone and the :class:`ImportSettings`,
from a ``features`` dataset of config.yaml or from ``dakd import-features`` options."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..config import ConfigError, dataset_entry
from ..datasets.base import DatasetError
from ..datasets.naming import LABEL_RULES
from ..errors import DakdError
from .errors import FeatureImportError


@dataclass(frozen=True)
class FeatureSource:
    """One backbone's released features: its lists per split, where the files are, the
    layout and which crops to take (``listed``: those the list names; ``all``: every crop
    file on disk)."""

    backbone: str
    lists: dict[str, Path]
    feature_root: Path | None = None
    layout: str = "auto"
    crops: str = "listed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lists", {split: Path(p) for split, p in self.lists.items()})
        if self.feature_root is not None:
            object.__setattr__(self, "feature_root", Path(self.feature_root))


@dataclass(frozen=True)
class ImportSettings:
    """How the videos are labelled (``kind``: a naming rule of :data:`dakd.datasets.naming.LABEL_RULES`),
    the frames per snippet and frame rate to record, videos per shard, and whether backbones
    whose snippet counts differ are cut to the shortest."""

    kind: str
    snippet_len: int = 16
    fps: float = 30.0
    shard_size: int = 16
    trim_to_shortest: bool = False

    def __post_init__(self) -> None:
        for name in ("snippet_len", "shard_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise FeatureImportError(f"options: {name} must be a whole number >= 1, got {value!r}")
        if (isinstance(self.fps, bool) or not isinstance(self.fps, numbers.Real) or not math.isfinite(self.fps)
                or self.fps <= 0):
            raise FeatureImportError(f"options: fps must be a finite number > 0, got {self.fps!r}")
        if not isinstance(self.trim_to_shortest, bool):
            raise FeatureImportError(f"options: trim_to_shortest must be true or false, got {self.trim_to_shortest!r}")


def sources_from_mapping(spec: dict[str, Any], where: Any) -> tuple[list[FeatureSource], ImportSettings, Path | None]:
    """Sources, settings and ground truth from a ``features`` dataset entry of config.yaml
    (its keys and choices already checked by :func:`dakd.config.dataset_entry`, or by the
    CLI's option parsing)::

        naming: ucf_crime              # label rule for .list files
        root: data/ucf                 # relative paths below are taken from here
        sources: {i3d: {train: a.list, test: b.list, feature_root: feats, layout: rtfm, crops: listed}}
        ground_truth: gt-ucf.npy       # or a folder of per-video files
        options: {snippet_len: 16, fps: 30, shard_size: 16, trim_to_shortest: false}
    """
    base = Path(spec.get("root") or ".")

    def path(value: Any) -> Path | None:
        return None if value in (None, "") else base / Path(value)

    if spec.get("naming") is None:
        raise FeatureImportError(f"{where}: say which naming rule labels the videos ('naming' / --kind: "
                                 f"one of {LABEL_RULES.names()})")
    sources_spec = spec.get("sources") or {}
    if not sources_spec:
        raise FeatureImportError(f"{where}: no feature sources (backbone -> train/test lists)")
    sources = []
    for backbone, entry in sources_spec.items():
        lists = {split: path(entry[split]) for split in ("train", "test") if entry.get(split)}
        if not lists:
            raise FeatureImportError(f"{where}: source {backbone!r} names no train or test list")
        sources.append(FeatureSource(backbone, lists, path(entry.get("feature_root")), entry.get("layout") or "auto",
                                     entry.get("crops") or "listed"))
    options = dict(spec.get("options") or {})
    known = [f.name for f in fields(ImportSettings) if f.name != "kind"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise FeatureImportError(f"{where}: options: unknown key(s) {unknown} (known: {', '.join(known)})")
    try:
        settings = ImportSettings(kind=spec["naming"], **options)
        LABEL_RULES.get(settings.kind)
    except (FeatureImportError, DatasetError) as exc:
        raise FeatureImportError(f"{where}: {exc}") from None
    return sources, settings, path(spec.get("ground_truth"))


def per_backbone(values: Sequence[str], option: str) -> dict[str | None, str]:
    """``NAME=VALUE`` items by backbone; a bare ``VALUE`` is stored under None (every backbone)."""
    out: dict[str | None, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        out[name if sep else None] = value if sep else name
    if option in ("--train", "--test") and None in out:
        raise DakdError(f"{option} takes BACKBONE=LIST, got {out[None]!r}")
    return out


def mapping_from_config(config: Any, dataset: str) -> dict[str, Any]:
    """The ``features`` dataset ``dataset`` of the config file ``config``, as a mapping."""
    if not config:
        raise ConfigError("--dataset needs --config")
    spec = dataset_entry(config, dataset)
    if spec.get("kind") != "features":
        raise ConfigError(f"{config}: dataset {dataset!r} is kind {spec.get('kind')!r}, "
                          "not 'features' (pre-extracted features to import)")
    return dict(spec)


def mapping_from_options(kind: str | None, train: Sequence[str], test: Sequence[str],
                         feature_root: Sequence[str], layout: Sequence[str], gt: str | None) -> dict[str, Any]:
    """The mapping ``dakd import-features`` options describe (``BACKBONE=LIST`` lists,
    ``[BACKBONE=]DIR`` roots and ``[BACKBONE=]LAYOUT`` layouts), as a config entry would."""
    lists = {"train": per_backbone(train, "--train"), "test": per_backbone(test, "--test")}
    roots, layouts = per_backbone(feature_root, "--feature-root"), per_backbone(layout, "--layout")
    names = list(dict.fromkeys([*lists["train"], *lists["test"]]))
    return {"naming": kind, "ground_truth": gt,
            "sources": {n: {**{sp: lists[sp][n] for sp in lists if n in lists[sp]},
                            "feature_root": roots.get(n, roots.get(None)),
                            "layout": layouts.get(n, layouts.get(None, "auto"))} for n in names}}


def plan_import(mapping: dict[str, Any], where: Any, all_crops: bool = False,
                options: dict[str, Any] | None = None) -> tuple[list[FeatureSource], ImportSettings, Path | None]:
    """:func:`sources_from_mapping` of ``mapping``, with every source taking all crops on disk
    when ``all_crops``, and ``options`` (None values left out) over the mapping's options."""
    mapping = dict(mapping)
    if all_crops:  # every crop file on disk, not only the listed ones, for every source
        mapping["sources"] = {n: {**(e or {}), "crops": "all"} for n, e in (mapping.get("sources") or {}).items()}
    given = {k: v for k, v in (options or {}).items() if v is not None}
    mapping["options"] = {**(mapping.get("options") or {}), **given}
    return sources_from_mapping(mapping, where)
