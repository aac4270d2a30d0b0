"""The paper's tables and figures as *studies*: rows of config changes, each run over seeds.

A study (config ``reproduce.studies.<name>``) lists rows; a row is a set of dotted config
changes (``teacher.model.temporal: mtn``) and the models it reports. Rows can be written
out, generated from a sweep (``sweep: {parameter, keys, values}``) or from every non-empty
subset of a list (``subsets: {key, of}``). Each row runs once per seed in
``reproduce.seeds``.

Runs are content-addressed: a run's teacher lives in ``runs/t<digest>`` where the digest
covers every config section that decides the teacher (seed included), its pseudo-labels
in ``t<..>/p<digest>`` and its student in ``t<..>/p<..>/s<digest>``. Rows that differ only
in student settings therefore share one teacher per seed, and a study reruns nothing
another study has already trained. Which sections each stage reads, the digest width and the
directory patterns are :mod:`dakd.workflow.sections`.

The evaluation settings (``evaluate``) decide a model only when a validation split picks
its epoch; otherwise rows that differ only in them share the checkpoints and differ in the
result file: ``<model>_auc.json`` with the dataset's own settings, ``<model>_auc.e<digest>.json``
(the digest of the row's ``evaluate`` section) with others. Changing ``evaluate.unit``
therefore re-evaluates the same checkpoints instead of training new ones.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, DakdConfig, dataset_config, set_dotted
from .config.messages import check_keys
from .provenance import config_digest
from .workflow.sections import DIGEST_CHARS, EVALUATION, RUN_STAGES, STAGE_SECTIONS, run_digest_sections

MODELS = ("teacher", "student")
# The learning stages in pipeline order (the map of the sections each reads: dakd.workflow.sections).
STAGES = tuple(RUN_STAGES)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
# What a study row may change: the sections the learning stages and the evaluation read.
READABLE = frozenset(s for stage in (*STAGES, EVALUATION) for s in STAGE_SECTIONS[stage]) | {EVALUATION}


@dataclass(frozen=True)
class Row:
    """One line of a study: config changes and the models it reports.

    ``paper`` maps a dataset kind to the paper's number for the row's last model.
    """

    label: str
    changes: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = MODELS
    paper: dict[str, float] = field(default_factory=dict)
    x: float | None = None


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    row_header: str
    rows: tuple[Row, ...]
    parameter: str | None = None  # a sweep's x axis; None for tables

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for m in MODELS if any(m in row.models for row in self.rows))


@dataclass(frozen=True)
class Run:
    """A row at one seed. Directories are relative to ``results/<dataset>/runs``."""

    row: Row
    seed: int
    dirs: dict[str, str]  # stage -> directory holding that stage's output
    changes: dict[str, dict[str, Any]]  # stage -> the dotted changes (seed included) that stage sees
    evaluate: dict[str, Any]  # the resolved evaluate section its models are scored with
    evaluation: str | None  # an e<digest> tag when that section differs from the dataset's own

    def result(self, model: str) -> str:
        """Relative path of the model's evaluation JSON."""
        tag = "" if self.evaluation is None else f".{self.evaluation}"
        return f"{self.dirs[model]}/{model}_auc{tag}.json"

    def evaluation_changes(self, model: str) -> dict[str, Any]:
        """The dotted changes the evaluation of ``model`` runs with: its stage's and the row's
        ``evaluate`` keys."""
        return {**self.changes[model], **{k: v for k, v in self.row.changes.items() if k.split(".")[0] == EVALUATION}}


# ---------------------------------------------------------------- parsing


STUDY_KEYS = ("title", "row_header", "models", "rows", "sweep", "subsets")
ROW_KEYS = ("label", "set", "models", "paper")


