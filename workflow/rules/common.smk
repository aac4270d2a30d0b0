# Shared helpers: per-dataset config, the parameters each stage depends on, shard lists.

import csv
import json
import sys
from pathlib import Path

from dakd.config import dataset_config, load_config

CONFIG_FILE = workflow.configfiles[0] if workflow.configfiles else "config.yaml"
DATASETS = sorted(config["datasets"])
# Datasets given as pre-extracted (community) features skip decoding and extraction.
FEATURE_DATASETS = [d for d in DATASETS if config["datasets"][d]["kind"] == "features"]
VIDEO_DATASETS = [d for d in DATASETS if d not in FEATURE_DATASETS]


wildcard_constraints:
    dataset="|".join(DATASETS),
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


def uses_gpu(dataset):
    """GPU count a heavy job asks for: 0 when the dataset runs on the CPU."""
    return 0 if load_config(CONFIG_FILE, dataset=dataset).device == "cpu" else 1


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
    size = load_config(CONFIG_FILE, dataset=dataset).extract.shard_size
    return max(1, -(-videos // size))


def feature_shards(wildcards):
    if wildcards.dataset in FEATURE_DATASETS:
        return [f"results/{wildcards.dataset}/imported"]
    n = shard_count(wildcards.dataset)
    return [f"results/{wildcards.dataset}/features/shard-{i:05d}.parquet" for i in range(n)]
