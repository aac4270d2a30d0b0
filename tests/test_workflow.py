"""The Snakemake DAG end to end on a tiny demo: targets, reruns, forced stages, report."""

import json

import pytest
import yaml
from workflow_helpers import planned_jobs, snakemake, tiny_demo_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tiny_demo):
    workdir = tiny_demo
    run = snakemake(workdir, "--cores", "2", "results/demo/student_auc.json", "results/demo/plots/student_roc.png",
                    "results/demo/teacher_auc.json")
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def test_demo_dag_produces_every_target(finished_run):
    results = finished_run / "results" / "demo"
    student = json.loads((results / "student_auc.json").read_text())
    teacher = json.loads((results / "teacher_auc.json").read_text())
    assert student["model"] == "student" and teacher["model"] == "teacher"
    assert student["metric"] == "auc" and 0 <= student["value"] <= 1 and student["num_videos"] == 7
    weights = student["provenance"]["inputs"]["features"]["backbones"]["clip"]["weights"]
    assert weights.startswith("random")  # the demo says it uses random backbones
    assert len(list((results / "features").glob("shard-*.parquet"))) == 3
    for name in ["teacher.pt", "student.pt", "pseudo_labels.parquet", "plots/student_roc.png",
                 "plots/student_timelines.png", "logs/train_teacher.log", "benchmarks/train_teacher.tsv"]:
        assert (results / name).is_file(), name


def test_changing_a_student_value_reruns_only_the_student(finished_run):
    assert planned_jobs(snakemake(finished_run, "-n", "results/demo/student_auc.json").stdout) == {}
    config = finished_run / "config.yaml"
    original = config.read_text()
    cfg = yaml.safe_load(original)
    cfg["student"]["distill"]["tau"] = 0.5
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    try:
        plan = planned_jobs(snakemake(finished_run, "-n", "results/demo/student_auc.json").stdout)
        assert plan == {"train_student": 1, "evaluate": 1}
    finally:
        config.write_text(original)


def test_forcerun_a_single_stage(finished_run):
    run = snakemake(finished_run, "-n", "results/demo/student_auc.json", "--forcerun", "pseudo_labels")
    assert planned_jobs(run.stdout) == {"pseudo_labels": 1, "train_student": 1, "evaluate": 1}


def test_report(finished_run):
    run = snakemake(finished_run, "--report", "report.html", "results/demo/student_auc.json",
                    "results/demo/plots/student_roc.png")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (finished_run / "report.html").stat().st_size > 10_000


def test_missing_dataset_root_is_one_line(tmp_path):
    tiny_demo_config(tmp_path)
    run = snakemake(tmp_path, "-n", "results/ucf/student_auc.json")
    assert run.returncode != 0
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "UCF-Crime" in line]
    assert len(lines) == 1, run.stderr[-2000:]
    assert lines[0].startswith("dakd: dataset 'ucf': data/UCF-Crime not found (set datasets.ucf.root in ")
