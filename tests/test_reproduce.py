"""Studies (the paper's tables and figures): parsing, content-addressed run planning, tabulation."""

import csv
import json
import math

import pytest
import yaml
from workflow_helpers import REPO

from dakd.config import ConfigError
from dakd.reproduce import (
    collect,
    markdown,
    parse_studies,
    plan_dataset,
    plan_study,
    stage_jobs,
    write_tables,
)

REPO_CONFIG = REPO / "config.yaml"


def _data(studies, seeds=(0, 1), kind="ucf_crime"):
    return {"seed": 0, "datasets": {"ucf": {"kind": kind, "root": "x"}},
            "reproduce": {"seeds": list(seeds), "studies": studies}}


TABLE = {
    "title": "T4",
    "rows": [
        {"label": "Baseline", "models": ["teacher"], "set": {"teacher.backbones": ["i3d"],
                                                            "teacher.model.temporal": "none"},
         "paper": {"ucf_crime": 77.92}},
        {"label": "w/o L_nce", "set": {"student.distill.use_nce": False}, "paper": {"ucf_crime": 86.91}},
        {"label": "w/o min-max", "set": {"pseudo_labels.min_max": False}},
        {"label": "DAKD", "paper": {"ucf_crime": 88.34}},
    ],
}


def test_rows_share_every_stage_they_do_not_change():
    plan = plan_dataset(_data({"t": TABLE}), "ucf")
    runs = {(r.row.label, r.seed): r for r in plan.runs["t"]}
    full, no_nce, no_minmax, base = (runs[(label, 0)] for label in ("DAKD", "w/o L_nce", "w/o min-max", "Baseline"))
    assert no_nce.dirs["teacher"] == full.dirs["teacher"] and no_nce.dirs["pseudo_labels"] == full.dirs["pseudo_labels"]
    assert no_nce.dirs["student"] != full.dirs["student"]
    assert no_minmax.dirs["teacher"] == full.dirs["teacher"]
    assert no_minmax.dirs["pseudo_labels"] != full.dirs["pseudo_labels"]
    assert base.dirs["teacher"] != full.dirs["teacher"]
    assert runs[("DAKD", 1)].dirs["teacher"] != full.dirs["teacher"]  # the seed is part of every run
    assert full.dirs["student"].startswith(full.dirs["pseudo_labels"] + "/")

    jobs = stage_jobs(plan.runs["t"])
    stages = [stage for stage, _ in jobs.values()]
    # per seed: teachers {full, baseline}; pseudo-labels {full, no min-max}; students {full, no nce, no min-max}
    assert (stages.count("teacher"), stages.count("pseudo_labels"), stages.count("student")) == (4, 4, 6)
    # a stage job only sees the changes of the sections it depends on
    assert jobs[no_nce.dirs["teacher"]][1] == {"seed": 0}
    assert jobs[no_nce.dirs["student"]][1] == {"student.distill.use_nce": False, "seed": 0}
    assert jobs[base.dirs["teacher"]][1]["teacher.backbones"] == ["i3d"]


def test_planning_is_stable_and_config_changes_move_the_runs():
    first = plan_dataset(_data({"t": TABLE}), "ucf").runs["t"]
    assert [r.dirs for r in first] == [r.dirs for r in plan_dataset(_data({"t": TABLE}), "ucf").runs["t"]]
    data = _data({"t": TABLE})
    data["student"] = {"optim": {"epochs": 7}}
    moved = plan_dataset(data, "ucf").runs["t"]
    assert [r.dirs["teacher"] for r in moved] == [r.dirs["teacher"] for r in first]
    assert all(a.dirs["student"] != b.dirs["student"] for a, b in zip(moved, first) if "student" in a.row.models)


def test_sweeps_and_subsets_expand_into_rows():
    studies = parse_studies({"studies": {
        "k": {"models": ["student"], "sweep": {"parameter": "k", "values": [1, 25],
                                               "keys": ["teacher.model.max_relative_distance",
                                                        "student.model.max_relative_distance"]}},
        "fig4": {"models": ["teacher"], "subsets": {"key": "teacher.backbones", "of": ["i3d", "s3d", "clip"]}},
    }})
    assert [r.label for r in studies["fig4"].rows] == ["i3d", "s3d", "clip", "i3d + s3d", "i3d + clip",
                                                      "s3d + clip", "i3d + s3d + clip"]
    assert studies["fig4"].rows[3].changes == {"teacher.backbones": ["i3d", "s3d"]}
    assert studies["k"].parameter == "k" and [r.x for r in studies["k"].rows] == [1.0, 25.0]
    assert studies["k"].rows[1].changes == {"teacher.model.max_relative_distance": 25,
                                            "student.model.max_relative_distance": 25}
    runs = plan_study({}, studies["k"], [0])
    assert runs[0].dirs["teacher"] != runs[1].dirs["teacher"]


def test_bad_studies_are_config_errors():
    with pytest.raises(ConfigError, match=r"reproduce.studies.t: give exactly one of rows, sweep, subsets"):
        parse_studies({"studies": {"t": {"rows": [{"label": "a"}], "subsets": {"key": "x", "of": ["a"]}}}})
    with pytest.raises(ConfigError, match=r"models must be a non-empty subset"):
        parse_studies({"studies": {"t": {"models": ["pupil"], "rows": [{"label": "a"}]}}})
    with pytest.raises(ConfigError, match=r"study 't' row 'bad': teacher.modle: unknown key; did you mean 'model'\?"):
        plan_dataset(_data({"t": {"rows": [{"label": "bad", "set": {"teacher.modle.temporal": "mtn"}}]}}), "ucf")
    with pytest.raises(ConfigError, match=r"seeds must be distinct"):
        plan_dataset(_data({"t": TABLE}, seeds=(1, 1)), "ucf")


