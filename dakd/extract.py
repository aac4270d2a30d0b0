"""Feature extraction: a manifest of videos -> Parquet feature shards.

Decoding runs in worker processes (decord) while the parent runs every configured
backbone on each batch of snippets, so one decode pass feeds all backbones. A worker
that exceeds the per-video timeout (decord can loop forever on a bad container) or dies
is killed and replaced, and its video is listed in the shard's failure manifest; the
rest of the shard is still written. Workers are recycled after a number of videos to
bound decord's leaks on long videos. A shard whose file already exists with the same
extraction fingerprint is skipped, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import csv
import ctypes
import json
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from multiprocessing import connection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .backbones import Backbone, build_backbone, num_crops
from .config import ExtractConfig
from .errors import DakdError
from .features import BackboneInfo, VideoFeatures, VideoMeta, read_metadata, write_shard
from .features.store import FeatureStoreError
from .ids import BASE_SPLITS, check_split, check_video_id
from .io import write_json
from .provenance import config_digest, provenance
from .video import FRAMES

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
    return config_digest({"extract": settings, "frames": FRAMES, "backbones": described})


# ---------------------------------------------------------------- decode workers


PARENT_POLL_S = 0.5


def _die_with_parent(parent: int) -> None:
    """End this worker process soon after ``parent`` dies, whatever its main thread is blocked on.

    Without this, a worker blocked on a full result queue (or inside decord) outlives a
    SIGKILLed parent forever. On Linux the kernel sends SIGKILL when the parent goes
    (PR_SET_PDEATHSIG; strictly, when the parent *thread* that started the worker ends:
    DecodePool's workers are started by the thread that iterates its events). Everywhere,
    a daemon thread polls the parent pid and calls ``os._exit``.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:  # also catches a parent that died before prctl
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="dakd-parent-watchdog", daemon=True).start()


def _decode_worker(conn: Connection, cfg: dict[str, Any], parent: int) -> None:
    """Decode the videos the parent sends, one at a time, until it sends None.

    Every message goes back on this worker's own pipe, so a worker that is killed (a hung
    decoder past its timeout) can only break its own channel: a queue shared between
    workers can be left locked, or holding half a message, by a process killed mid-write.
    """
    from .video import VideoDecoder

    _die_with_parent(parent)
    torch.set_num_threads(1)
    while (item := _next_task(conn, parent)) is not None:
        index, path = item
        conn.send(("take", index, None))
        decoder = None
        try:
            decoder = VideoDecoder(path, cfg["snippet_len"], cfg["snippet_stride"], cfg["decode_short_side"],
                                   cfg["decoder"])
            plan = decoder.plan
            conn.send(("info", index, {
                "num_frames": plan.num_frames, "fps": decoder.info.fps, "num_snippets": plan.num_snippets,
                "last_snippet_frames": plan.last_snippet_frames}))
            for start, frames in decoder.batches(cfg["batch_snippets"]):
                # numpy, not a shared-memory tensor: a recycled worker may exit before the
                # parent unpickles its last batch, and torch's fd sharing needs it alive.
                conn.send(("batch", index, (start, frames)))
            conn.send(("done", index, None))
        except Exception as exc:  # any failure belongs to this video only
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            conn.send(("error", index, message))
        finally:
            if decoder is not None:
                decoder.close()
    conn.close()


def _next_task(conn: Connection, parent: int) -> tuple[int, str] | None:
    """The next (index, path) from the parent, or None to stop; a worker whose parent died stops too."""
    while not conn.poll(5.0):
        if os.getppid() != parent:
            return None
    try:
        return conn.recv()
    except EOFError:
        return None


@dataclass
class _Pending:
    info: dict[str, Any] | None = None
    chunks: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)


STARTUP_S = 120.0


@dataclass
class _Worker:
    """A decoding process, its end of the pipe, the video it works on and since when."""

    process: Any
    conn: Connection
    task: int | None = None
    started: float = 0.0
    taken: bool = False  # the worker has said it started on ``task``
    handled: int = 0


