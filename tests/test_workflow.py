"""The Snakemake DAG end to end on a tiny demo: targets, reruns, forced stages, report, the config
jobs run with (command-line overrides included), config errors, paths with spaces, failing jobs."""

import json
import re

import numpy as np
import pytest
import yaml
from workflow_helpers import planned_jobs, snakemake, tiny_demo_config

from dakd.checkpoints import load_checkpoint
from dakd.config import load_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tiny_demo):
    """The run that makes the demo's targets (its console output): the README's demo command (the
    default target, 'all') and the teacher's evaluation."""
    run = snakemake(tiny_demo, "--cores", "2", "all", "results/demo/teacher_auc.json")
    assert run.returncode == 0, run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def finished_run(tiny_demo, demo_run):
    return tiny_demo


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


def test_stage_warnings_reach_the_console(finished_run, demo_run):
    """A stage's stderr goes to its log and the console; its stdout to the log only."""
    log = (finished_run / "results/demo/logs/train_student.log").read_text().splitlines()
    warnings = [line for line in log if "L_nce never contributed" in line]
    assert warnings, "the tiny demo's student (2 epochs) is expected to warn that L_nce never contributed"
    assert all(line in demo_run.stderr.splitlines() for line in warnings)
    report = [line for line in log if line.startswith("student: L_nce active in")]
    assert report and report[0] not in demo_run.stdout + demo_run.stderr


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
    """The README's report command after its demo command: the metrics and both plots."""
    run = snakemake(finished_run, "--report", "report.html")
    assert run.returncode == 0, run.stderr[-3000:]
    html = (finished_run / "report.html").read_text(errors="replace")
    assert len(html) > 10_000
    for name in ("student_auc.json", "student_roc.png", "student_timelines.png"):
        assert name in html, name


def test_missing_dataset_root_is_one_line(tmp_path):
    tiny_demo_config(tmp_path)
    run = snakemake(tmp_path, "-n", "results/ucf/student_auc.json")
    assert run.returncode != 0
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "UCF-Crime" in line]
    assert len(lines) == 1, run.stderr[-2000:]
    assert lines[0].strip().startswith("dakd: dataset 'ucf': data/UCF-Crime not found (set datasets.ucf.root in ")


def test_jobs_run_with_the_config_snakemake_holds(tmp_path):
    """--configfile and --config (nested keys too, typed as YAML) are in the one config file every
    job is given; config.yaml alone is not what the jobs read."""
    config = tiny_demo_config(tmp_path)
    extra = tmp_path / "extra.yaml"
    extra.write_text("student: {distill: {tau: 0.25}}\n")
    run = snakemake(tmp_path, "-n", "-p", "results/demo/teacher.pt", "--configfile", str(config), str(extra),
                    "--config", "seed=7", "teacher={optim: {lr_other: 0.002}, model: {temporal: mha}}")
    assert run.returncode == 0, run.stderr[-3000:]
    commands = [line.removeprefix("Shell command: ") for line in (run.stdout + run.stderr).splitlines()
                if line.removeprefix("Shell command: ").startswith("dakd ")]
    assert {c.split()[1] for c in commands} >= {"make-demo", "index-dataset", "train-teacher"}, run.stdout[-3000:]
    files = {re.search(r" --config (\S+) ", c).group(1) for c in commands}
    assert len(files) == 1 and files.pop().startswith("results/.config/config-")
    effective = next((tmp_path / "results" / ".config").glob("config-*.yaml"))
    data = yaml.safe_load(effective.read_text())
    assert data["seed"] == 7 and data["teacher"]["optim"]["lr_other"] == 0.002
    assert data["teacher"]["model"]["temporal"] == "mha" and data["student"]["distill"]["tau"] == 0.25
    assert data["datasets"] == yaml.safe_load(config.read_text())["datasets"]
    cfg = load_config(effective, dataset="demo")
    assert (cfg.seed, cfg.teacher.optim.lr_other, cfg.teacher.optim.epochs) == (7, 0.002, 2)
    # the same config gives the same file: a job that parses the Snakefile again finds it
    again = snakemake(tmp_path, "-n", "results/demo/teacher.pt", "--configfile", str(config), str(extra),
                      "--config", "seed=7", "teacher={optim: {lr_other: 0.002}, model: {temporal: mha}}")
    assert again.returncode == 0 and [p.name for p in effective.parent.iterdir()] == [effective.name]


