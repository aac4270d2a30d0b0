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
another study has already trained.

The evaluation settings (``evaluate``) decide a model only when a validation split picks
its epoch; otherwise rows that differ only in them share the checkpoints and differ in the
result file: ``<model>_auc.json`` with the dataset's own settings, ``<model>_auc.e<digest>.json``
(the digest of the row's ``evaluate`` section) with others. Changing ``evaluate.unit``
therefore re-evaluates the same checkpoints instead of training new ones.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .config import ConfigError, DakdConfig, dataset_config, set_dotted
from .provenance import config_digest, provenance

MODELS = ("teacher", "student")
# The config sections that decide each stage's output, in pipeline order; a stage also
# depends on every section of the stages before it. EVALUATION joins the teacher's (and so
# every later stage's) when validation.split is set: then it picks the epoch.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "teacher": ("seed", "device", "features", "teacher", "validation"),
    "pseudo_labels": ("pseudo_labels",),
    "student": ("student",),
}
EVALUATION = "evaluate"
STAGES = tuple(STAGE_SECTIONS)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
DIGEST_CHARS = 10
RUN_DIR_PATTERN = r"t[0-9a-f]{10}(/p[0-9a-f]{10}/s[0-9a-f]{10})?"
# A result file evaluated with settings other than the dataset's: <model>_auc.<tag>.json
EVALUATION_PATTERN = r"e[0-9a-f]{10}"


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
    evaluation: str | None  # an EVALUATION_PATTERN tag when that section differs from the dataset's own

    def result(self, model: str) -> str:
        """Relative path of the model's evaluation JSON."""
        tag = "" if self.evaluation is None else f".{self.evaluation}"
        return f"{self.dirs[model]}/{model}_auc{tag}.json"

    def evaluation_changes(self, model: str) -> dict[str, Any]:
        """The dotted changes the evaluation of ``model`` runs with: its stage's and the row's
        ``evaluate`` keys."""
        return {**self.changes[model], **{k: v for k, v in self.row.changes.items() if k.split(".")[0] == EVALUATION}}


# ---------------------------------------------------------------- parsing


def parse_studies(spec: dict[str, Any], where: Any = "config") -> dict[str, Study]:
    """``reproduce.studies`` -> {name: Study}."""
    studies = {}
    for name, entry in (spec.get("studies") or {}).items():
        context = f"{where}: reproduce.studies.{name}"
        unknown = set(entry) - {"title", "row_header", "models", "rows", "sweep", "subsets"}
        if unknown:
            raise ConfigError(f"{context}: unknown key(s) {sorted(unknown)}")
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
    unknown = set(entry) - {"label", "set", "models", "paper"}
    if unknown or "label" not in entry:
        raise ConfigError(f"{context}: a row has 'label' and optionally 'set', 'models', 'paper' "
                          f"(unknown: {sorted(unknown)})")
    return Row(str(entry["label"]), dict(entry.get("set") or {}),
               _models(entry.get("models", models), context), dict(entry.get("paper") or {}))


# ---------------------------------------------------------------- planning


def plan_study(config: dict[str, Any], study: Study, seeds: Sequence[int]) -> list[Run]:
    """Every (row, seed) of ``study`` on ``config`` (a dataset's merged config mapping)."""
    readable = {s for sections in STAGE_SECTIONS.values() for s in sections} | {EVALUATION}
    try:
        own_evaluation = DakdConfig.from_dict(config).to_dict()[EVALUATION]
    except ConfigError as exc:
        raise ConfigError(f"study {study.name!r}: {exc}") from None
    runs = []
    for row in study.rows:
        unread = sorted(k for k in row.changes if k.split(".")[0] not in readable)
        if unread:
            raise ConfigError(f"study {study.name!r} row {row.label!r}: {', '.join(unread)}: a row changes what "
                              f"the learning stages and the evaluation read ({', '.join(sorted(readable))}); "
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
    for stage, prefix in zip(STAGES, "tps"):
        sections = STAGE_SECTIONS[stage]
        if stage == "teacher" and resolved["validation"]["split"] is not None:
            sections += (EVALUATION,)  # the validation split is scored with these settings
        seen.extend(sections)
        digest = config_digest({s: resolved[s] for s in sections})[:DIGEST_CHARS]
        parts.append(f"{prefix}{digest}")
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


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4f}"