def _fake_results(tmp_path, runs, value_of):
    for run in runs:
        for model in run.row.models:
            path = tmp_path / run.result(model)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"metric": "auc", "value": value_of(run, model)}))


def test_tables_report_mean_and_sample_std_over_seeds_with_each_seed_kept(tmp_path):
    data = _data({"t4": TABLE}, seeds=(0, 1, 2))
    plan = plan_dataset(data, "ucf")
    _fake_results(tmp_path / "runs", plan.runs["t4"],
                  lambda run, model: 0.80 + 0.01 * run.seed + (0.05 if model == "student" else 0.0))
    paths = write_tables(plan.studies["t4"], collect(plan.studies["t4"], plan.runs["t4"], tmp_path / "runs"),
                         plan.dataset_kind, tmp_path / "tables", {"code_version": "x", "config_digest": "y"})
    with open(paths["summary"]) as fh:
        rows = {(r["row"], r["model"]): r for r in csv.DictReader(fh)}
    dakd = rows[("DAKD", "student")]
    assert float(dakd["mean_percent"]) == pytest.approx(86.0)
    assert float(dakd["std_percent"]) == pytest.approx(1.0)  # sample std of 85, 86, 87
    assert dakd["seeds"] == "3" and float(dakd["paper_percent"]) == 88.34
    assert rows[("DAKD", "teacher")]["paper_percent"] == ""  # the paper's number is the student's
    assert ("Baseline", "student") not in rows and rows[("Baseline", "teacher")]["paper_percent"] == "77.92"
    with open(paths["runs"]) as fh:
        seeds = [r for r in csv.DictReader(fh) if r["row"] == "DAKD" and r["model"] == "student"]
    assert [(r["seed"], r["value_percent"]) for r in seeds] == [("0", "85.0000"), ("1", "86.0000"),
                                                                ("2", "87.0000")]
    assert seeds[0]["run_dir"].count("/") == 2
    text = paths["markdown"].read_text()
    assert "| DAKD | 81.00 ± 1.00 | 86.00 ± 1.00 | 88.34 |" in text
    assert "| Baseline | 81.00 ± 1.00 |  | 77.92 |" in text
    assert "over 3 seed(s) [0, 1, 2]" in text
    assert paths["plot"].stat().st_size > 5000


def test_one_seed_has_no_std_and_other_datasets_no_paper_column(tmp_path):
    plan = plan_dataset(_data({"t4": TABLE}, seeds=(3,), kind="demo"), "ucf")
    _fake_results(tmp_path, plan.runs["t4"], lambda run, model: 0.5)
    cells = collect(plan.studies["t4"], plan.runs["t4"], tmp_path)
    assert all(math.isnan(c.std) and c.mean == 50.0 for c in cells)
    text = markdown(plan.studies["t4"], cells, plan.dataset_kind, {})
    assert "Paper" not in text and "| DAKD | 50.00 | 50.00 |" in text


def test_a_missing_result_names_the_file(tmp_path):
    plan = plan_dataset(_data({"t4": TABLE}), "ucf")
    with pytest.raises(ConfigError, match=r"teacher_auc.json: result of study 't4' row 'Baseline' seed 0 not found"):
        collect(plan.studies["t4"], plan.runs["t4"], tmp_path)


def test_the_shipped_config_plans_every_paper_study():
    data = yaml.safe_load(REPO_CONFIG.read_text())
    data["datasets"]["ucf"]["kind"] = "ucf_crime"
    plan = plan_dataset(data, "ucf")
    assert {"main", "table1", "table4", "table5", "figure4", "figure5_tau", "figure5_alpha", "figure5_k",
            "figure5_delta"} <= set(plan.studies)
    assert plan.seeds == (0, 1, 2, 3, 4)
    assert len(plan.studies["figure4"].rows) == 7
    table1 = {r.label: r.paper.get("ucf_crime") for r in plan.studies["table1"].rows}
    assert table1["TAM"] == 88.34 and table1["MTN (RTFM)"] == 85.31


def test_tables_show_how_often_l_nce_was_active(tmp_path):
    """A "w/o L_nce" row equal to the full model explains itself when L_nce never took part."""
    plan = plan_dataset(_data({"t4": TABLE}, seeds=(0, 1)), "ucf")
    for run in plan.runs["t4"]:
        for model in run.row.models:
            path = tmp_path / run.result(model)
            path.parent.mkdir(parents=True, exist_ok=True)
            active = 0.0 if run.row.label in ("w/o L_nce", "DAKD") else 0.5 + 0.25 * run.seed
            path.write_text(json.dumps({"metric": "auc", "value": 0.8,
                                        "training_diagnostics": {"nce_active_fraction": active}}))
    paths = write_tables(plan.studies["t4"], collect(plan.studies["t4"], plan.runs["t4"], tmp_path),
                         plan.dataset_kind, tmp_path / "tables", {})
    text = paths["markdown"].read_text()
    assert "| L_nce active (% of batches) |" in text
    assert "| DAKD | 80.00 ± 0.00 | 80.00 ± 0.00 | 88.34 | 0.0 |" in text
    assert "| w/o min-max | 80.00 ± 0.00 | 80.00 ± 0.00 |  | 62.5 |" in text
    assert "| Baseline | 80.00 ± 0.00 |  | 77.92 |  |" in text  # a teacher-only row has no L_nce
    with open(paths["runs"]) as fh:
        rows = [r for r in csv.DictReader(fh) if r["row"] == "w/o min-max" and r["model"] == "student"]
    assert [r["nce_active_percent"] for r in rows] == ["50.00", "75.00"]