def parse_studies(spec: dict[str, Any], where: Any = "config") -> dict[str, Study]:
    """``reproduce.studies`` -> {name: Study}."""
    studies = {}
    for name, entry in (spec.get("studies") or {}).items():
        context = f"{where}: reproduce.studies.{name}"
        check_keys(entry, STUDY_KEYS, context)
        models = _models(entry.get("models", MODELS), context)
        kinds = [k for k in ("rows", "sweep", "subsets") if k in entry]
        if len(kinds) != 1:
            raise ConfigError(f"{context}: give exactly one of rows, sweep, subsets (got {kinds})")
        parameter = None
        if "rows" in entry:
            rows = tuple(_row(r, models, f"{context}.rows[{i}]") for i, r in enumerate(entry["rows"]))
        elif "sweep" in entry:
            sweep = entry["sweep"]
            if not all(sweep.get(k) for k in ("parameter", "keys", "values")):
                raise ConfigError(f"{context}: a sweep needs 'parameter', 'keys' and 'values'")
            parameter = sweep["parameter"]
            rows = tuple(Row(f"{parameter}={v}", {k: v for k in sweep["keys"]}, models, x=float(v))
                         for v in sweep["values"])
        else:
            subsets = entry["subsets"]
            items = list(subsets["of"])
            rows = tuple(Row(" + ".join(c), {subsets["key"]: list(c)}, models)
                         for n in range(1, len(items) + 1) for c in itertools.combinations(items, n))
        if not rows:
            raise ConfigError(f"{context}: no rows")
        studies[name] = Study(name, entry.get("title", name), entry.get("row_header", parameter or "Variant"),
                              rows, parameter)
    return studies


def _models(value: Any, context: str) -> tuple[str, ...]:
    models = tuple(value)
    if not models or any(m not in MODELS for m in models):
        raise ConfigError(f"{context}: models must be a non-empty subset of {list(MODELS)}, got {value!r}")
    return models


def _row(entry: dict[str, Any], models: tuple[str, ...], context: str) -> Row:
    check_keys(entry, ROW_KEYS, context)
    if "label" not in entry:
        raise ConfigError(f"{context}: a row has 'label' and optionally 'set', 'models', 'paper'")
    return Row(str(entry["label"]), dict(entry.get("set") or {}),
               _models(entry.get("models", models), context), dict(entry.get("paper") or {}))


# ---------------------------------------------------------------- planning


def plan_study(config: dict[str, Any], study: Study, seeds: Sequence[int]) -> list[Run]:
    """Every (row, seed) of ``study`` on ``config`` (a dataset's merged config mapping)."""
    try:
        own_evaluation = DakdConfig.from_dict(config).to_dict()[EVALUATION]
    except ConfigError as exc:
        raise ConfigError(f"study {study.name!r}: {exc}") from None
    runs = []
    for row in study.rows:
        unread = sorted(k for k in row.changes if k.split(".")[0] not in READABLE)
        if unread:
            raise ConfigError(f"study {study.name!r} row {row.label!r}: {', '.join(unread)}: a row changes what "
                              f"the learning stages and the evaluation read ({', '.join(sorted(READABLE))}); "
                              f"other sections need a dataset of their own")
        for seed in seeds:
            changes = {**row.changes, "seed": seed}
            data = set_dotted(config, changes)
            try:
                resolved = DakdConfig.from_dict(data).to_dict()
            except ConfigError as exc:
                raise ConfigError(f"study {study.name!r} row {row.label!r}: {exc}") from None
            runs.append(_run(row, seed, resolved, changes, own_evaluation))
    return runs


def _run(row: Row, seed: int, resolved: dict[str, Any], changes: dict[str, Any],
         own_evaluation: dict[str, Any]) -> Run:
    """The run directories of one row at one seed; ``own_evaluation`` is the dataset's own
    evaluate section, whose results keep the plain file name."""
    dirs, stage_changes, parts, seen = {}, {}, [], []
    for stage, sections in run_digest_sections(resolved["validation"]["split"]).items():
        seen.extend(sections)
        digest = config_digest({s: resolved[s] for s in sections})[:DIGEST_CHARS]
        parts.append(f"{RUN_STAGES[stage]}{digest}")
        dirs[stage] = "/".join(parts)
        stage_changes[stage] = {k: v for k, v in changes.items() if k.split(".")[0] in seen}
    evaluate = resolved[EVALUATION]
    evaluation = None if evaluate == own_evaluation else f"e{config_digest(evaluate)[:DIGEST_CHARS]}"
    return Run(row, seed, dirs, stage_changes, evaluate, evaluation)


@dataclass(frozen=True)
class Plan:
    """Every study of a dataset and its runs."""

    studies: dict[str, Study]
    runs: dict[str, list[Run]]
    seeds: tuple[int, ...]
    dataset_kind: str | None


