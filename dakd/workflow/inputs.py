"""What the rules' input functions return: a dataset's root (checked), the files a feature import
reads, the feature shards, the videos to score, and the earlier stages of a run. A problem is a
Snakemake WorkflowError with a one-line ``dakd: ...`` message (an input function may not exit)."""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config import DakdConfig
from .sections import RUN_STAGES


def workflow_error(message: str) -> Exception:
    """Snakemake's WorkflowError (imported here: the rest of dakd.workflow runs without Snakemake)."""
    from snakemake.exceptions import WorkflowError

    return WorkflowError(message)


# Snakemake reads braces in an input path as a wildcard, so such files are followed through
# dataset_sources_digest (a rule parameter) alone.
BRACES = re.compile(r"[{}]")


def dataset_root_inputs(config: dict[str, Any], dataset: str, where: str) -> list[str]:
    """Input of the indexing rule: the files the index reads (the demo's generated description;
    a real dataset's lists, annotations and masks that exist: an edit reruns the index). A real
    dataset's root must exist, else the plan stops while the DAG is built, naming the path."""
    from ..datasets import dataset_sources

    spec = config["datasets"][dataset]
    root = Path(spec["root"])
    if spec["kind"] == "demo":
        return [str(root / "demo.json")]
    if not root.is_dir():
        raise workflow_error(f"dakd: dataset {dataset!r}: {root} not found (set datasets.{dataset}.root in {where})")
    files = dataset_sources(spec["kind"], root, spec.get("options")).files
    return [str(f) for f in files if f.is_file() and not BRACES.search(str(f))]


def dataset_sources_digest(config: dict[str, Any], dataset: str) -> str:
    """The indexing rule's rerun trigger beyond its input files: a digest of the video files its
    folders hold (added, removed or renamed videos rerun the index; a video's content is its
    shard's business, :func:`shard_videos`) and the size and time of every file it reads."""
    from ..datasets import dataset_sources
    from ..provenance import config_digest

    spec = config["datasets"][dataset]
    if spec["kind"] == "demo" or not Path(spec["root"]).is_dir():
        return ""
    sources = dataset_sources(spec["kind"], spec["root"], spec.get("options"))
    stats = {}
    for path in sources.files:
        stat = path.stat() if path.is_file() else None
        stats[str(path)] = stat and [stat.st_size, stat.st_mtime_ns]
    return config_digest({"videos": sources.listing().digest(), "files": stats})


def imported_sources(config: dict[str, Any], dataset: str) -> list[str]:
    """The list and ground-truth files a 'features' dataset is imported from (edits rerun the import)."""
    spec = config["datasets"][dataset]
    root = Path(spec["root"])
    files = [spec.get("ground_truth"), spec.get("compare_ground_truth")]
    files += [entry.get(split) for entry in (spec.get("sources") or {}).values() for split in ("train", "test")]
    return [str(root / f) for f in files if f]


def shard_videos(manifest: str | os.PathLike, number: int, shard_size: int) -> str:
    """The rerun trigger of shard ``number``: its manifest rows with each video file's size and
    modification time, as JSON. Extraction does not take the manifest's time (the index rewrites
    it whenever it reruns), so an edit reruns only the shards whose videos or rows changed."""
    from ..datasets.manifest import VideoTask, shard_tasks, video_stats

    with open(manifest, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    groups = shard_tasks(rows, shard_size)
    chunk = groups[number] if number < len(groups) else []
    folder = Path(manifest).parent
    tasks = [VideoTask(r["video_id"], str(folder / r["path"]), r["split"], r["label"], r["class_name"]) for r in chunk]
    return json.dumps({"videos": [asdict(t) for t in tasks], "stats": video_stats(tasks)}, sort_keys=True)


def shard_files(dataset: str, manifest: str | os.PathLike, shard_size: int) -> list[str]:
    """The feature shards extraction writes for the videos of ``manifest`` (one at least)."""
    # Imported here: they pull in torch, which the Snakefile does not need while it parses.
    from ..datasets.manifest import count_videos
    from ..features.store import shard_file_name

    count = max(1, -(-count_videos(manifest) // shard_size))
    return [f"results/{dataset}/features/{shard_file_name(i)}" for i in range(count)]


def imported_features(dataset: str) -> list[str]:
    """The folder a 'features' dataset's shards are imported to."""
    return [f"results/{dataset}/imported"]


def scored_videos(cfg: DakdConfig, dataset: str, where: str) -> dict[str, str]:
    """{output name: video path} under the dataset's score.input_dir; a missing setting or
    folder stops the plan with one line."""
    from ..errors import DakdError
    from ..scoring.sources import expand_sources

    folder = cfg.score.input_dir
    if not folder:
        raise workflow_error(f"dakd: dataset {dataset!r}: set score.input_dir (the folder of videos to score) in "
                             f"{where} or its datasets.{dataset}.overrides")
    if not Path(folder).is_dir():
        raise workflow_error(f"dakd: dataset {dataset!r}: score.input_dir {folder} not found")
    try:
        sources, failed = expand_sources([folder])
    except DakdError as exc:
        raise workflow_error(f"dakd: dataset {dataset!r}: {' '.join(str(exc).split())}") from None
    if failed:  # an empty folder, or a video whose name is not a safe file name
        raise workflow_error(f"dakd: dataset {dataset!r}: {' '.join(failed[0]['reason'].split())}")
    return {s.name: s.location for s in sources}


def scored_video_input(cfg: DakdConfig, dataset: str, video: str, videos: dict[str, str]) -> dict[str, str]:
    """The video file and the checkpoint (score.model) of one scoring job."""
    if video not in videos:
        raise workflow_error(f"dakd: no video named {video!r} under score.input_dir {cfg.score.input_dir}")
    return {"video": videos[video], "model": f"results/{dataset}/{cfg.score.model}.pt"}


def run_prefix(run: str, stage: str) -> str:
    """The prefix of ``stage``'s output in the run whose prefix is ``run`` (a later stage's):
    '' for the dataset's own run, else runs/t<..>/ (p<..>/) up to that stage's directory."""
    if not run:
        return ""
    parts = run.strip("/").split("/")
    return "/".join(parts[: 2 + list(RUN_STAGES).index(stage)]) + "/"


def run_dir(run: str) -> str:
    """A study run's directory under results/<dataset>/runs (the prefix without runs/ and the last
    slash); '' for the dataset's own run."""
    return run.removeprefix("runs/").removesuffix("/")
