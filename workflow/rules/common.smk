# Glue shared by the rules: the configuration every job runs with, the datasets, the parameters
# each stage depends on, shard lists, and a run's earlier stages. The Python is in dakd/workflow/.

import os
import re
import sys
from pathlib import Path

from dakd.config import ConfigError
from dakd.workflow.configuration import Datasets, check_config, dataset_source, write_effective_config
from dakd.workflow.inputs import (dataset_root_inputs, dataset_sources_digest, imported_features, imported_sources,
                                  run_prefix, scored_video_input, scored_videos, shard_files, shard_videos)
from dakd.workflow.precedence import command_line_values, merge_command_line
from dakd.workflow.sections import EVALUATION_PATTERN, RUN_PREFIX_PATTERNS, stage_params
from dakd.workflow.studies import StudyPlans

# The rules call `dakd` from the environment of the Python that runs Snakemake, activated or not
# (`.venv/bin/snakemake ...` finds .venv/bin/dakd); jobs run with this process's PATH.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

CONFIG_FILE = str(workflow.configfiles[0]) if workflow.configfiles else "config.yaml"
WHERE = f"{CONFIG_FILE}{' with the --config overrides' if workflow.config_settings.config else ''}"

try:
    # --config values, nested or dotted (set=teacher.optim.epochs=50), typed and checked
    COMMAND_LINE = command_line_values(workflow.config_settings.config)
    # A --config value wins over a dataset's overrides (docs/reliability.md); each value it replaces is one line.
    PRECEDENCE = merge_command_line(config, COMMAND_LINE)
    check_config(config, WHERE, Path(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))
except ConfigError as exc:
    sys.exit(str(exc) if str(exc).startswith("dakd: ") else f"dakd: {exc}")
for line in PRECEDENCE:
    print(line, file=sys.stderr)
# What every rule passes to `dakd ... --config`.
EFFECTIVE_CONFIG = write_effective_config(config)
# Every rule logs stdout to {log}; stderr (warnings, errors) goes to the log and the console.
# Both append (Snakemake removes a job's log before it runs), so neither overwrites the other;
# the pipeline keeps the stage's exit status (Snakemake runs bash with pipefail).
TO_LOG = " 2>&1 >>{log:q} | tee -a {log:q} >&2"
# Every computing dakd command runs torch on the threads Snakemake (or SLURM) gave the job.
THREADS = " --threads {threads}"

# Each dataset's merged and typed config and GPU count, worked out once here.
DATASETS = Datasets.of(config, CONFIG_FILE)
# Datasets given as pre-extracted (community) features skip decoding and extraction.
FEATURE_DATASETS = DATASETS.of_kind(features=True)
VIDEO_DATASETS = DATASETS.of_kind(features=False)
STUDIES = StudyPlans(config, CONFIG_FILE, COMMAND_LINE)


def one_of(names):
    return "|".join(map(re.escape, names)) or "$^"


wildcard_constraints:
    dataset=one_of(DATASETS.names),
    model="teacher|student",
    shard=r"\d{5}",


def gpus(wildcards):
    """GPU count a heavy job asks for: 0 when the dataset runs on the CPU."""
    return DATASETS.gpus[wildcards.dataset]


def feature_shards(wildcards):
    if wildcards.dataset in FEATURE_DATASETS:
        return imported_features(wildcards.dataset)
    manifest = checkpoints.index_dataset.get(dataset=wildcards.dataset).output.manifest
    return shard_files(wildcards.dataset, manifest, DATASETS.typed[wildcards.dataset].extract.shard_size)


def run_changes(wildcards):
    """The dotted config changes of the job's run: none for the dataset's own (run ''), a study row's else."""
    return STUDIES.run_changes(wildcards.dataset, wildcards.run)


def run_params(stage):
    """A stage's rerun trigger: the sections it reads, after the run's changes."""
    return lambda wc: stage_params(DATASETS.merged[wc.dataset], stage, run_changes(wc))


def earlier(stage, name):
    """Input function: ``name`` (teacher.pt, ...) of the run's ``stage``."""
    return lambda wc: f"results/{wc.dataset}/{run_prefix(wc.run, stage)}{name}"


def evaluation_changes(wildcards):
    """The dotted config changes of an evaluation: none for the dataset's own results."""
    return STUDIES.result_changes(wildcards.dataset, wildcards.run, wildcards.model, wildcards.evaluation)