def write_tables(study: Study, cells: Sequence[Cell], dataset_kind: str | None, out_dir: str | os.PathLike,
                 provenance: dict[str, Any]) -> dict[str, Path]:
    """``<study>.csv`` (mean/std per row and model), ``<study>_runs.csv`` (every seed),
    ``<study>.md`` and ``<study>.png``; returns the paths."""
    out_dir = Path(out_dir)
    paths = {k: out_dir / f"{study.name}{s}" for k, s in
             (("summary", ".csv"), ("runs", "_runs.csv"), ("markdown", ".md"), ("plot", ".png"))}
    with atomic_path(paths["summary"]) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["study", "row", "x", "model", "metric", "mean_percent", "std_percent", "seeds",
                         "paper_percent", "nce_active_percent", "unit"])
        for cell in cells:
            nce = cell.nce_active_mean
            writer.writerow([study.name, cell.row.label, "" if cell.row.x is None else cell.row.x, cell.model,
                             cell.metric, _fmt(cell.mean), _fmt(cell.std), len(cell.values),
                             _paper(cell, dataset_kind) or "", "" if nce is None else f"{nce:.2f}", cell.unit])
    with atomic_path(paths["runs"]) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["study", "row", "x", "model", "seed", "metric", "value_percent", "run_dir",
                         "nce_active_percent", "unit", "result"])
        for cell in cells:
            for seed, value in cell.values.items():
                nce = cell.nce_active.get(seed)
                writer.writerow([study.name, cell.row.label, "" if cell.row.x is None else cell.row.x, cell.model,
                                 seed, cell.metric, f"{value:.4f}", cell.dirs[seed],
                                 "" if nce is None else f"{nce:.2f}", cell.unit, cell.results[seed]])
    with atomic_path(paths["markdown"]) as tmp:
        tmp.write_text(markdown(study, cells, dataset_kind, provenance))
    from .plots import plot_study

    plot_study(study, cells, paths["plot"])
    return paths


def _paper(cell: Cell, dataset_kind: str | None) -> float | None:
    if dataset_kind is None or cell.model != cell.row.models[-1]:
        return None
    return cell.row.paper.get(dataset_kind)


def markdown(study: Study, cells: Sequence[Cell], dataset_kind: str | None, provenance: dict[str, Any]) -> str:
    """The study as a Markdown table: mean ± std (%) per model, the paper's number where known."""
    models = study.models
    metric = "/".join(sorted({c.metric.upper() for c in cells}))
    show_paper = any(_paper(c, dataset_kind) is not None for c in cells)
    seeds = sorted({s for c in cells for s in c.values})
    header = [study.row_header, *(f"{m.capitalize()} {metric} (%)" for m in models)]
    if show_paper:
        header.append("Paper (%)")
    show_nce = any(c.nce_active for c in cells)
    if show_nce:
        header.append("L_nce active (% of batches)")
    show_unit = len({c.unit for c in cells}) > 1
    if show_unit:
        header.append("Evaluation unit")
    lines = [f"# {study.title}", "",
             f"Mean ± sample standard deviation over {len(seeds)} seed(s) {seeds}; each seed's value is in "
             f"`{study.name}_runs.csv`.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in study.rows:
        by_model = {c.model: c for c in cells if c.row == row}
        values = []
        for model in models:
            cell = by_model.get(model)
            if cell is None:
                values.append("")
            elif math.isnan(cell.std):
                values.append(f"{cell.mean:.2f}")
            else:
                values.append(f"{cell.mean:.2f} ± {cell.std:.2f}")
        if show_paper:
            paper = [_paper(c, dataset_kind) for c in by_model.values()]
            values.append(next((f"{p:.2f}" for p in paper if p is not None), ""))
        if show_nce:
            student = by_model.get("student")
            nce = None if student is None else student.nce_active_mean
            values.append("" if nce is None else f"{nce:.1f}")
        if show_unit:
            values.append("/".join(sorted({c.unit for c in by_model.values()})))
        lines.append("| " + " | ".join([row.label, *values]) + " |")
    if show_unit:
        lines += ["", "Evaluation unit: snippet scores every snippet of a test video (RTFM's protocol); segment "
                  "scores the features.segments pooled training segments and spreads each score over its snippets."]
    if show_nce:
        lines += ["", "L_nce active: the share of the student's training batches in which the InfoNCE term took "
                  "part (it needs segments on both sides of delta); at 0 a row trains as if without L_nce."]
    lines += ["", f"Dataset kind: {dataset_kind or 'unknown'}; code {provenance.get('code_version')}; "
              f"config digest {provenance.get('config_digest')}.", ""]
    return "\n".join(lines)


def tabulate(data: dict[str, Any], dataset: str, study_name: str, runs_root: str | os.PathLike,
             out_dir: str | os.PathLike, where: Any = "config") -> dict[str, Path]:
    """Collect one study's results on ``dataset`` and write its CSV, Markdown and plot."""
    plan = plan_dataset(data, dataset, where)
    if study_name not in plan.studies:
        raise ConfigError(f"{where}: no study {study_name!r} under reproduce.studies (have {sorted(plan.studies)})")
    study = plan.studies[study_name]
    cells = collect(study, plan.runs[study_name], runs_root)
    prov = provenance("tabulate", {"study": study_name, "seeds": list(plan.seeds),
                                   "reproduce": dataset_config(data, dataset, where).get("reproduce")},
                      dataset=dataset, runs_root=str(runs_root))
    return write_tables(study, cells, plan.dataset_kind, out_dir, prov)
