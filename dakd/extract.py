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

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .atomic import write_json
from .backbones import Backbone, build_backbone, num_crops
from .config import ExtractConfig
from .embed import ExtractTimings, device_resize, embed_snippets, embedded_videos
from .errors import DakdError
from .features import BackboneInfo, VideoFeatures, VideoMeta, read_metadata, write_shard
from .features.store import FeatureStoreError
from .ids import BASE_SPLITS, check_split, check_video_id
from .provenance import config_digest, provenance
from .runtime import Precision
from .video import FRAMES
from .video.pool import DecodePool, decode_here

MANIFEST_COLUMNS = ("video_id", "path", "split", "label", "class_name")


@dataclass(frozen=True)
class VideoTask:
    video_id: str
    path: str
    split: str
    label: int
    class_name: str


def read_manifest(path: str | os.PathLike, splits: Sequence[str] = BASE_SPLITS) -> list[VideoTask]:
    """Videos to extract, from a CSV with columns video_id, path, split, label, class_name.

    Relative video paths are taken relative to the manifest's directory. Columns are found
    by name (others are ignored); a byte-order mark (Excel's "CSV UTF-8") is skipped. Every
    problem is a one-line :class:`DakdError` naming the line: a row with the wrong number of
    cells, an unsafe video id (``dakd.ids.check_video_id``), a split not in ``splits``, a
    label other than 0 or 1, an empty path or class name, and a video id or a video file
    listed twice. A manifest without rows is an error too.
    """
    path = Path(path)
    if not path.is_file():
        raise DakdError(f"{path}: video manifest not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read_manifest_rows(path, csv.reader(fh), tuple(splits))
    except UnicodeDecodeError:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:  # again on the whole file, for a position in it
            line = data.count(b"\n", 0, exc.start) + 1
            raise DakdError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                            f"manifest as CSV UTF-8") from None
        raise DakdError(f"{path}: not UTF-8 text; save the manifest as CSV UTF-8") from None  # changed meanwhile
    except OSError as exc:
        raise DakdError(f"{path}: cannot read the video manifest ({exc.strerror or type(exc).__name__})") from None


def _read_manifest_rows(path: Path, reader, splits: tuple[str, ...]) -> list[VideoTask]:
    line = 1  # where the current record starts (a quoted cell may span lines)
    try:
        header = next(reader, None)
        if header is None:
            raise DakdError(f"{path}: empty manifest (expected a header row {', '.join(MANIFEST_COLUMNS)})")
        header = [name.strip() for name in header]
        for i, name in enumerate(header):
            if name in MANIFEST_COLUMNS and name in header[:i]:
                raise DakdError(f"{path}:1: column {name!r} appears twice in the header")
        missing = [c for c in MANIFEST_COLUMNS if c not in header]
        if missing:
            raise DakdError(f"{path}: manifest lacks column(s) {missing}")
        index = {name: header.index(name) for name in MANIFEST_COLUMNS}
        expected = f"{len(header)} ({', '.join(n if n.isprintable() else repr(n) for n in header)})"
        tasks: list[VideoTask] = []
        ids: dict[str, int] = {}
        files: dict[str, tuple[int, str]] = {}
        line = reader.line_num + 1
        for row in reader:
            if not row:  # a blank line
                line = reader.line_num + 1
                continue
            where = f"{path}:{line}"
            if len(row) != len(header):
                raise DakdError(f"{where}: {len(row)} column{'s' if len(row) != 1 else ''}, expected {expected}")
            cell = {name: row[i] for name, i in index.items()}
            for name in ("path", "class_name"):
                if not cell[name].strip():
                    raise DakdError(f"{where}: empty {name} (column {index[name] + 1})")
            video_id = check_video_id(cell["video_id"], where)
            if video_id in ids:
                raise DakdError(f"{where}: duplicate video_id {video_id!r} (first on line {ids[video_id]})")
            split = check_split(cell["split"], where, splits)
            if cell["label"] not in ("0", "1"):
                raise DakdError(f"{where}: label must be 0 or 1, got {cell['label']!r}")
            if "\0" in cell["path"]:
                raise DakdError(f"{where}: path {cell['path']!r} contains a NUL character")
            video = Path(cell["path"])
            video = video if video.is_absolute() else path.parent / video
            key = os.path.normcase(os.path.realpath(video))
            if key in files:
                first, other = files[key]
                raise DakdError(f"{where}: video {cell['path']!r} (video_id {video_id!r}) is already listed on "
                                f"line {first} as video_id {other!r}")
            ids[video_id] = line
            files[key] = (line, video_id)
            tasks.append(VideoTask(video_id, str(video), split, int(cell["label"]), cell["class_name"]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DakdError(f"{path}:{line}: not a well-formed CSV row ({exc})") from None
    if not tasks:
        raise DakdError(f"{path}: manifest lists no videos (a header and no rows)")
    return tasks


def shard_tasks(tasks: Sequence[VideoTask], shard_size: int) -> list[list[VideoTask]]:
    return [list(tasks[i : i + shard_size]) for i in range(0, len(tasks), shard_size)]


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
    num_crops(cfg.crops)
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
                      videos=[t.path for t in tasks])
    failed = [{"video_id": tasks[i].video_id, "path": tasks[i].path, "reason": failures[i]} for i in sorted(failures)]
    write_json(failure_manifest_path(out_path), failed)
    write_shard(out_path, [finished[i] for i in sorted(finished)], infos, prov)
    return failed


def failure_manifest_path(shard_path: str | os.PathLike) -> Path:
    shard_path = Path(shard_path)
    return shard_path.with_name(shard_path.stem + ".failures.json")


def _assemble(task: VideoTask, info: dict[str, Any], chunks: dict[str, list[tuple[int, np.ndarray]]],
              cfg: ExtractConfig) -> VideoFeatures:
    features = {name: np.concatenate([f for _, f in sorted(parts, key=lambda c: c[0])])
                for name, parts in chunks.items()}
    meta = VideoMeta(task.video_id, task.split, task.label, task.class_name, info["num_frames"], info["fps"],
                     cfg.snippet_len, cfg.snippet_stride, info["num_snippets"], info["last_snippet_frames"])
    return VideoFeatures(meta, features)


def shard_is_current(path: Path, fingerprint: str, tasks: Sequence[VideoTask]) -> bool:
    """True when ``path`` is a readable shard of the same videos made with the same
    extraction fingerprint (and its failure manifest exists)."""
    if not path.is_file() or not failure_manifest_path(path).is_file():
        return False
    try:
        _, prov = read_metadata(path)
    except FeatureStoreError:
        return False
    inputs = prov.get("inputs", {})
    return inputs.get("fingerprint") == fingerprint and inputs.get("videos") == [t.path for t in tasks]


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
    backbones = build_backbones(cfg, device, seed)
    fingerprint = extraction_fingerprint(cfg, backbones)
    failures = []
    for number in wanted:
        path = Path(out_dir) / shard_name(number)
        if shard_is_current(path, fingerprint, groups[number]):
            failures += read_failures(path)
            continue
        failures += extract_shard(groups[number], cfg, backbones, device, path, progress, timings)
    return failures


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.parquet"


def read_failures(shard_path: str | os.PathLike) -> list[dict[str, str]]:
    return json.loads(failure_manifest_path(shard_path).read_text())