class DecodePool:
    """Worker processes decoding a list of videos; yields per-video events in completion order.

    Each worker has its own pipe. The parent hands out one video at a time, so a worker
    holds at most one video, and the pipe's buffer bounds what is in flight: a worker
    blocks on its next batch until the parent has read the last one.
    """

    def __init__(self, paths: Sequence[str], cfg: ExtractConfig) -> None:
        self.cfg = cfg
        self.ctx = mp.get_context("spawn")
        self.queue = list(enumerate(paths))[::-1]  # popped from the end: list order
        self.total = len(paths)
        self.workers: list[_Worker] = []
        for _ in range(min(max(cfg.num_workers, 1), len(paths))):
            self._spawn()

    def _spawn(self) -> None:
        decode = {k: getattr(self.cfg, k) for k in ("snippet_len", "snippet_stride", "decode_short_side",
                                                   "batch_snippets", "decoder")}
        ours, theirs = self.ctx.Pipe()
        process = self.ctx.Process(target=_decode_worker, daemon=True, args=(theirs, decode, os.getpid()))
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        self._assign(worker)

    def _assign(self, worker: _Worker) -> None:
        """Give an idle worker the next video; recycle it after ``videos_per_worker`` (decord leaks)."""
        if not self.queue:
            return
        if worker.handled >= self.cfg.videos_per_worker:
            self._retire(worker, graceful=True)
            return
        worker.task, path = self.queue.pop()
        worker.started, worker.taken = time.monotonic(), False
        worker.conn.send((worker.task, path))

    def _retire(self, worker: _Worker, graceful: bool = False) -> None:
        """Stop a worker (it finishes on its own when ``graceful``; else it is killed) and
        start a fresh one while videos are left."""
        self.workers.remove(worker)
        if graceful:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        if self.queue:
            self._spawn()

    def events(self):
        """Yield (kind, index, payload) until every video is done or failed.

        kinds: ``info`` (decoded size and snippet plan), ``batch`` ((first_snippet, frames)),
        ``done`` and ``error`` (a one-line reason).
        """
        remaining = self.total
        while remaining > 0:
            ready = connection.wait([w.conn for w in self.workers], timeout=1.0)
            for worker in [w for w in self.workers if w.conn in ready]:
                try:
                    kind, index, payload = worker.conn.recv()
                except (EOFError, OSError):  # the process died; its pipe closed with it
                    failed = self._replace_dead(worker)
                    if failed is not None:
                        remaining -= 1
                        yield "error", *failed
                    continue
                # The clock measures a stall: it restarts with every message, so a long video
                # or a parent busy embedding never times out, a decoder stuck in one call does.
                worker.started, worker.taken = time.monotonic(), True
                if kind == "take":
                    continue
                if kind in ("done", "error"):
                    remaining -= 1
                    worker.task, worker.handled = None, worker.handled + 1
                    self._assign(worker)
                yield kind, index, payload
            for index, reason in self._reap_stuck_workers():
                remaining -= 1
                yield "error", index, reason

    def _replace_dead(self, worker: _Worker) -> tuple[int, str] | None:
        worker.process.join(timeout=5)
        task, code = worker.task, worker.process.exitcode
        self._retire(worker)
        return None if task is None else (task, f"decoder process died (exit code {code})")

    def _reap_stuck_workers(self) -> list[tuple[int, str]]:
        """Kill workers past the per-video timeout or dead mid-video; their videos fail."""
        failed = []
        now = time.monotonic()
        for worker in list(self.workers):
            # A fresh process gets STARTUP_S more for its imports (seconds on a loaded machine).
            limit = self.cfg.video_timeout_s + (0 if worker.taken else STARTUP_S)
            if worker.task is not None and now - worker.started > limit:
                task = worker.task
                self._retire(worker)
                failed.append((task, f"decoding stalled: no progress for {self.cfg.video_timeout_s:g} s"))
            elif not worker.process.is_alive() and not worker.conn.poll():
                found = self._replace_dead(worker)
                if found is not None:
                    failed.append(found)
        return failed

    def close(self) -> None:
        for worker in self.workers:
            worker.process.kill()
            worker.process.join(timeout=5)
            worker.conn.close()
        self.workers = []


# ---------------------------------------------------------------- shard extraction


BF16_TOLERANCE = 1e-2


def bf16_relative_error(backbone: Backbone, clips: torch.Tensor) -> float:
    """||f_bf16 - f_fp32|| / ||f_fp32|| of a backbone's features on ``clips`` (autocast on their device)."""
    with torch.inference_mode():
        reference = backbone(clips).float()
        with torch.autocast(clips.device.type, dtype=torch.bfloat16):
            low = backbone(clips).float()
    return ((low - reference).norm() / reference.norm().clamp_min(1e-12)).item()


class Precision:
    """The numeric mode of each backbone during extraction.

    ``fp32``: always fp32. ``bf16``: bf16 autocast on CUDA. ``auto``: on CUDA, bf16 for a
    backbone whose bf16 features on the first batch are within 1e-2 relative error of
    fp32, fp32 otherwise; fp32 on the CPU, where bf16 is slower. The choice and the
    measured error go into the shard metadata.
    """

    def __init__(self, mode: str, device: torch.device) -> None:
        if mode not in ("auto", "fp32", "bf16"):
            raise DakdError(f"unknown extraction precision {mode!r}; use auto, fp32 or bf16")
        self.mode, self.device = mode, device
        self.chosen: dict[str, str] = {}
        self.errors: dict[str, float] = {}

    def choose(self, name: str, backbone: Backbone, clips: torch.Tensor) -> str:
        if name not in self.chosen:
            if self.device.type != "cuda" or self.mode == "fp32":
                self.chosen[name] = "fp32"
            elif self.mode == "bf16":
                self.chosen[name] = "bf16"
            else:
                self.errors[name] = bf16_relative_error(backbone, clips)
                self.chosen[name] = "bf16" if self.errors[name] <= BF16_TOLERANCE else "fp32"
        return self.chosen[name]

    def record(self, name: str) -> dict[str, Any]:
        return {"precision": self.chosen.get(name, "fp32"), "bf16_relative_error": self.errors.get(name)}


