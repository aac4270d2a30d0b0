# Shared helpers: the configuration every job runs with, per-dataset config, the parameters
# each stage depends on, shard lists.

import csv
import functools
import hashlib
import json
import re
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from dakd.config import ConfigError, DakdConfig, check_workflow_config, dataset_config
from dakd.atomic import atomic_path

CONFIG_FILE = str(workflow.configfiles[0]) if workflow.configfiles else "config.yaml"


def _yaml_leaves(value):
    """--config reads a nested value with YAML's BaseLoader, so its leaves are all strings
    ('teacher={optim: {epochs: 3}}' gives epochs '3'); read each leaf as YAML instead."""
    if isinstance(value, dict):
        return {k: _yaml_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_leaves(v) for v in value]
    if isinstance(value, str):
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
            return float(value)  # YAML 1.1 wants a dot in 1.0e-3; 1e-3 is a number here too
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value


def _check_config():
    """The config Snakemake holds (config files, then --config) against the schema and dakd's
    own checks; a bad value stops the run here with one line naming it."""
    where = f"{CONFIG_FILE}{' with the --config overrides' if workflow.config_settings.config else ''}"
    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as exc:
        error = exc.__context__  # the jsonschema ValidationError
        if not hasattr(error, "absolute_path"):
            raise
        key = ".".join(str(part) for part in error.absolute_path) or "<root>"
        sys.exit(f"dakd: {where}: {key}: {' '.join(error.message.split())}")
    try:
        check_workflow_config(config, where)
    except ConfigError as exc:
        sys.exit(f"dakd: {' '.join(str(exc).split())}")


def _write_effective_config():
    """Write the config Snakemake holds to results/.config/config-<digest>.yaml and return the path.

    Every rule passes this file to the dakd CLI, so a job runs with, and its outputs record,
    exactly this config: --config and --configfile overrides included. The name is a digest
    of the content, so a job that parses the Snakefile again (a SLURM job) finds the same file,
    and files never change once written (temporary file + rename, on a shared file system too).
    """
    text = ("# The configuration the dakd jobs run with: the workflow's config files and --config\n"
            "# overrides, written by workflow/rules/common.smk. Named by its content's digest.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    path = Path("results", ".config", f"config-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml")
    try:
        if path.read_text() == text:
            return str(path)
    except (OSError, UnicodeDecodeError):
        pass
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return str(path)


update_config(config, _yaml_leaves({k: v for k, v in (workflow.config_settings.config or {}).items()
                                    if isinstance(v, (dict, list))}))
_check_config()
# What every rule passes to `dakd ... --config`.
EFFECTIVE_CONFIG = _write_effective_config()
# Every rule logs stdout to {log}; stderr (warnings, errors) goes to the log and the console.
# Both append (Snakemake removes a job's log before it runs), so neither overwrites the other;
# the pipeline keeps the stage's exit status (Snakemake runs bash with pipefail).
TO_LOG = " 2>&1 >>{log:q} | tee -a {log:q} >&2"

DATASETS = sorted(config["datasets"])
# Datasets given as pre-extracted (community) features skip decoding and extraction.
FEATURE_DATASETS = [d for d in DATASETS if config["datasets"][d]["kind"] == "features"]
VIDEO_DATASETS = [d for d in DATASETS if d not in FEATURE_DATASETS]


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    model="teacher|student",
    shard=r"\d{5}",


def merged(dataset):
    """config with datasets.<dataset>.overrides applied (what the dakd CLI sees with --dataset)."""
    return dataset_config(config, dataset, CONFIG_FILE)


def stage_params(dataset, *sections):
    """The config sections a stage depends on, as one JSON string: Snakemake reruns a job
    when its params change, so editing student.* reruns only the student and its evaluation."""
    cfg = merged(dataset)
    return json.dumps({s: cfg.get(s) for s in sections}, sort_keys=True)



def dataset_source(dataset):
    """What a dataset's files are made from (its entry without the per-stage overrides), so
    editing an override reruns the stages that read it, not the indexing or the import."""
    return json.dumps({k: v for k, v in config["datasets"][dataset].items() if k != "overrides"}, sort_keys=True)


def training_params(dataset, stage):
    """What a training stage depends on; the evaluation settings only when they pick the epoch."""
    sections = ["seed", "device", "features", stage, "validation"]
    if (merged(dataset).get("validation") or {}).get("split"):
        sections.append("evaluate")
    return stage_params(dataset, *sections)


@functools.cache
def dakd_config(dataset):
    """The typed config a dakd stage on ``dataset`` runs with (config is fixed once parsed)."""
    return DakdConfig.from_dict(merged(dataset))


def uses_gpu(dataset):
    """GPU count a heavy job asks for: 0 when the dataset runs on the CPU."""
    return 0 if dakd_config(dataset).device == "cpu" else 1


def dataset_root(dataset):
    return Path(config["datasets"][dataset]["root"])


def require_dataset_root(wildcards):
    """Input of the indexing rule. A real dataset that is not where config.yaml says stops the
    run while the DAG is built, with one line naming the missing path."""
    spec = config["datasets"][wildcards.dataset]
    if spec["kind"] == "demo":
        return [str(dataset_root(wildcards.dataset) / "demo.json")]
    root = dataset_root(wildcards.dataset)
    if not root.is_dir():
        sys.exit(f"dakd: dataset {wildcards.dataset!r}: {root} not found "
                 f"(set datasets.{wildcards.dataset}.root in {CONFIG_FILE})")
    return []


def imported_sources(wildcards):
    """The list and ground-truth files a 'features' dataset is imported from (edits rerun the import)."""
    spec = config["datasets"][wildcards.dataset]
    root = dataset_root(wildcards.dataset)
    files = [spec.get("ground_truth")] + [entry.get(split) for entry in (spec.get("sources") or {}).values()
                                          for split in ("train", "test")]
    return [str(root / f) for f in files if f]


def shard_count(dataset):
    manifest = checkpoints.index_dataset.get(dataset=dataset).output.manifest
    with open(manifest) as fh:
        videos = sum(1 for _ in csv.DictReader(fh))
    size = dakd_config(dataset).extract.shard_size
    return max(1, -(-videos // size))


def feature_shards(wildcards):
    if wildcards.dataset in FEATURE_DATASETS:
        return [f"results/{wildcards.dataset}/imported"]
    n = shard_count(wildcards.dataset)
    return [f"results/{wildcards.dataset}/features/shard-{i:05d}.parquet" for i in range(n)]
