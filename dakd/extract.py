"""Feature extraction: a manifest of videos -> Parquet feature shards.

Decoding runs in worker processes (:class:`dakd.video.pool.DecodePool`, with the
configured decoder) while the parent runs every configured backbone on batches of
snippets that mix videos (:func:`dakd.embed.embedded_videos`), so one decode pass feeds
all backbones. A video that fails (a corrupt file, a decoder past its timeout) is listed
in the shard's failure manifest; the rest of the shard is still written. A shard whose
file already exists with the same extraction fingerprint is skipped, so a killed run
resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .atomic import write_json
from .backbones import Backbone, build_backbone, num_crops
from .config import ExtractConfig
from .datasets.manifest import VideoTask, read_manifest, shard_tasks, video_stats
from .embed import ExtractTimings, device_resize, embed_snippets, embedded_videos
from .errors import DakdError
from .features import BackboneInfo, VideoFeatures, VideoMeta, read_metadata, write_shard
from .features.store import FeatureStoreError, failure_manifest_path, shard_file_name
from .ids import BASE_SPLITS
from .provenance import config_digest, provenance
from .runtime import Precision
from .video import FRAMES
from .video.pool import DecodePool, decode_here
from .video.readers import check_decoder

# Settings that change speed, not features (every decoder yields the same frames).
SPEED_ONLY = ("num_workers", "videos_per_worker", "shard_size", "decoder")


def extraction_fingerprint(cfg: ExtractConfig, backbones: dict[str, Backbone]) -> str:
    """What must match for an existing shard to be reused: decoding settings and backbones."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in SPEED_ONLY}
    described = {name: {"weights": b.weights_source, **b.describe()} for name, b in backbones.items()}
    return config_digest({"extract": settings, "frames": frames_record(cfg), "backbones": described})


def frames_record(cfg: ExtractConfig) -> str:
    """How the frames were made (:data:`dakd.video.FRAMES`); NVDEC converts colour its own way."""
    return FRAMES + (", decoded by NVDEC" if cfg.decode_device == "cuda" else "")


# ---------------------------------------------------------------- shard extraction


def extract_shard(tasks: Sequence[VideoTask], cfg: ExtractConfig, backbones: dict[str, Backbone],
                  device: torch.device, out_path: str | os.PathLike, progress: bool = True,
                  timings: ExtractTimings | None = None) -> list[dict[str, str]]:
    """Extract ``tasks`` into one shard at ``out_path``; returns the failures (also written
    to ``<out_path>.failures.json``). Videos that fail are left out of the shard.

    On a GPU the workers send frames at their stored size and the resize runs on the GPU;
    on the CPU they resize in parallel themselves. ``timings`` collects where time went.
    """
    precision = Precision(cfg.precision, device)
    short_side = device_resize(cfg, device)

    def embed(frames: torch.Tensor) -> dict[str, np.ndarray]:
        return embed_snippets(frames, backbones, cfg.crops, device, precision, short_side)

    finished: dict[int, VideoFeatures] = {}
    failures: dict[int, str] = {}
    paths = [t.path for t in tasks]
    pool = None if cfg.decode_device == "cuda" else DecodePool(paths, cfg, resize=short_side is None)
    events = pool.events() if pool is not None else decode_here(paths, cfg, str(device))
    bar = tqdm(total=len(tasks), desc=Path(out_path).name, disable=not progress, unit="video")
    try:
        for kind, index, payload in embedded_videos(events, embed, cfg.batch_snippets, device, timings):
            if kind == "done":
                finished[index] = _assemble(tasks[index], *payload, cfg)
            else:
                failures[index] = payload
            bar.update()
    finally:
        if pool is not None:
            pool.close()
        bar.close()
    infos = [BackboneInfo(name, b.dim, num_crops(cfg.crops), b.weights_source,
                          {**b.describe(), **precision.record(name)}) for name, b in backbones.items()]
    prov = provenance("extract", asdict(cfg), fingerprint=extraction_fingerprint(cfg, backbones),
                      frames=frames_record(cfg),
                      videos=[t.path for t in tasks], video_stats=video_stats(tasks))
    failed = [{"video_id": tasks[i].video_id, "path": tasks[i].path, "reason": failures[i]} for i in sorted(failures)]
    write_json(failure_manifest_path(out_path), failed)
    write_shard(out_path, [finished[i] for i in sorted(finished)], infos, prov)
    return failed


