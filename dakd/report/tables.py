"""A study's tables: ``<study>.csv`` (mean/std per row and model), ``<study>_runs.csv`` (every
seed), ``<study>.md`` and its plot (:mod:`dakd.report.plots`), from the cells
:func:`dakd.reproduce.collect` reads; the linear probe's numbers (``dakd probe``), where given,
as reference rows of the CSV and a line under the Markdown table."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..config import ConfigError, dataset_config
from ..provenance import provenance
from ..reproduce import Cell, Study, collect, plan_dataset
from .plots import plot_study


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4f}"


def read_probe(path: str | os.PathLike) -> dict[str, float]:
    """``{backbone set: value (%)}`` from a probe_auc.json (:func:`dakd.probe.run_probe`)."""
    report = json.loads(Path(path).read_text())
    return {name: 100 * result["value"] for name, result in report["probes"].items() if result["value"] is not None}


def write_tables(study: Study, cells: Sequence[Cell], dataset_kind: str | None, out_dir: str | os.PathLike,
                 provenance: dict[str, Any], probe: dict[str, float] | None = None) -> dict[str, Path]:
    """``<study>.csv`` (mean/std per row and model; the probe's sets as rows of model
    ``probe``), ``<study>_runs.csv`` (every seed), ``<study>.md`` and ``<study>.png``; returns the paths."""
    probe = probe or {}
    metric = cells[0].metric if cells else "auc"
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
        for name, value in probe.items():
            writer.writerow([study.name, f"Linear probe ({name})", "", "probe", metric, _fmt(value), "", 1, "", "",
                             "snippet"])
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
        tmp.write_text(markdown(study, cells, dataset_kind, provenance, probe))
    plot_study(study, cells, paths["plot"])
    return paths


def _paper(cell: Cell, dataset_kind: str | None) -> float | None:
    if dataset_kind is None or cell.model != cell.row.models[-1]:
        return None
    return cell.row.paper.get(dataset_kind)


def markdown(study: Study, cells: Sequence[Cell], dataset_kind: str | None, provenance: dict[str, Any],
             probe: dict[str, float] | None = None) -> str:
    """The study as a Markdown table: mean ± std (%) per model, the paper's number where known,
    and the linear probe's numbers under it."""
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
    if probe:
        sets = ", ".join(f"{name} {value:.2f}" for name, value in probe.items())
        lines += ["", f"Linear probe (a logistic regression on single snippets, each labelled with its video's label; "
                  f"`dakd probe`), {metric} (%): {sets}. A row at or below it learns nothing the features do not "
                  "already give a linear classifier."]
    kind = dataset_kind or "not one of the paper's datasets"
    lines += ["", f"Dataset kind: {kind}; code {provenance.get('code_version')}; "
              f"config digest {provenance.get('config_digest')}.", ""]
    return "\n".join(lines)


def tabulate(data: dict[str, Any], dataset: str, study_name: str, runs_root: str | os.PathLike,
             out_dir: str | os.PathLike, where: Any = "config", probe: str | os.PathLike | None = None,
             ) -> dict[str, Path]:
    """Collect one study's results on ``dataset`` and write its CSV, Markdown and plot (with the
    linear probe's numbers from ``probe``, a probe_auc.json, when given)."""
    plan = plan_dataset(data, dataset, where)
    if study_name not in plan.studies:
        raise ConfigError(f"{where}: no study {study_name!r} under reproduce.studies (have {sorted(plan.studies)})")
    study = plan.studies[study_name]
    cells = collect(study, plan.runs[study_name], runs_root)
    prov = provenance("tabulate", {"study": study_name, "seeds": list(plan.seeds),
                                   "reproduce": dataset_config(data, dataset, where).get("reproduce")},
                      dataset=dataset, runs_root=str(runs_root))
    return write_tables(study, cells, plan.dataset_kind, out_dir, prov, None if probe is None else read_probe(probe))
