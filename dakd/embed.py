"""Embedding decoded snippets with every backbone, in batches that mix videos.

The decode workers (:class:`dakd.video.pool.DecodePool`) deliver each video's snippets in
chunks; :func:`embedded_videos` gathers chunks of frames of the same size, from any video,
until a batch of ``batch_snippets`` is full, so short videos do not leave the accelerator
waiting on small batches. A batch is assembled in pinned memory on CUDA and copied with
``non_blocking``; the resize to the decode size, the crops and every backbone then run on
the device. :class:`ExtractTimings` says where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .backbones import Backbone
from .config import ExtractConfig
from .runtime import Precision
from .video import resize_frames


@torch.inference_mode()
def embed_snippets(frames: torch.Tensor, backbones: dict[str, Backbone], crops: str, device: torch.device,
                   precision: Precision | None = None, short_side: int | None = None) -> dict[str, np.ndarray]:
    """uint8 snippets (b, T, H, W, 3) -> every backbone (on the frames it reads) -> float32 (b, crops, dim).

    ``short_side``: resize the frames on ``device`` first (frames that arrive at their stored size).
    """
    precision = precision or Precision("fp32", device)
    frames = frames.to(device, non_blocking=True)
    if short_side:
        b, t = frames.shape[:2]
        frames = resize_frames(frames.flatten(0, 1), short_side).unflatten(0, (b, t))
    out = {}
    for name, backbone in backbones.items():
        clips = backbone.clips(frames, crops).flatten(0, 1)   # (b*K, t, 3, c, c)
        low = precision.choose(name, backbone, clips) == "bf16"
        with torch.autocast(device.type, dtype=torch.bfloat16) if low else nullcontext():
            feats = backbone(clips)
        out[name] = feats.float().view(frames.shape[0], -1, feats.shape[-1]).cpu().numpy()
    return out


def device_resize(cfg: ExtractConfig, device: torch.device) -> int | None:
    """The short side to resize decoded frames to where the backbones run, or None when the
    decode workers resize: on a GPU the workers hand over stored-size frames and the GPU
    resizes; on the CPU the workers resize, in parallel, before the frames cross the pipe."""
    return cfg.decode_short_side if device.type == "cuda" else None


@dataclass
class ExtractTimings:
    """Where extraction time went, in seconds of the parent process.

    ``first``: until the first video opened (worker start-up); ``wait``: waiting for
    decoded frames after that (decoding is the bottleneck while this grows);
    ``assemble``: gathering chunks into a batch (in pinned memory on CUDA); ``transfer``:
    the host-to-device copy and ``embed``: resize, crops and backbones, both measured on
    the GPU's clock (CUDA events; no transfer on a CPU); ``batches``, ``snippets`` and
    ``frames`` embedded; ``wall``: the whole run.
    """

    first: float = 0.0
    wait: float = 0.0
    assemble: float = 0.0
    transfer: float = 0.0
    embed: float = 0.0
    wall: float = 0.0
    batches: int = 0
    snippets: int = 0
    frames: int = 0
    _events: list[tuple[Any, Any, Any]] = field(default_factory=list, repr=False)

    def finish(self) -> dict[str, float]:
        """The figures, with the device's busy fraction ((transfer + embed) / the run after start-up)."""
        if self._events:
            torch.cuda.synchronize()
            self.transfer = sum(start.elapsed_time(copied) for start, copied, _ in self._events) / 1000
            self.embed = sum(copied.elapsed_time(end) for _, copied, end in self._events) / 1000
            self._events.clear()
        steady = self.wall - self.first
        busy = self.transfer + self.embed
        return {"wall_s": self.wall, "first_s": self.first, "wait_s": self.wait, "assemble_s": self.assemble,
                "transfer_s": self.transfer, "embed_s": self.embed, "batches": self.batches,
                "snippets": self.snippets, "frames": self.frames, "device_busy": busy / steady if steady > 0 else 0.0}


Embed = Callable[[torch.Tensor], dict[str, np.ndarray]]


@dataclass
class _Video:
    info: dict[str, Any] | None = None
    chunks: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)
    waiting: int = 0  # chunks buffered, not yet embedded
    done: bool = False


