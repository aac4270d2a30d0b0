"""The paper's tables through the Snakemake DAG on the tiny demo (2 seeds, 2 epochs, trimmed rows;
see workflow_helpers.reduce_studies), and imported RTFM-layout features through the pipeline."""

import csv
import json

import numpy as np
import pytest
import yaml
from workflow_helpers import planned_jobs, snakemake, tiny_demo_config

from dakd.reproduce import plan_dataset, stage_jobs

pytestmark = pytest.mark.slow

STUDIES = ["main", "table1", "table4", "table5", "figure4", "figure5_tau", "figure5_alpha", "figure5_k",
           "figure5_delta", "figure5_window", "readings"]


@pytest.fixture(scope="module")
def tables_run(tiny_demo):
    """Every study on the tiny demo (reduced by workflow_helpers.reduce_studies)."""
    workdir = tiny_demo
    run = snakemake(workdir, "--cores", "4", "results/demo/tables/all.md", "results/demo/tables/figure5.md",
                    timeout=1800)
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def test_every_study_is_tabulated_with_each_seed_kept(tables_run):
    tables = tables_run / "results" / "demo" / "tables"
    combined = (tables / "all.md").read_text()
    cfg = yaml.safe_load((tables_run / "config.yaml").read_text())
    probes = json.loads((tables_run / "results/demo/probe_auc.json").read_text())["probes"]
    assert probes
    for name in STUDIES:
        assert cfg["reproduce"]["studies"][name]["title"] in combined
        assert (tables / f"{name}.png").stat().st_size > 5000
        with open(tables / f"{name}.csv") as fh:
            summary = list(csv.DictReader(fh))
        with open(tables / f"{name}_runs.csv") as fh:
            runs = list(csv.DictReader(fh))
        trained = [row for row in summary if row["model"] != "probe"]
        assert trained and all(row["seeds"] == "2" and row["std_percent"] != "" for row in trained)
        assert len(runs) == 2 * len(trained)
        # the linear probe is deterministic: one value per backbone set, the one probe_auc.json holds
        assert {row["row"]: float(row["mean_percent"]) for row in summary if row["model"] == "probe"} == {
            f"Linear probe ({name})": pytest.approx(100 * result["value"], abs=1e-3)
            for name, result in probes.items()}
        for row in runs:
            assert 0.0 <= float(row["value_percent"]) <= 100.0
            result = json.loads((tables_run / "results/demo/runs" / row["result"]).read_text())
            assert float(row["value_percent"]) == pytest.approx(100 * result["value"], abs=1e-3)
            assert result["training_config"]["seed"] == int(row["seed"])
            run_dir = tables_run / "results/demo/runs" / row["run_dir"]
            tag = row["result"][len(row["run_dir"]) + 1:].removeprefix(f"{row['model']}_auc").removesuffix(".json")
            for name in (f"evaluate_{row['model']}{tag}", f"train_{row['model']}"):  # log and benchmark of each job
                assert (run_dir / "logs" / f"{name}.log").is_file(), (run_dir, name)
                assert (run_dir / "benchmarks" / f"{name}.tsv").is_file(), (run_dir, name)
            if row["model"] == "student":
                assert (run_dir.parent / "logs/pseudo_labels.log").is_file()
                assert (run_dir.parent / "benchmarks/pseudo_labels.tsv").is_file()
    figure5 = (tables / "figure5.md").read_text()
    assert all(cfg["reproduce"]["studies"][n]["title"] in figure5 for n in STUDIES if n.startswith("figure5_"))
    with open(tables / "table4.csv") as fh:
        labels = {r["row"] for r in csv.DictReader(fh) if r["model"] != "probe"}
    assert labels == {"Baseline (MIL, I3D)", "w/o TAM", "w/o L_nce", "w/o L_bce", "w/o min-max normalisation",
                      "w/o moving average", "DAKD"}


