"""Online (causal) scoring: each new snippet is scored from the last W snippets only, as
soon as its last frame arrives, and reported as one record.

Snippets follow the offline plan (``dakd.video.plan_snippets``): snippet i covers frames
``i * stride`` to ``i * stride + length - 1``; when the source ends inside a snippet, the
last one repeats the final frame. Each snippet is embedded alone (batch of one) and the
model scores the window of the last W snippets' features with evaluation's own
``score_video``; the snippet's score is the window's last score. Memory is W snippets of
features and one snippet of frames, however long the stream runs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .scorer import ScoredVideo, Scorer, video_meta
from .sources import Source
from .stream import Frame


@dataclass
class Snippet:
    """A snippet ready to embed: ``frames`` uint8 (length, H, W, 3), its first frame index,
    real frame count and the arrival time of its last real frame."""

    index: int
    start: int
    frames: np.ndarray
    real_frames: int
    arrived: float


def snippets(frames: Iterable[Frame], length: int, stride: int) -> Iterator[Snippet]:
    """Cut a frame sequence into the snippets of the offline plan, each as soon as it is complete."""
    buffer: deque[Frame] = deque()
    buffer_start, next_start, index, seen, last_end = 0, 0, 0, 0, 0
    for frame in frames:
        buffer.append(frame)
        seen += 1
        while seen >= next_start + length:
            chosen = [buffer[i - buffer_start] for i in range(next_start, next_start + length)]
            yield Snippet(index, next_start, np.stack([f.image for f in chosen]), length, chosen[-1].arrived)
            index, last_end, next_start = index + 1, next_start + length, next_start + stride
            while buffer and buffer_start < next_start:
                buffer.popleft()
                buffer_start += 1
    if next_start < seen and (index == 0 or last_end < seen):  # a padded last snippet repeats the final frame
        real = [buffer[i - buffer_start] for i in range(next_start, seen)]
        padded = real + [real[-1]] * (length - len(real))
        yield Snippet(index, next_start, np.stack([f.image for f in padded]), len(real), real[-1].arrived)


class CausalScorer:
    """Scores each pushed snippet from the features of the last ``window`` snippets."""

    def __init__(self, scorer: Scorer, window: int, name: str, fps: float) -> None:
        self.scorer, self.window, self.name, self.fps = scorer, window, name, fps
        self.history: dict[str, deque[np.ndarray]] = {b: deque(maxlen=window) for b in scorer.model.backbones}

    def warm_up(self, size: int) -> None:
        """Run every backbone and the model once on a blank snippet of ``size`` x ``size`` frames,
        so the first real snippet's latency does not include one-off set-up (kernel selection,
        allocations); the history stays empty."""
        cfg = self.scorer.extraction.cfg
        blank = torch.zeros(1, cfg.snippet_len, size, size, 3, dtype=torch.uint8)
        self.scorer.score(video_meta(self.name, cfg.snippet_len, self.fps, cfg, 1, cfg.snippet_len),
                          self.scorer.embed(blank))

    def push(self, snippet: Snippet) -> float:
        """The score of ``snippet`` given the snippets before it in the window."""
        for name, feats in self.scorer.embed(torch.from_numpy(snippet.frames[None])).items():
            self.history[name].append(feats[0])
        inputs = {name: np.stack(items) for name, items in self.history.items()}
        cfg = self.scorer.extraction.cfg
        n = len(next(iter(inputs.values())))
        meta = video_meta(self.name, (n - 1) * cfg.snippet_stride + snippet.real_frames, self.fps, cfg, n,
                          snippet.real_frames)
        return float(self.scorer.score(meta, inputs)[-1])


def score_online(source: Source, frames: Iterable[Frame], fps: float, scorer: Scorer, window: int,
                 emit: Callable[[dict[str, Any]], None], threshold: float | None,
                 ended: Callable[[], str]) -> ScoredVideo:
    """Score ``frames`` causally, calling ``emit`` with one record per snippet::

        {"source", "snippet", "start_frame", "end_frame", "start_s", "end_s", "score",
         "alert" (score >= threshold, or null without one), "latency_s", "compute_s", "window"}

    ``latency_s`` runs from the arrival of the snippet's last frame to its score (it includes
    waiting behind earlier snippets when scoring is slower than the source); ``compute_s`` is
    the embedding and scoring of this snippet alone. Ctrl-C
    ends the stream like its end: what was scored so far is returned. ``ended`` says how
    the frames ended (read after they have).
    """
    cfg = scorer.extraction.cfg
    causal = CausalScorer(scorer, window, source.name, fps)
    causal.warm_up(cfg.decode_short_side)
    scores, latencies, computes, last = [], [], [], None
    started, how = time.perf_counter(), ""
    try:
        for snippet in snippets(frames, cfg.snippet_len, cfg.snippet_stride):
            begin = time.perf_counter()
            score = causal.push(snippet)
            done = time.perf_counter()
            latency, compute = done - snippet.arrived, done - begin
            scores.append(score)
            latencies.append(latency)
            computes.append(compute)
            last = snippet
            end = snippet.start + snippet.real_frames
            emit({"source": source.name, "snippet": snippet.index, "start_frame": snippet.start, "end_frame": end,
                  "start_s": snippet.start / fps, "end_s": end / fps, "score": score,
                  "alert": None if threshold is None else bool(score >= threshold),
                  "latency_s": round(latency, 6), "compute_s": round(compute, 6),
                  "window": min(window, snippet.index + 1)})
        how = ended()
    except KeyboardInterrupt:
        how = "interrupted (Ctrl-C)"
    num = len(scores)
    frames_seen = 0 if last is None else last.start + last.real_frames
    meta = video_meta(source.name, max(frames_seen, 1), fps, cfg, num, last.real_frames if last else 1)
    run = {"mode": "online", "window": window, "ended": how, "seconds": time.perf_counter() - started,
           "latency_s": _summary(latencies), "compute_s": _summary(computes)}
    return ScoredVideo(source, meta, np.array(scores, dtype=np.float32), run)


def _summary(values: list[float]) -> dict[str, float] | None:
    """Mean, median, 95th percentile and maximum (seconds); None without values."""
    if not values:
        return None
    a = np.asarray(values)
    return {"mean": float(a.mean()), "median": float(np.median(a)), "p95": float(np.percentile(a, 95)),
            "max": float(a.max())}
