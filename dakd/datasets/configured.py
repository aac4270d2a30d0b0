"""Datasets named in a config file's ``datasets`` section: index one into its manifest and
annotations (``dakd index-dataset``), or write the synthetic demo (``dakd make-demo``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import ConfigError, dataset_entry
from .base import DatasetIndex, index_dataset, write_index


def index_configured_dataset(config: str | os.PathLike, dataset: str, manifest: str | os.PathLike,
                             annotations: str | os.PathLike) -> DatasetIndex:
    """Index ``datasets.<dataset>`` of ``config`` and write its manifest and annotations."""
    spec = dataset_entry(config, dataset)
    index = index_dataset(spec["kind"], spec["root"], spec.get("options"))
    write_index(index, manifest, annotations)
    return index


def make_configured_demo(out_dir: str | os.PathLike, seed: int, config: str | os.PathLike | None,
                         dataset: str) -> Path:
    """Write the demo data set; with ``config``, ``datasets.<dataset>.options`` set its size."""
    from ..config import DemoSpec
    from .demo import make_demo

    options = (dataset_entry(config, dataset).get("options") or {}) if config else {}
    try:
        spec = DemoSpec(**{"seed": seed, **options})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{config}: datasets.{dataset}.options: {exc}") from None
    return make_demo(out_dir, spec)
