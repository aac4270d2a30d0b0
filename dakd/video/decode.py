"""Decoding videos into snippet batches with decord.

decord has two known faults on real footage: a container whose header claims more
frames than can be decoded makes it loop forever, and long videos leak memory. The
decoder therefore checks up front that the last claimed frame decodes, and the
extraction pool (``dakd.extract``) runs it in worker processes that are killed on a
per-video timeout and recycled after a number of videos.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DakdError
from .snippets import SnippetPlan, plan_snippets


class DecodeError(DakdError):
    """A video cannot be decoded; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    width: int
    height: int


def _open(path: Path, width: int = -1, height: int = -1):
    import decord

    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
    except (RuntimeError, decord.DECORDError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DecodeError(f"{path}: cannot open video ({first_line})") from None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate and size as the container reports them."""
    path = Path(path)
    if not path.exists():
        raise DecodeError(f"{path}: video file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")
    reader = _open(path)
    num_frames = len(reader)
    if num_frames < 1:
        raise DecodeError(f"{path}: video has no frames")
    height, width = reader[0].shape[:2]
    return VideoInfo(str(path), num_frames, float(reader.get_avg_fps()), int(width), int(height))


def resized_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) scaled so the shorter side is ``short_side`` (unchanged when None)."""
    if not short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class VideoDecoder:
    """Decodes one video into batches of snippets, resized at decode time.

    Memory is bounded by one batch: ``batch_snippets * length`` frames at the decode size.
    """

    def __init__(self, path: str | os.PathLike, length: int = 16, stride: int | None = None,
                 short_side: int | None = 256) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self.width, self.height = resized_size(self.info.width, self.info.height, short_side)
        self.plan: SnippetPlan = plan_snippets(self.info.num_frames, length, stride)
        self._reader = _open(self.path, self.width, self.height)
        self._check_frame_count()

    def _check_frame_count(self) -> None:
        last = self.info.num_frames - 1
        try:
            self._reader.get_batch([last]).asnumpy()
        except Exception as exc:  # decord raises several unrelated types here
            raise DecodeError(
                f"{self.path}: container reports {self.info.num_frames} frames but frame {last} "
                f"cannot be decoded ({type(exc).__name__}); the file is truncated or its header is wrong"
            ) from None
        self._reader.seek(0)

    def batches(self, batch_snippets: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_snippet, frames)`` with frames uint8 (b, length, H, W, 3)."""
        for start in range(0, self.plan.num_snippets, batch_snippets):
            indices = self.plan.frames[start : start + batch_snippets]
            unique, inverse = np.unique(indices, return_inverse=True)
            try:
                frames = self._reader.get_batch(unique.tolist()).asnumpy()
            except Exception as exc:
                raise DecodeError(
                    f"{self.path}: decoding frames {unique[0]}-{unique[-1]} failed ({type(exc).__name__})"
                ) from None
            yield start, frames[inverse.reshape(indices.shape)]
