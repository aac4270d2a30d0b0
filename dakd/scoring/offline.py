"""Offline scoring of video files: decord decoding in worker processes (the extraction's
``DecodePool``: per-video timeout, dead workers replaced), the parent embedding each batch
of snippets as it arrives and keeping only crop-reduced features. Memory is one batch of
frames per worker plus (S, d) features per video: a 2-hour video at 30 fps is 13,500
snippets, 28 MB of 512-d features, never its frames."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..extract import DecodePool
from .scorer import ScoredVideo, Scorer, video_meta
from .sources import Source


@dataclass
class _Pending:
    started: float
    info: dict | None = None
    chunks: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)


def score_files(sources: Sequence[Source], scorer: Scorer) -> Iterator[tuple[Source, ScoredVideo | None, str]]:
    """Yield ``(source, scored, "")`` for each video scored, or ``(source, None, reason)`` for
    one that cannot be decoded, in completion order."""
    cfg = scorer.extraction.cfg
    pool = DecodePool([s.location for s in sources], cfg)
    pending: dict[int, _Pending] = {}
    try:
        for kind, index, payload in pool.events():
            state = pending.setdefault(index, _Pending(time.perf_counter()))
            if kind == "info":
                state.info = payload
            elif kind == "batch":
                start, frames = payload
                for name, feats in scorer.embed(torch.from_numpy(frames)).items():
                    state.chunks.setdefault(name, []).append((start, feats))
            elif kind == "done":
                pending.pop(index)
                yield sources[index], _finish(sources[index], state, scorer), ""
            elif kind == "error":
                pending.pop(index, None)
                yield sources[index], None, payload
    finally:
        pool.close()


def _finish(source: Source, state: _Pending, scorer: Scorer) -> ScoredVideo:
    info = state.info
    inputs = {name: np.concatenate([f for _, f in sorted(chunks, key=lambda c: c[0])])
              for name, chunks in state.chunks.items()}
    meta = video_meta(source.name, info["num_frames"], info["fps"], scorer.extraction.cfg, info["num_snippets"],
                      info["last_snippet_frames"])
    scores = scorer.score(meta, inputs)
    return ScoredVideo(source, meta, scores, {"mode": "offline", "seconds": time.perf_counter() - state.started})
