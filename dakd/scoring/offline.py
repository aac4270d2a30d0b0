"""Offline scoring of video files: decoding in worker processes (the extraction's
``DecodePool``: per-video timeout, dead workers replaced), the parent embedding snippets in
batches that mix videos (``dakd.embed.embedded_videos``) and keeping only crop-reduced
features. Memory is a few batches of frames plus (S, d) features per video: a 2-hour
video at 30 fps is 13,500 snippets, 28 MB of 512-d features, never its frames."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..embed import device_resize, embedded_videos
from ..video.pool import DecodePool
from ..video.readers import check_decoder
from ..video.timing import frame_times
from .scorer import ScoredVideo, Scorer, video_meta
from .sources import Source


def score_files(sources: Sequence[Source], scorer: Scorer) -> Iterator[tuple[Source, ScoredVideo | None, str]]:
    """Yield ``(source, scored, "")`` for each video scored, or ``(source, None, reason)`` for
    one that cannot be decoded, in completion order."""
    cfg = scorer.extraction.cfg
    check_decoder(cfg.decoder)
    short_side = device_resize(cfg, scorer.device)
    pool = DecodePool([s.location for s in sources], cfg, resize=short_side is None)
    started: dict[int, float] = {}  # when each video's first message arrived

    def stamped(events):
        for event in events:
            started.setdefault(event[1], time.perf_counter())
            yield event

    def embed(frames: torch.Tensor) -> dict[str, np.ndarray]:
        return scorer.embed(frames, short_side)

    try:
        for kind, index, payload in embedded_videos(stamped(pool.events()), embed, cfg.batch_snippets, scorer.device):
            if kind == "done":
                yield sources[index], _finish(sources[index], *payload, scorer, started[index]), ""
            else:
                yield sources[index], None, payload
    finally:
        pool.close()


def _finish(source: Source, info: dict, chunks: dict[str, list[tuple[int, np.ndarray]]], scorer: Scorer,
            started: float) -> ScoredVideo:
    inputs = {name: np.concatenate([f for _, f in sorted(parts, key=lambda c: c[0])])
              for name, parts in chunks.items()}
    meta = video_meta(source.name, info["num_frames"], info["fps"], scorer.extraction.cfg, info["num_snippets"],
                      info["last_snippet_frames"])
    scores = scorer.score(meta, inputs)
    times, stamped = frame_times(source.location, meta.num_frames, meta.fps)
    run = {"mode": "offline", "seconds": time.perf_counter() - started,
           "times": "presentation timestamps" if stamped else f"constant rate ({meta.fps:g} fps)"}
    return ScoredVideo(source, meta, scores, run, times)
