"""The rule files without running a job: every computing rule logs and benchmarks, the SLURM
profile names the workflow's rules, and the README's demo command plans the plots too."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO, planned_jobs, snakemake, tiny_demo_config

RULES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def rule_blocks() -> dict[str, str]:
    """{rule name: its text} of every rule and checkpoint in workflow/rules/."""
    blocks = {}
    for path in RULES:
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^\s*(?:rule|checkpoint) (\w+):", text, re.M)]
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(text), "")]):
            blocks[name] = text[start:end]
    return blocks


def test_every_computing_rule_has_a_log_and_a_benchmark():
    blocks = rule_blocks()
    assert {"train_teacher", "pseudo_labels", "train_student", "evaluate", "tabulate", "plots"} <= set(blocks)
    for name, block in blocks.items():
        assert re.search(r"^\s+log:", block, re.M) and re.search(r"^\s+benchmark:", block, re.M), name
        assert re.search(r"^\s+threads:", block, re.M), name


def test_one_rule_per_stage():
    assert not [name for name in rule_blocks() if name.startswith("study_") and name != "study_group"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules")
    tiny_demo_config(path)
    return path


def test_the_slurm_profile_names_every_rule(workdir):
    run = snakemake(workdir, "--list-rules")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = set(run.stdout.split()) - {"all"}
    profile = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    assert set(profile["set-resources"]) == rules


def test_the_readme_demo_command_plans_the_plots(workdir):
    readme = (REPO / "README.md").read_text()
    command = re.search(r"```bash\n(python3 -m venv .*)\n```", readme).group(1)
    assert "activate" not in command and command.endswith(".venv/bin/snakemake --cores 2")
    run = snakemake(workdir, "-n", "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    assert {"make_demo", "index_dataset", "plots", "all"} <= set(planned_jobs(run.stdout)), run.stdout[-3000:]
    assert "results/demo/plots/student_timelines.png" in run.stdout


def test_jobs_find_dakd_without_an_activated_environment(tmp_path):
    """`.venv/bin/snakemake` with the venv off PATH (the README's demo command): the jobs still run dakd."""
    tiny_demo_config(tmp_path)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not Path(p, "dakd").exists())
    run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "--cores", "1", "results/demo/videos.csv"],
                         capture_output=True, text=True, env={**os.environ, "PATH": path}, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "results/demo/videos.csv").is_file()
