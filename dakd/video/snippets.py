"""Which frames make up each snippet of a video."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SnippetPlan:
    """Frame indices of every snippet.

    ``frames`` is (S, length): snippet ``i`` starts at ``i * stride``; the last snippet,
    when the video ends inside it, repeats the final frame to fill ``length`` and
    ``last_snippet_frames`` records how many of its frames are real.
    """

    num_frames: int
    length: int
    stride: int
    frames: np.ndarray
    last_snippet_frames: int

    @property
    def num_snippets(self) -> int:
        return len(self.frames)


def plan_snippets(num_frames: int, length: int = 16, stride: int | None = None) -> SnippetPlan:
    """Cover ``num_frames`` frames with snippets of ``length`` frames every ``stride`` frames.

    Snippets start at 0, stride, 2*stride, ... until one reaches the last frame, so every
    frame belongs to a snippet; a video shorter than one snippet yields one padded snippet.
    """
    stride = length if stride is None else stride
    if num_frames < 1:
        raise ValueError("a video needs at least one frame")
    if length < 1 or stride < 1:
        raise ValueError(f"snippet length and stride must be >= 1, got {length} and {stride}")
    num_snippets = 1 + max(0, -(-(num_frames - length) // stride))
    starts = np.arange(num_snippets) * stride
    frames = np.minimum(starts[:, None] + np.arange(length)[None, :], num_frames - 1)
    last = min(length, num_frames - int(starts[-1]))
    return SnippetPlan(num_frames=num_frames, length=length, stride=stride, frames=frames,
                       last_snippet_frames=last)