@pytest.mark.parametrize("where", ["file", "command line"])
def test_a_bad_config_value_stops_the_plan_with_one_line(tmp_path, where):
    config = tiny_demo_config(tmp_path)
    args = []
    if where == "file":
        cfg = yaml.safe_load(config.read_text())
        cfg["datasets"]["demo"]["overrides"]["teacher"]["optim"]["epochs"] = 0
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    else:
        args = ["--config", "teacher={optim: {epochs: 0}}"]
    run = snakemake(tmp_path, "-n", "results/demo/student_auc.json", *args)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    assert not [line for line in output.splitlines() if "Error" in line and not line.startswith("dakd: ")]
    lines = [line for line in output.splitlines() if "epochs" in line]
    assert len(lines) == 1 and lines[0].startswith("dakd: "), output[-3000:]
    assert "teacher.optim.epochs" in lines[0]
    if where == "file":
        assert "datasets.demo" in lines[0]


def test_a_failing_job_fails_and_its_error_reaches_the_console(tmp_path):
    """The jobs' stderr goes to their log and to the console; the job's exit status is kept."""
    root = tmp_path / "released"
    root.mkdir()
    (root / "train.list").write_text("/data/train_i3d/Normal_Videos_000_x264_i3d.npy\n")
    (root / "test.list").write_text("/data/test_i3d/Explosion000_x264_i3d.npy\n")
    np.save(root / "gt.npy", np.zeros(16, np.float32))
    cfg = yaml.safe_load(tiny_demo_config(tmp_path).read_text())
    cfg["datasets"] = {"released": {
        "kind": "features", "root": str(root), "naming": "ucf_crime", "ground_truth": "gt.npy",
        "sources": {"i3d": {"train": "train.list", "test": "test.list", "feature_root": ".", "layout": "rtfm"}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(tmp_path, "--cores", "1", "results/released/imported")
    assert run.returncode != 0
    error = [line for line in run.stderr.splitlines() if line.startswith("dakd import-features: error: ")]
    assert len(error) == 1 and "Normal_Videos_000_x264_i3d.npy" in error[0], run.stderr[-3000:]
    log = (tmp_path / "results/released/logs/import_features.log").read_text()
    assert error[0] in log.splitlines()
    assert not (tmp_path / "results/released/imported").exists()


@pytest.fixture(scope="module")
def spaced_run(tmp_path_factory):
    """The demo up to the teacher in a directory whose path has a space, with the demo's videos
    under a folder whose name has one too."""
    workdir = tmp_path_factory.mktemp("work dir")
    config = tiny_demo_config(workdir)
    cfg = yaml.safe_load(config.read_text())
    cfg["datasets"]["demo"]["root"] = "results/demo/demo videos"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(workdir, "--cores", "2", "results/demo/teacher.pt")
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def test_paths_with_spaces(spaced_run):
    results = spaced_run / "results" / "demo"
    assert " " in str(spaced_run) and (results / "demo videos" / "demo.json").is_file()
    assert len(list((results / "features").glob("shard-*.parquet"))) == 3
    for name in ["teacher.pt", "videos.csv", "logs/train_teacher.log", "logs/extract/shard-00002.log",
                 "benchmarks/train_teacher.tsv"]:
        assert (results / name).is_file(), name
    assert sorted(p.name for p in spaced_run.iterdir()) == [".snakemake", "config.yaml", "results"]


def test_a_command_line_override_is_what_the_job_runs_with(spaced_run):
    """--config reruns the stage that reads the key, the job runs with (and its checkpoint records)
    the override, and the output made with it is out of date for config.yaml without it."""
    override = ["--config", "teacher={optim: {lr_other: 0.002}}"]
    assert planned_jobs(snakemake(spaced_run, "-n", "results/demo/teacher.pt", *override).stdout) == {
        "train_teacher": 1}
    run = snakemake(spaced_run, "--cores", "2", "results/demo/teacher.pt", *override)
    assert run.returncode == 0, run.stderr[-4000:]
    checkpoint = load_checkpoint(spaced_run / "results/demo/teacher.pt")
    assert checkpoint["config"]["teacher"]["optim"]["lr_other"] == 0.002
    assert planned_jobs(snakemake(spaced_run, "-n", "results/demo/teacher.pt", *override).stdout) == {}
    assert planned_jobs(snakemake(spaced_run, "-n", "results/demo/teacher.pt").stdout) == {"train_teacher": 1}
