"""Studies (the paper's tables and figures): parsing, content-addressed run planning, tabulation."""

import csv
import json
import math
import re

import pytest
import yaml
from workflow_helpers import REPO

from dakd.config import ConfigError
from dakd.report.tables import markdown, write_tables
from dakd.reproduce import collect, evaluation_jobs, parse_studies, plan_dataset, plan_study, stage_jobs
from dakd.workflow.sections import EVALUATION_PATTERN, RUN_DIR_PATTERN

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
    with pytest.raises(ConfigError, match=r"^config: reproduce.studies.t.row_headr: unknown key; "
                                          r"did you mean 'row_header'\?$"):
        parse_studies({"studies": {"t": {"row_headr": "x", "rows": [{"label": "a"}]}}})
    with pytest.raises(ConfigError, match=r"^config: reproduce.studies.t.rows\[0\].papr: unknown key; "
                                          r"did you mean 'paper'\?$"):
        parse_studies({"studies": {"t": {"rows": [{"label": "a", "papr": {"ucf_crime": 80.0}}]}}})


def _result(run, value, **extra):
    """A result file's content as `dakd evaluate` writes it for ``run``."""
    return json.dumps({"metric": "auc", "value": value, "evaluation_config": {"evaluate": run.evaluate}, **extra})


def _fake_results(tmp_path, runs, value_of):
    for run in runs:
        for model in run.row.models:
            path = tmp_path / run.result(model)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_result(run, value_of(run, model)))


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
            "figure5_delta", "figure5_window", "readings"} <= set(plan.studies)
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
            path.write_text(_result(run, 0.8, training_diagnostics={"nce_active_fraction": active}))
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


UNITS = {"title": "units", "rows": [
    {"label": "Teacher", "models": ["teacher"]},
    {"label": "Teacher, segments", "models": ["teacher"], "set": {"evaluate.unit": "segment"}},
    {"label": "Student, segments", "set": {"evaluate.unit": "segment", "student.distill.tau": 2.0}},
    {"label": "Student, snippets (as the dataset)", "set": {"evaluate.unit": "snippet", "student.distill.tau": 2.0}},
]}


def test_an_evaluation_setting_reevaluates_the_same_checkpoints():
    """evaluate.unit is no training setting (without a validation split): rows that differ
    only in it share every run directory and differ in the result file."""

    runs = {r.row.label: r for r in plan_dataset(_data({"u": UNITS}, seeds=(0,)), "ucf").runs["u"]}
    plain, segment = runs["Teacher"], runs["Teacher, segments"]
    assert segment.dirs == plain.dirs
    assert plain.result("teacher") == f"{plain.dirs['teacher']}/teacher_auc.json"
    pattern = rf"{RUN_DIR_PATTERN}/teacher_auc\.(?P<tag>{EVALUATION_PATTERN})\.json"
    tag = re.fullmatch(pattern, segment.result("teacher"))
    assert tag and segment.evaluate["unit"] == "segment" and plain.evaluate["unit"] == "snippet"
    # Setting the dataset's own value keeps the plain name; the tag is the settings', not the row's.
    assert runs["Student, snippets (as the dataset)"].result("student").endswith("/student_auc.json")
    assert runs["Student, segments"].result("teacher").endswith(f"/teacher_auc.{tag['tag']}.json")
    jobs = evaluation_jobs(list(runs.values()))
    assert jobs[plain.result("teacher")] == {"seed": 0} == stage_jobs([plain])[plain.dirs["teacher"]][1]
    assert jobs[segment.result("teacher")] == {"seed": 0, "evaluate.unit": "segment"}
    assert jobs[runs["Student, segments"].result("student")] == {
        "seed": 0, "student.distill.tau": 2.0, "evaluate.unit": "segment"}
    assert [stage for stage, _ in stage_jobs(list(runs.values())).values()].count("teacher") == 1


def test_with_a_validation_split_the_evaluation_settings_pick_the_epoch_and_so_the_model():
    data = _data({"u": UNITS}, seeds=(0,))
    data["validation"] = {"split": "val"}
    runs = {r.row.label: r for r in plan_dataset(data, "ucf").runs["u"]}
    assert runs["Teacher, segments"].dirs["teacher"] != runs["Teacher"].dirs["teacher"]
    assert stage_jobs([runs["Teacher, segments"]])[runs["Teacher, segments"].dirs["teacher"]][1] == {
        "evaluate.unit": "segment", "seed": 0}


