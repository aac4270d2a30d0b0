"""The config the workflow holds: command-line overrides read as YAML, checked against the schema
and dakd's own checks, written to the one file every job runs with, and per dataset (merged
overrides, typed config, GPU count) once when the Snakefile is parsed."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_path
from ..config import ConfigError, DakdConfig, check_workflow_config, dataset_config

EFFECTIVE_CONFIG_DIR = Path("results", ".config")
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def yaml_leaves(value: Any) -> Any:
    """--config reads a nested value with YAML's BaseLoader, so its leaves are all strings
    ('teacher={optim: {epochs: 3}}' gives epochs '3'); read each leaf as YAML instead."""
    if isinstance(value, dict):
        return {k: yaml_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_leaves(v) for v in value]
    if isinstance(value, str):
        if _EXPONENT.fullmatch(value):
            return float(value)  # YAML 1.1 wants a dot in 1.0e-3; 1e-3 is a number here too
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value


def command_line_overrides(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The nested values of ``--config`` (Snakemake's ``workflow.config_settings.config``), leaves
    typed as YAML; scalar values Snakemake has already typed."""
    return yaml_leaves({k: v for k, v in (settings or {}).items() if isinstance(v, (dict, list))})


def check_config(config: dict[str, Any], where: str, schema: str | os.PathLike) -> None:
    """``config`` against the JSON schema (Snakemake's validate, which fills in the schema's
    defaults) and dakd's own checks: the first problem is a one-line ConfigError starting with
    ``dakd: {where}``."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema))
    except WorkflowError as exc:
        error = exc.__context__  # the jsonschema ValidationError
        if not hasattr(error, "absolute_path"):
            raise
        key = ".".join(str(part) for part in error.absolute_path) or "<root>"
        raise ConfigError(f"dakd: {where}: {key}: {' '.join(error.message.split())}") from None
    try:
        check_workflow_config(config, where)
    except ConfigError as exc:
        raise ConfigError(f"dakd: {' '.join(str(exc).split())}") from None


def write_effective_config(config: dict[str, Any], directory: str | os.PathLike = EFFECTIVE_CONFIG_DIR) -> str:
    """Write ``config`` to ``<directory>/config-<digest>.yaml`` and return the path.

    Every rule passes this file to the dakd CLI, so a job runs with, and its outputs record,
    exactly this config: --config and --configfile overrides included. The name is a digest
    of the content, so a job that parses the Snakefile again (a SLURM job) finds the same file,
    and files never change once written (temporary file + rename, on a shared file system too).
    """
    text = ("# The configuration the dakd jobs run with: the workflow's config files and --config\n"
            "# overrides, written by workflow/rules/common.smk. Named by its content's digest.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    path = Path(directory, f"config-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml")
    try:
        if path.read_text() == text:
            return str(path)
    except (OSError, UnicodeDecodeError):
        pass
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return str(path)


def dataset_source(config: dict[str, Any], dataset: str) -> str:
    """What a dataset's files are made from (its entry without the per-stage overrides), so
    editing an override reruns the stages that read it, not the indexing or the import."""
    return json.dumps({k: v for k, v in config["datasets"][dataset].items() if k != "overrides"}, sort_keys=True)


@dataclass(frozen=True)
class Datasets:
    """Every dataset of a checked config, worked out once: its merged config (overrides applied),
    typed config, and the GPU count its heavy jobs ask for."""

    config: dict[str, Any]
    merged: dict[str, dict[str, Any]]
    typed: dict[str, DakdConfig]
    gpus: dict[str, int]

    @classmethod
    def of(cls, config: dict[str, Any], where: str) -> Datasets:
        merged = {d: dataset_config(config, d, where) for d in sorted(config["datasets"])}
        typed = {d: DakdConfig.from_dict(m) for d, m in merged.items()}
        return cls(config, merged, typed, {d: 0 if t.device == "cpu" else 1 for d, t in typed.items()})

    @property
    def names(self) -> list[str]:
        return list(self.merged)

    def of_kind(self, features: bool) -> list[str]:
        """Datasets given as pre-extracted features (``features=True``: no decoding, no extraction), or not."""
        return [d for d in self.names if (self.config["datasets"][d]["kind"] == "features") == features]

    def root(self, dataset: str) -> Path:
        return Path(self.config["datasets"][dataset]["root"])
