"""What an import reads: one :class:`FeatureSource` per backbone and the :class:`ImportSettings`,
from a ``features`` dataset of config.yaml or from ``dakd import-features`` options."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from ..config import ConfigError, dataset_entry
from ..datasets.base import DatasetError
from ..datasets.naming import LABEL_RULES
from ..errors import DakdError
from .errors import FeatureImportError


@dataclass(frozen=True)
class FeatureSource:
    """One backbone's released features: its lists per split, where the files are, the
    layout, which crops to take (``listed``: those the list names; ``all``: every crop
    file on disk) and the extractor tag its file names end in (``_<tag>``; None: the
    backbone's name)."""

    backbone: str
    lists: dict[str, Path]
    feature_root: Path | None = None
    layout: str = "auto"
    crops: str = "listed"
    tag: str | None = None

    @property
    def file_tag(self) -> str:
        return self.tag or self.backbone

    def __post_init__(self) -> None:
        object.__setattr__(self, "lists", {split: Path(p) for split, p in self.lists.items()})
        if self.feature_root is not None:
            object.__setattr__(self, "feature_root", Path(self.feature_root))


@dataclass(frozen=True)
class ImportSettings:
    """How the videos are labelled (``kind``: a naming rule of :data:`dakd.datasets.naming.LABEL_RULES`,
    or None; ``anomalous_first``: split -> N, the first N videos of that split's lists are
    anomalous and the rest normal), the frames per snippet and frame rate to record, videos
    per shard, and whether backbones whose snippet counts differ are cut to the shortest."""

    kind: str | None = None
    snippet_len: int = 16
    fps: float = 30.0
    shard_size: int = 16
    trim_to_shortest: bool = False
    anomalous_first: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split, count in self.anomalous_first.items():
            if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
                raise FeatureImportError(f"anomalous_first.{split} must be a whole number >= 0 (the first N videos "
                                         f"of the {split} list are anomalous), got {count!r}")
        for name in ("snippet_len", "shard_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise FeatureImportError(f"options: {name} must be a whole number >= 1, got {value!r}")
        if (isinstance(self.fps, bool) or not isinstance(self.fps, numbers.Real) or not math.isfinite(self.fps)
                or self.fps <= 0):
            raise FeatureImportError(f"options: fps must be a finite number > 0, got {self.fps!r}")
        if not isinstance(self.trim_to_shortest, bool):
            raise FeatureImportError(f"options: trim_to_shortest must be true or false, got {self.trim_to_shortest!r}")


class ImportPlan(NamedTuple):
    """What one import reads: the sources, the settings, the ground truth to import and a second
    ground truth of the same videos to compare it with (or None)."""

    sources: list[FeatureSource]
    settings: ImportSettings
    ground_truth: Path | None
    compare_ground_truth: Path | None = None


def sources_from_mapping(spec: dict[str, Any], where: Any) -> ImportPlan:
    """Sources, settings and ground truth from a ``features`` dataset entry of config.yaml
    (its keys and choices already checked by :func:`dakd.config.dataset_entry`, or by the
    CLI's option parsing)::

        naming: ucf_crime              # label rule for .list files (optional when labels are known otherwise)
        anomalous_first: {train: 810}  # the first N videos of a split's lists are anomalous
        root: data/ucf                 # relative paths below are taken from here
        sources: {i3d: {train: a.list, test: b.list, feature_root: feats, layout: rtfm, crops: listed, tag: i3d}}
        ground_truth: gt-ucf.npy       # or a folder of per-video files
        compare_ground_truth: other.npy  # optional: how another ground truth of these videos differs
        options: {snippet_len: 16, fps: 30, shard_size: 16, trim_to_shortest: false}
    """
    base = Path(spec.get("root") or ".")

    def path(value: Any) -> Path | None:
        return None if value in (None, "") else base / Path(value)

    sources_spec = spec.get("sources") or {}
    if not sources_spec:
        raise FeatureImportError(f"{where}: no feature sources (backbone -> train/test lists)")
    sources = []
    for backbone, entry in sources_spec.items():
        lists = {split: path(entry[split]) for split in ("train", "test") if entry.get(split)}
        if not lists:
            raise FeatureImportError(f"{where}: source {backbone!r} names no train or test list")
        sources.append(FeatureSource(backbone, lists, path(entry.get("feature_root")), entry.get("layout") or "auto",
                                     entry.get("crops") or "listed", entry.get("tag")))
    options = dict(spec.get("options") or {})
    known = [f.name for f in fields(ImportSettings) if f.name not in ("kind", "anomalous_first")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise FeatureImportError(f"{where}: options: unknown key(s) {unknown} (known: {', '.join(known)})")
    try:
        settings = ImportSettings(kind=spec.get("naming"), anomalous_first=dict(spec.get("anomalous_first") or {}),
                                  **options)
        if settings.kind is not None:
            LABEL_RULES.get(settings.kind)
    except (FeatureImportError, DatasetError) as exc:
        raise FeatureImportError(f"{where}: {exc}") from None
    return ImportPlan(sources, settings, path(spec.get("ground_truth")), path(spec.get("compare_ground_truth")))


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
                         feature_root: Sequence[str], layout: Sequence[str], gt: str | None,
                         tags: Sequence[str] = (), anomalous_first: Sequence[str] = (),
                         compare_gt: str | None = None) -> dict[str, Any]:
    """The mapping ``dakd import-features`` options describe (``BACKBONE=LIST`` lists,
    ``[BACKBONE=]DIR`` roots, ``[BACKBONE=]LAYOUT`` layouts, ``[BACKBONE=]TAG`` tags and
    ``SPLIT=N`` label orders), as a config entry would."""
    lists = {"train": per_backbone(train, "--train"), "test": per_backbone(test, "--test")}
    roots, layouts = per_backbone(feature_root, "--feature-root"), per_backbone(layout, "--layout")
    tag_of = per_backbone(tags, "--tag")
    names = list(dict.fromkeys([*lists["train"], *lists["test"]]))
    return {"naming": kind, "ground_truth": gt, "compare_ground_truth": compare_gt,
            "anomalous_first": _split_counts(anomalous_first),
            "sources": {n: {**{sp: lists[sp][n] for sp in lists if n in lists[sp]},
                            "feature_root": roots.get(n, roots.get(None)),
                            "layout": layouts.get(n, layouts.get(None, "auto")),
                            "tag": tag_of.get(n, tag_of.get(None))} for n in names}}


def _split_counts(items: Sequence[str]) -> dict[str, int]:
    """``--anomalous-first SPLIT=N`` items as ``{split: N}``."""
    out = {}
    for item in items:
        split, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise DakdError(f"--anomalous-first takes SPLIT=N (the first N videos of that split's lists are "
                            f"anomalous), got {item!r}")
        out[split.strip()] = int(count)
    return out


def plan_import(mapping: dict[str, Any], where: Any, all_crops: bool = False,
                options: dict[str, Any] | None = None) -> ImportPlan:
    """:func:`sources_from_mapping` of ``mapping``, with every source taking all crops on disk
    when ``all_crops``, and ``options`` (None values left out) over the mapping's options."""
    mapping = dict(mapping)
    if all_crops:  # every crop file on disk, not only the listed ones, for every source
        mapping["sources"] = {n: {**(e or {}), "crops": "all"} for n, e in (mapping.get("sources") or {}).items()}
    given = {k: v for k, v in (options or {}).items() if v is not None}
    mapping["options"] = {**(mapping.get("options") or {}), **given}
    return sources_from_mapping(mapping, where)
