"""What the rules' input functions return: a dataset's root (checked), the files a feature import
reads, the feature shards, the videos to score, and the earlier stages of a run. A problem is a
Snakemake WorkflowError with a one-line ``dakd: ...`` message (an input function may not exit)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import DakdConfig
from .sections import RUN_STAGES


def workflow_error(message: str) -> Exception:
    """Snakemake's WorkflowError (imported here: the rest of dakd.workflow runs without Snakemake)."""
    from snakemake.exceptions import WorkflowError

    return WorkflowError(message)


def dataset_root_inputs(config: dict[str, Any], dataset: str, where: str) -> list[str]:
    """Input of the indexing rule: the demo's generated description, nothing for a real dataset,
    whose root must exist (else the plan stops while the DAG is built, naming the missing path)."""
    spec = config["datasets"][dataset]
    root = Path(spec["root"])
    if spec["kind"] == "demo":
        return [str(root / "demo.json")]
    if not root.is_dir():
        raise workflow_error(f"dakd: dataset {dataset!r}: {root} not found (set datasets.{dataset}.root in {where})")
    return []


def imported_sources(config: dict[str, Any], dataset: str) -> list[str]:
    """The list and ground-truth files a 'features' dataset is imported from (edits rerun the import)."""
    spec = config["datasets"][dataset]
    root = Path(spec["root"])
    files = [spec.get("ground_truth"), spec.get("compare_ground_truth")]
    files += [entry.get(split) for entry in (spec.get("sources") or {}).values() for split in ("train", "test")]
    return [str(root / f) for f in files if f]


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
        sources, empty = expand_sources([folder])
    except DakdError as exc:
        raise workflow_error(f"dakd: dataset {dataset!r}: {' '.join(str(exc).split())}") from None
    if empty:
        raise workflow_error(f"dakd: dataset {dataset!r}: {empty[0]['reason']}")
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
