"""Decoding videos into batches of snippets: a frame reader, then one shared resize.

Any reader of :mod:`dakd.video.readers` (``decord``, ``pyav``, ``torchcodec``) supplies
the frames as displayed, at their stored size; :func:`resize_frames` then scales them so
the shorter side is ``short_side`` (torchvision's antialiased bilinear resize on uint8),
the same way whichever reader decoded them and wherever it runs (the decode workers on a
CPU, the GPU when extraction runs there).

Rotation. Phone videos store the picture sideways and carry a display matrix (the
``rotate`` tag of older tools) that tells players to turn it. :attr:`VideoInfo.rotation`
is that turn in the convention of the ``rotate`` tag and of ``ffmpeg``'s autorotation:
the number of degrees *clockwise* a player turns the stored picture (0, 90, 180 or 270).
FFmpeg's display matrix is read through PyAV, whose ``VideoFrame.rotation`` is
counter-clockwise (``av_display_rotation_get``), so ``rotation = -frame.rotation mod 360``;
a stream written with ``stream.set_display_rotation(-90)`` is shown turned 90 degrees
clockwise. Frames, :attr:`VideoInfo.width` / ``height`` and the resize are all of the
picture as displayed. Like ``ffmpeg``, angles that are not a multiple of 90 degrees are
ignored, and so is a mirror in the display matrix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from .readers import DecodeError, FrameReader, open_reader
from .snippets import SnippetPlan, plan_snippets

__all__ = ["FRAMES", "DecodeError", "VideoDecoder", "VideoInfo", "probe_video", "resize_frames", "resized_size"]

# How frames are made, as shards and checkpoints record it: features made another way differ.
FRAMES = "stored-size RGB24, then torchvision antialiased bilinear resize (dakd.video.resize_frames)"


@dataclass(frozen=True)
class VideoInfo:
    """A video as displayed: ``width`` and ``height`` are after ``rotation`` (clockwise degrees)."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    rotation: int = 0


def probe_video(path: str | os.PathLike, decoder: str = "pyav") -> VideoInfo:
    """Frame count, frame rate, displayed size and rotation, as ``decoder`` reads them."""
    reader = open_reader(decoder, path)
    try:
        return _info(reader)
    finally:
        reader.close()


def _info(reader: FrameReader) -> VideoInfo:
    return VideoInfo(str(reader.path), reader.num_frames, reader.fps, reader.width, reader.height, reader.rotation)


def resized_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) scaled so the shorter side is ``short_side`` (unchanged when None)."""
    if not short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_frames(frames: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, h, w, 3) with the shorter side ``short_side``
    (unchanged when None or already that size): antialiased bilinear, on the frames' device."""
    height, width = frames.shape[1:3]
    new_width, new_height = resized_size(width, height, short_side)
    if (new_width, new_height) == (width, height):
        return frames
    x = frames.permute(0, 3, 1, 2)
    x = TF.resize(x, [new_height, new_width], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return x.permute(0, 2, 3, 1).contiguous()


class VideoDecoder:
    """Decodes one video into batches of snippets, upright and resized.

    ``decoder`` names the frame reader and ``device`` where it decodes (a GPU only for
    torchcodec; its frames are then CUDA tensors). Memory is bounded by one batch:
    ``batch_snippets * length`` frames (the distinct ones, at the stored size, then resized).
    """

    def __init__(self, path: str | os.PathLike, length: int = 16, stride: int | None = None,
                 short_side: int | None = 256, decoder: str = "pyav", device: str = "cpu") -> None:
        self.path = Path(path)
        self.reader = open_reader(decoder, self.path, device)
        self.info = _info(self.reader)
        self.short_side = short_side
        self.width, self.height = resized_size(self.info.width, self.info.height, short_side)
        self.plan: SnippetPlan = plan_snippets(self.info.num_frames, length, stride)

    def batches(self, batch_snippets: int, resize: bool = True) -> Iterator[tuple[int, np.ndarray | torch.Tensor]]:
        """Yield ``(first_snippet, frames)`` with frames uint8 (b, length, H, W, 3), upright;
        at the stored size with ``resize=False`` (to resize elsewhere, such as on a GPU).
        Frames are numpy arrays, or tensors on the GPU when decoded there."""
        for start in range(0, self.plan.num_snippets, batch_snippets):
            indices = self.plan.frames[start : start + batch_snippets]
            unique, inverse = np.unique(indices, return_inverse=True)
            frames = self.reader.read(unique.tolist())
            order = inverse.reshape(indices.shape)
            if isinstance(frames, torch.Tensor):
                order = torch.from_numpy(order).to(frames.device)
            if resize:
                resized = resize_frames(torch.as_tensor(frames), self.short_side)
                frames = resized if isinstance(frames, torch.Tensor) else resized.numpy()
            yield start, frames[order]

    def close(self) -> None:
        self.reader.close()