def test_runs_are_shared_between_rows_and_studies(tables_run):
    cfg = yaml.safe_load((tables_run / "config.yaml").read_text())
    plan = plan_dataset(cfg, "demo")
    jobs = stage_jobs([run for runs in plan.runs.values() for run in runs])
    runs_dir = tables_run / "results" / "demo" / "runs"
    teachers = sorted(p.parent.relative_to(runs_dir).as_posix() for p in runs_dir.glob("*/teacher.pt"))
    assert teachers == sorted(d for d, (stage, _) in jobs.items() if stage == "teacher")
    rows = sum(len(s.rows) for s in plan.studies.values()) * len(plan.seeds)
    assert len(teachers) < rows / 2  # most rows reuse a teacher trained for another row
    checkpoint_rows = {}
    for name in ("table1", "table4", "main"):
        with open(tables_run / "results/demo/tables" / f"{name}_runs.csv") as fh:
            for row in csv.DictReader(fh):
                checkpoint_rows.setdefault((row["model"], row["seed"], row["run_dir"]), []).append(row["row"])
    # the full model is one run, reported by Table 1 (TAM), Table 4 (DAKD) and the main table
    assert any({"TAM", "DAKD", "Student (CLIP)"} <= set(v) for v in checkpoint_rows.values())


def test_a_student_setting_reruns_students_only(tables_run):
    assert planned_jobs(snakemake(tables_run, "-n", "results/demo/tables/all.md").stdout) == {}
    config = tables_run / "config.yaml"
    original = config.read_text()
    cfg = yaml.safe_load(original)
    cfg["datasets"]["demo"]["overrides"]["student"]["optim"]["epochs"] = 3
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    try:
        plan = planned_jobs(snakemake(tables_run, "-n", "results/demo/tables/all.md").stdout)
    finally:
        config.write_text(original)
    # the study runs go through the stages' own rules
    assert set(plan) == {"train_student", "evaluate", "tabulate", "study_group"}
    assert plan["tabulate"] == len(STUDIES) - 1  # figure4 reports teachers only


def test_imported_features_dataset_runs_the_pipeline(tmp_path):
    """A 'features' dataset: RTFM-layout .npy files with planted anomalies -> import -> teacher -> AUC."""
    root = tmp_path / "released"
    rng = np.random.default_rng(0)
    lists, gt = {"train": [], "test": []}, []
    for split, first, count in (("train", 0, 12), ("test", 100, 8)):
        for i in range(first, first + count):
            anomalous = i % 2 == 0
            video_id = f"Explosion{i:03d}_x264" if anomalous else f"Normal_Videos_{i:03d}_x264"
            folder = root / f"{split}_i3d"
            folder.mkdir(parents=True, exist_ok=True)
            features = rng.standard_normal((10, 10, 16)).astype(np.float32)
            labels = np.zeros(10 * 16, np.float32)
            if anomalous:
                features[3:6] += 2.0
                labels[3 * 16 : 6 * 16] = 1
            np.save(folder / f"{video_id}_i3d.npy", features)
            lists[split].append(f"/data/{split}_i3d/{video_id}_i3d.npy")
            if split == "test":
                gt.append(labels)
    for split, lines in lists.items():
        (root / f"{split}.list").write_text("\n".join(lines) + "\n")
    np.save(root / "gt-ucf.npy", np.concatenate(gt))

    cfg = yaml.safe_load(tiny_demo_config(tmp_path).read_text())
    cfg["datasets"] = {"released": {
        "kind": "features", "root": str(root), "naming": "ucf_crime", "ground_truth": "gt-ucf.npy",
        "sources": {"i3d": {"train": "train.list", "test": "test.list", "feature_root": ".", "layout": "rtfm"}},
        "overrides": {"device": "cpu", "teacher": {"backbones": ["i3d"], "model": {"width": 32, "heads": 2,
                                                                                   "ffn_dim": 64},
                                                   "optim": {"epochs": 20, "normal_per_batch": 6,
                                                             "anomalous_per_batch": 6}},
                      "features": {"segments": 8}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(tmp_path, "--cores", "2", "results/released/teacher_auc.json")
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads((tmp_path / "results/released/teacher_auc.json").read_text())
    assert result["num_videos"] == 8 and result["auc"] > 0.9
    assert (tmp_path / "results/released/imported/shard-00000.parquet").is_file()