def plan_dataset(data: dict[str, Any], dataset: str, where: Any = "config") -> Plan:
    """Plan the ``reproduce`` section (after the dataset's overrides) on ``dataset``."""
    merged = dataset_config(data, dataset, where)
    spec = merged.get("reproduce") or {}
    seeds = tuple(int(s) for s in spec.get("seeds", DEFAULT_SEEDS))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: reproduce.seeds must be distinct integers, got {list(seeds)}")
    studies = parse_studies(spec, where)
    entry = data["datasets"][dataset]
    kind = entry.get("naming") if entry.get("kind") == "features" else entry.get("kind")
    return Plan(studies, {name: plan_study(merged, study, seeds) for name, study in studies.items()}, seeds, kind)


def stage_jobs(runs: Sequence[Run]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``directory -> (stage, changes)`` for every stage output the runs need, once each."""
    jobs: dict[str, tuple[str, dict[str, Any]]] = {}
    for run in runs:
        needed = STAGES if "student" in run.row.models else STAGES[:1]
        for stage in needed:
            jobs.setdefault(run.dirs[stage], (stage, run.changes[stage]))
    return jobs


def evaluation_jobs(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    """``result path -> the dotted changes its evaluation runs with`` for every result the
    runs report, once each (paths relative to ``results/<dataset>/runs``)."""
    jobs: dict[str, dict[str, Any]] = {}
    for run in runs:
        for model in run.row.models:
            jobs.setdefault(run.result(model), run.evaluation_changes(model))
    return jobs


def as_overrides(changes: dict[str, Any]) -> list[str]:
    """``--set`` arguments (values as JSON, which the CLI reads as YAML)."""
    return [f"{key}={json.dumps(value)}" for key, value in changes.items()]


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Cell:
    """One model's numbers for one row: the metric in percent, per seed, and the evaluation
    unit the result files record."""

    row: Row
    model: str
    metric: str
    values: dict[int, float]
    dirs: dict[int, str]
    unit: str
    results: dict[int, str]  # per seed, the result file (relative to the runs root)
    # student cells: per seed, the percentage of training batches in which L_nce took part
    nce_active: dict[int, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values.values())

    @property
    def nce_active_mean(self) -> float | None:
        return statistics.fmean(self.nce_active.values()) if self.nce_active else None

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds; NaN with one seed."""
        return statistics.stdev(self.values.values()) if len(self.values) > 1 else math.nan


def collect(study: Study, runs: Sequence[Run], runs_root: str | os.PathLike) -> list[Cell]:
    """Read every run's evaluation JSON into cells (row x model). A result evaluated with
    settings other than its row's (a stale file: the name does not cover every setting) is
    an error naming it."""
    root = Path(runs_root)
    cells = []
    for row in study.rows:
        for model in row.models:
            values, dirs, results, metrics, units, nce = {}, {}, {}, set(), set(), {}
            for run in (r for r in runs if r.row == row):
                path = root / run.result(model)
                if not path.is_file():
                    raise ConfigError(f"{path}: result of study {study.name!r} row {row.label!r} "
                                      f"seed {run.seed} not found")
                result = json.loads(path.read_text())
                if result.get("value") is None:
                    raise ConfigError(f"{path}: no {result.get('metric')} (a test split with one class?)")
                evaluated = result.get("evaluation_config", {}).get(EVALUATION)
                if evaluated != run.evaluate:
                    raise ConfigError(f"{path}: evaluated with {EVALUATION} {evaluated}, but study {study.name!r} "
                                      f"row {row.label!r} wants {run.evaluate}; delete the file to evaluate again")
                values[run.seed] = 100.0 * result["value"]
                dirs[run.seed], results[run.seed] = run.dirs[model], run.result(model)
                metrics.add(result["metric"])
                units.add(evaluated["unit"])
                active = result.get("training_diagnostics", {}).get("nce_active_fraction")
                if model == "student" and active is not None:
                    nce[run.seed] = 100.0 * active
            cells.append(Cell(row, model, "/".join(sorted(metrics)), values, dirs, "/".join(sorted(units)),
                              results, nce))
    return cells