class _Batcher:
    """Chunks of frames grouped by frame size until a group holds a batch."""

    def __init__(self, embed: Embed, batch_snippets: int, device: torch.device, timings: ExtractTimings) -> None:
        self.embed, self.batch_snippets, self.device, self.timings = embed, batch_snippets, device, timings
        self.groups: dict[tuple[int, ...], list[tuple[int, int, np.ndarray]]] = {}
        # (video, first snippet, {backbone: features}) embedded since the caller last took them
        self.results: list[tuple[int, int, dict[str, np.ndarray]]] = []

    def add(self, index: int, start: int, frames: np.ndarray) -> list[int]:
        """Buffer a chunk; returns the videos whose chunks were embedded by a flush it caused."""
        group = self.groups.setdefault(frames.shape[1:], [])
        group.append((index, start, frames))
        if sum(len(f) for _, _, f in group) >= self.batch_snippets:
            return self.flush(frames.shape[1:])
        if sum(len(f) for g in self.groups.values() for _, _, f in g) >= 4 * self.batch_snippets:
            return self.flush(max(self.groups, key=lambda k: sum(len(f) for _, _, f in self.groups[k])))
        return []

    def flush(self, shape: tuple[int, ...] | None = None) -> list[int]:
        """Embed one group (every group when ``shape`` is None); returns the videos touched."""
        touched = []
        for key in [shape] if shape is not None else list(self.groups):
            group = self.groups.pop(key, [])
            if group:
                touched += self._embed(group)
        return touched

    def _embed(self, group: list[tuple[int, int, np.ndarray | torch.Tensor]]) -> list[int]:
        tick = time.perf_counter()
        sizes = [len(f) for _, _, f in group]
        cuda = self.device.type == "cuda"
        if isinstance(group[0][2], torch.Tensor):  # decoded on the device already
            batch = torch.cat([f for _, _, f in group])
        else:
            batch = torch.empty((sum(sizes), *group[0][2].shape[1:]), dtype=torch.uint8, pin_memory=cuda)
            np.concatenate([f for _, _, f in group], out=batch.numpy())
        self.timings.assemble += time.perf_counter() - tick
        tick = time.perf_counter()
        if cuda:
            start, copied, end = (torch.cuda.Event(enable_timing=True) for _ in range(3))
            start.record()
            batch = batch.to(self.device, non_blocking=True)
            copied.record()
        embedded = self.embed(batch)
        if cuda:
            end.record()
            self.timings._events.append((start, copied, end))
        else:
            self.timings.embed += time.perf_counter() - tick
        self.timings.batches += 1
        self.timings.snippets += len(batch)
        self.timings.frames += len(batch) * batch.shape[1]
        offset = 0
        for (index, first, _), size in zip(group, sizes):
            self.results.append((index, first, {n: x[offset : offset + size] for n, x in embedded.items()}))
            offset += size
        return [index for index, _, _ in group]


def embedded_videos(events: Iterable[tuple[str, int, Any]], embed: Embed, batch_snippets: int,
                    device: torch.device, timings: ExtractTimings | None = None
                    ) -> Iterator[tuple[str, int, Any]]:
    """Embed the snippets of :class:`~dakd.video.pool.DecodePool` events in batches that mix videos.

    ``embed`` maps uint8 snippets (b, T, H, W, 3) to ``{backbone: (b, ...)}`` arrays. Yields
    ``("done", index, (info, {backbone: [(first_snippet, features), ...]}))`` once a video's
    every snippet is embedded, and ``("error", index, reason)`` for a video that failed.
    """
    timings = timings if timings is not None else ExtractTimings()
    videos: dict[int, _Video] = {}
    failed: set[int] = set()
    batcher = _Batcher(embed, batch_snippets, device, timings)
    began = tick = time.perf_counter()

    def settle(touched: list[int]) -> Iterator[tuple[str, int, Any]]:
        for index, first, feats in batcher.results:
            if index in videos:
                video = videos[index]
                video.waiting -= 1
                for name, x in feats.items():
                    video.chunks.setdefault(name, []).append((first, x))
        batcher.results = []
        for index in dict.fromkeys(touched):
            video = videos.get(index)
            if video is not None and video.done and video.waiting == 0:
                del videos[index]
                yield "done", index, (video.info, video.chunks)

    for count, (kind, index, payload) in enumerate(events):
        if count == 0:
            timings.first += time.perf_counter() - began
        else:
            timings.wait += time.perf_counter() - tick
        if index not in failed:  # late messages from a worker killed for this video are dropped
            video = videos.setdefault(index, _Video())
            if kind == "info":
                video.info = payload
            elif kind == "batch":
                video.waiting += 1
                yield from settle(batcher.add(index, *payload))
            elif kind == "done":
                video.done = True
                yield from settle([index])
            elif kind == "error":
                videos.pop(index, None)
                failed.add(index)
                yield "error", index, payload
        tick = time.perf_counter()
    yield from settle(batcher.flush())
    timings.wall += time.perf_counter() - began