def _assemble(task: VideoTask, info: dict[str, Any], chunks: dict[str, list[tuple[int, np.ndarray]]],
              cfg: ExtractConfig) -> VideoFeatures:
    features = {name: np.concatenate([f for _, f in sorted(parts, key=lambda c: c[0])])
                for name, parts in chunks.items()}
    meta = VideoMeta(task.video_id, task.split, task.label, task.class_name, info["num_frames"], info["fps"],
                     cfg.snippet_len, cfg.snippet_stride, info["num_snippets"], info["last_snippet_frames"])
    return VideoFeatures(meta, features)


def shard_is_current(path: Path, fingerprint: str, tasks: Sequence[VideoTask]) -> bool:
    """True when ``path`` is a readable shard of the same video files (paths, sizes and
    modification times) made with the same extraction fingerprint (and its failure manifest
    exists). A shard written before sizes and times were recorded is judged by its paths."""
    if not path.is_file() or not failure_manifest_path(path).is_file():
        return False
    try:
        _, prov = read_metadata(path)
    except FeatureStoreError:
        return False
    inputs = prov.get("inputs", {})
    same_files = inputs.get("video_stats", video_stats(tasks)) == video_stats(tasks)
    return inputs.get("fingerprint") == fingerprint and inputs.get("videos") == [t.path for t in tasks] and same_files


def build_backbones(cfg: ExtractConfig, device: torch.device, seed: int = 0) -> dict[str, Backbone]:
    """Every configured backbone, on ``device``; random weights are drawn from ``seed``."""
    backbones = {}
    for name, bcfg in cfg.backbones.items():
        torch.manual_seed(seed)
        backbone = build_backbone(bcfg).to(device)
        if device.type == "cuda" and any(isinstance(m, torch.nn.Conv3d) for m in backbone.modules()):
            backbone = backbone.to(memory_format=torch.channels_last_3d)
        if backbone.weights_source == "random":
            backbone.weights_source = f"random (seed {seed}; not a pretrained model)"
        backbones[name] = backbone
    return backbones


def run_extract(cfg: ExtractConfig, manifest: str | os.PathLike, out_dir: str | os.PathLike, device: torch.device,
                shards: Sequence[int] | None = None, progress: bool = True, seed: int = 0,
                splits: Sequence[str] = BASE_SPLITS, timings: ExtractTimings | None = None) -> list[dict[str, str]]:
    """Extract the given shard numbers (all when None) of ``manifest`` into ``out_dir``.

    ``splits`` are the split names the manifest may use (``dakd.ids.allowed_splits`` of the
    configured validation split). Backbones and checkpoints are checked before any video is
    decoded. Returns all failures; ``timings`` collects where the time went.
    """
    tasks = read_manifest(manifest, splits)
    groups = shard_tasks(tasks, cfg.shard_size)
    wanted = range(len(groups)) if shards is None else shards
    for number in wanted:
        if not 0 <= number < len(groups):
            raise DakdError(f"{manifest}: shard {number} out of range (manifest has {len(groups)} shard(s))")
    if cfg.decode_device == "cuda" and device.type != "cuda":
        raise DakdError(f"extract.decode_device: cuda decodes on the GPU (NVDEC), but extraction runs on {device}")
    check_decoder(cfg.decoder)
    backbones = build_backbones(cfg, device, seed)
    fingerprint = extraction_fingerprint(cfg, backbones)
    failures = []
    for number in wanted:
        path = Path(out_dir) / shard_file_name(number)
        if shard_is_current(path, fingerprint, groups[number]):
            failures += read_failures(path)
            continue
        failures += extract_shard(groups[number], cfg, backbones, device, path, progress, timings)
    return failures


def read_failures(shard_path: str | os.PathLike) -> list[dict[str, str]]:
    return json.loads(failure_manifest_path(shard_path).read_text())