@torch.inference_mode()
def embed_snippets(frames: torch.Tensor, backbones: dict[str, Backbone], crops: str, device: torch.device,
                   precision: Precision | None = None) -> dict[str, np.ndarray]:
    """uint8 snippets (b, T, H, W, 3) -> every backbone (on the frames it reads) -> float32 (b, crops, dim)."""
    precision = precision or Precision("fp32", device)
    frames = frames.to(device, non_blocking=True)
    out = {}
    for name, backbone in backbones.items():
        clips = backbone.clips(frames, crops).flatten(0, 1)   # (b*K, t, 3, c, c)
        low = precision.choose(name, backbone, clips) == "bf16"
        with torch.autocast(device.type, dtype=torch.bfloat16) if low else nullcontext():
            feats = backbone(clips)
        out[name] = feats.float().view(frames.shape[0], -1, feats.shape[-1]).cpu().numpy()
    return out


def extract_shard(tasks: Sequence[VideoTask], cfg: ExtractConfig, backbones: dict[str, Backbone],
                  device: torch.device, out_path: str | os.PathLike, progress: bool = True) -> list[dict[str, str]]:
    """Extract ``tasks`` into one shard at ``out_path``; returns the failures (also written
    to ``<out_path>.failures.json``). Videos that fail are left out of the shard."""
    num_crops(cfg.crops)
    precision = Precision(cfg.precision, device)
    pending: dict[int, _Pending] = {}
    finished: dict[int, VideoFeatures] = {}
    failures: dict[int, str] = {}
    pool = DecodePool([t.path for t in tasks], cfg)
    bar = tqdm(total=len(tasks), desc=Path(out_path).name, disable=not progress, unit="video")
    try:
        for kind, index, payload in pool.events():
            if index in failures:
                continue  # late messages from a worker that was killed for this video
            state = pending.setdefault(index, _Pending())
            if kind == "info":
                state.info = payload
            elif kind == "batch":
                start, frames = payload
                embedded = embed_snippets(torch.from_numpy(frames), backbones, cfg.crops, device, precision)
                for name, feats in embedded.items():
                    state.chunks.setdefault(name, []).append((start, feats))
            elif kind == "done":
                finished[index] = _assemble(tasks[index], pending.pop(index), cfg)
                bar.update()
            elif kind == "error":
                pending.pop(index, None)
                failures[index] = payload
                bar.update()
    finally:
        pool.close()
        bar.close()
    infos = [BackboneInfo(name, b.dim, num_crops(cfg.crops), b.weights_source,
                          {**b.describe(), **precision.record(name)}) for name, b in backbones.items()]
    prov = provenance("extract", asdict(cfg), fingerprint=extraction_fingerprint(cfg, backbones), frames=FRAMES,
                      videos=[t.path for t in tasks])
    failed = [{"video_id": tasks[i].video_id, "path": tasks[i].path, "reason": failures[i]} for i in sorted(failures)]
    write_json(failure_manifest_path(out_path), failed)
    write_shard(out_path, [finished[i] for i in sorted(finished)], infos, prov)
    return failed


def failure_manifest_path(shard_path: str | os.PathLike) -> Path:
    shard_path = Path(shard_path)
    return shard_path.with_name(shard_path.stem + ".failures.json")


def _assemble(task: VideoTask, state: _Pending, cfg: ExtractConfig) -> VideoFeatures:
    info = state.info
    features = {name: np.concatenate([f for _, f in sorted(chunks, key=lambda c: c[0])])
                for name, chunks in state.chunks.items()}
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
                splits: Sequence[str] = BASE_SPLITS) -> list[dict[str, str]]:
    """Extract the given shard numbers (all when None) of ``manifest`` into ``out_dir``.

    ``splits`` are the split names the manifest may use (``dakd.ids.allowed_splits`` of the
    configured validation split). Backbones and checkpoints are checked before any video is
    decoded. Returns all failures.
    """
    tasks = read_manifest(manifest, splits)
    groups = shard_tasks(tasks, cfg.shard_size)
    wanted = range(len(groups)) if shards is None else shards
    for number in wanted:
        if not 0 <= number < len(groups):
            raise DakdError(f"{manifest}: shard {number} out of range (manifest has {len(groups)} shard(s))")
    backbones = build_backbones(cfg, device, seed)
    fingerprint = extraction_fingerprint(cfg, backbones)
    failures = []
    for number in wanted:
        path = Path(out_dir) / shard_name(number)
        if shard_is_current(path, fingerprint, groups[number]):
            failures += read_failures(path)
            continue
        failures += extract_shard(groups[number], cfg, backbones, device, path, progress)
    return failures


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.parquet"


def read_failures(shard_path: str | os.PathLike) -> list[dict[str, str]]:
    return json.loads(failure_manifest_path(shard_path).read_text())