def test_cells_carry_the_evaluation_unit_and_a_stale_result_is_refused(tmp_path):
    plan = plan_dataset(_data({"u": UNITS}, seeds=(0, 1)), "ucf")
    _fake_results(tmp_path, plan.runs["u"], lambda run, model: 0.9 if run.evaluate["unit"] == "segment" else 0.8)
    cells = {(c.row.label, c.model): c for c in collect(plan.studies["u"], plan.runs["u"], tmp_path)}
    assert cells[("Teacher", "teacher")].unit == "snippet" and cells[("Teacher, segments", "teacher")].unit == "segment"
    assert cells[("Teacher, segments", "teacher")].mean == pytest.approx(90.0)
    paths = write_tables(plan.studies["u"], list(cells.values()), plan.dataset_kind, tmp_path / "tables", {})
    text = paths["markdown"].read_text()
    assert "| Evaluation unit |" in text and "| Teacher, segments | 90.00 ± 0.00 |  | segment |" in text
    with open(paths["runs"]) as fh:
        rows = [r for r in csv.DictReader(fh) if r["row"] == "Teacher, segments"]
    assert {r["unit"] for r in rows} == {"segment"}
    assert all(r["result"].startswith(r["run_dir"] + "/teacher_auc.e") for r in rows)
    with open(paths["summary"]) as fh:
        assert {r["unit"] for r in csv.DictReader(fh)} == {"snippet", "segment"}
    # the plain file, evaluated before the dataset's settings changed: its name no longer tells
    run = plan.runs["u"][0]
    (tmp_path / run.result("teacher")).write_text(json.dumps({
        "metric": "auc", "value": 0.8, "evaluation_config": {"evaluate": {**run.evaluate, "unit": "segment"}}}))
    with pytest.raises(ConfigError, match=r"teacher_auc.json: evaluated with evaluate \{'unit': 'segment'.*"
                                          r"row 'Teacher' wants \{'unit': 'snippet'.*delete the file"):
        collect(plan.studies["u"], plan.runs["u"], tmp_path)


def test_a_row_can_only_change_what_the_stages_read():
    with pytest.raises(ConfigError, match=r"study 't' row 'bad': extract.crops: a row changes what the learning "
                                          r"stages and the evaluation read \(device, evaluate, features"):
        plan_dataset(_data({"t": {"rows": [{"label": "bad", "set": {"extract.crops": "five"}}]}}), "ucf")


def _first_moved_stage(default, run) -> str | None:
    """The first stage whose directory differs from the default row's, or 'evaluation'."""
    for stage in ("teacher", "pseudo_labels", "student"):
        if run.dirs[stage] != default.dirs[stage]:
            return stage
    return "evaluation" if run.evaluation != default.evaluation else None


def test_the_readings_study_moves_exactly_the_stage_each_reading_belongs_to():
    data = yaml.safe_load(REPO_CONFIG.read_text())
    data["datasets"]["ucf"]["kind"] = "ucf_crime"
    runs = [r for r in plan_dataset(data, "ucf").runs["readings"] if r.seed == 0]
    default, others = runs[0], runs[1:]
    assert default.row.label == "dakd's readings (default)"
    moved = {r.row.label: _first_moved_stage(default, r) for r in others}
    assert None not in moved.values(), moved  # every row is a reading of its own
    assert moved == {
        "Attention layer: bare attention output to the head": "teacher",
        "Attention layer: model width 1024": "teacher",
        "Attention projections without biases (Eqs. 2-3)": "teacher",
        "Attention scale sqrt((T + 2) d) with d the model width": "teacher",
        "No dropout in the temporal module": "teacher",
        "Head without ReLU after its 32-unit layer (Sultani's)": "teacher",
        "MIL loss reduced as Sultani's code (x anomalous bags)": "teacher",
        "Crops as separate bags (UR-DMU)": "teacher",
        "Moving average with zero padding": "pseudo_labels",
        "w/o min-max, Eq. 6's 1/(2 epsilon) divisor (compare Table 4)": "pseudo_labels",
        "InfoNCE anchors from refined pseudo-labels": "student",
        "InfoNCE: normal videos' segments always normal anchors": "student",
        "tau = 0.1 (L_nce weight alpha tau^2 = 0.075)": "student",
        "tau = 10 (L_nce weight alpha tau^2 = 750)": "student",
        "Evaluation on the 32 training segments": "evaluation",
        "At least 1000 optimizer steps per stage": "teacher",
        "Features standardised per dimension": "teacher",
    }
    # the default row is the full model every other study reports
    main = {r.row.label: r for r in plan_dataset(data, "ucf").runs["main"] if r.seed == 0}
    assert default.dirs == main["Student (CLIP)"].dirs and default.evaluation is None
    # the main table's segment rows re-evaluate the main checkpoints
    for plain, segment in (("Teacher (I3D + S3D + CLIP)", "Teacher (I3D + S3D + CLIP), segment scoring"),
                           ("Student (I3D)", "Student (I3D), segment scoring"),
                           ("Student (CLIP)", "Student (CLIP), segment scoring")):
        assert main[segment].dirs == main[plain].dirs and main[segment].evaluate["unit"] == "segment"
        assert main[segment].result(main[segment].row.models[0]) != main[plain].result(main[plain].row.models[0])
    window = plan_dataset(data, "ucf").studies["figure5_window"]
    assert [r.changes for r in window.rows][2] == {"pseudo_labels.window": 5}  # the default among the sweep
