"""The demo DAG's rules submitted through a real one-node SLURM cluster on localhost."""

import json
import os
import subprocess

import pytest
from slurm_cluster import LocalSlurm, missing_binaries
from workflow_helpers import snakemake, tiny_demo_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install SLURM (missing {missing}); see README's test command")
        pytest.skip(f"SLURM not installed ({missing})")
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munged needs root")
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    yield cluster
    cluster.stop()


def test_demo_dag_runs_through_slurm(slurm, tmp_path):
    tiny_demo_config(tmp_path)
    run = snakemake(
        tmp_path, "--executor", "slurm",
        "--jobs", "2", "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-keep-successful-logs",
        "--slurm-init-seconds-before-status-checks", "1", "--default-resources", "slurm_partition=debug",
        "mem_mb=1000", "runtime=30", "--set-threads", "extract_shard=1", "train_teacher=1", "train_student=1",
        "--set-resources", "extract_shard:mem_mb=2000", "train_teacher:mem_mb=2000", "train_student:mem_mb=2000",
        "pseudo_labels:mem_mb=1000", "evaluate:mem_mb=1000", "--latency-wait", "30",
        "results/demo/student_auc.json", env=slurm.env, timeout=1500,
    )
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert json.loads((tmp_path / "results/demo/student_auc.json").read_text())["model"] == "student"
    # the jobs really went through SLURM: its log directory has one entry per rule
    logs = tmp_path / ".snakemake" / "slurm_logs"
    rules = {p.name for p in logs.iterdir()} if logs.exists() else set()
    assert {"rule_train_teacher", "rule_train_student", "rule_evaluate"} <= rules, rules
    queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True, env={**os.environ, **slurm.env})
    assert queue.stdout.strip() == ""
