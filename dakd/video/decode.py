"""Decoding videos into snippet batches with decord.

decord has two known faults on real footage: a container whose header claims more
frames than can be decoded makes it loop forever, and long videos leak memory. The
decoder therefore checks up front that the last claimed frame decodes, and the
extraction pool (``dakd.extract``) runs it in worker processes that are killed on a
per-video timeout and recycled after a number of videos.

Rotation. Phone videos store the picture sideways and carry a display matrix (the
``rotate`` tag of older tools) that tells players to turn it. :attr:`VideoInfo.rotation`
is that turn in the convention of the ``rotate`` tag and of ``ffmpeg``'s autorotation:
the number of degrees *clockwise* a player turns the stored picture (0, 90, 180 or 270).
FFmpeg's display matrix is read through PyAV, whose ``VideoFrame.rotation`` is
counter-clockwise (``av_display_rotation_get``), so ``rotation = -frame.rotation mod 360``;
a stream written with ``stream.set_display_rotation(-90)`` is shown turned 90 degrees
clockwise. decord applies the same turn itself (``transpose`` filters, before it scales),
so the frames, :attr:`VideoInfo.width` / ``height`` and the resize to ``short_side`` are
all of the picture as displayed; the probe checks that decord did turn a quarter-turned
picture. Like decord and ``ffmpeg``, angles that are not a multiple of 90 degrees are
ignored, and so is a mirror in the display matrix.

decord 0.6 also mis-shapes frames whose width makes FFmpeg's padded RGB row a multiple of
the width (16, 24, 32, 48, 96, 144 pixels ... depending on the CPU's SIMD alignment): the
frame comes back with 4 or more "channels" and ``get_batch`` fails as if the file were
truncated. Such widths are decoded at a multiple of the width and averaged back down.
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
    """A video as displayed: ``width`` and ``height`` are after ``rotation`` (clockwise degrees)."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    rotation: int = 0


def _no_video_stream(path: Path) -> DecodeError:
    return DecodeError(f"{path}: no video stream (audio only?)")


def _open(path: Path, width: int = -1, height: int = -1):
    import decord

    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
    except (RuntimeError, decord.DECORDError) as exc:
        if "cannot find video stream" in str(exc):
            raise _no_video_stream(path) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DecodeError(f"{path}: cannot open video ({first_line})") from None


def _clockwise_turn(ccw_degrees: float) -> int:
    """A counter-clockwise display angle as the clockwise turn players apply (0 for odd angles)."""
    clockwise = -float(ccw_degrees)
    quarter = round(clockwise / 90)
    if abs(clockwise - 90 * quarter) > 1:
        return 0  # not a quarter turn: ffmpeg and decord leave such pictures as stored
    return (90 * quarter) % 360


def _probe_container(path: Path) -> tuple[int, tuple[int, int]] | None:
    """(clockwise rotation, stored (width, height) from the header) of the video stream decord
    will pick, read with PyAV; None when PyAV cannot tell (decord then has the last word). A
    file without a video stream (audio only, or audio with cover art) is a DecodeError."""
    import av

    try:
        container = av.open(str(path))
    except Exception:  # not a container FFmpeg knows; decord's open reports it
        return None
    with container:
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            raise _no_video_stream(path)
        try:
            stream = container.streams.best("video") or videos[0]
            stored = (stream.codec_context.width, stream.codec_context.height)  # the header's, as decord's
            stream.codec_context.thread_count = 1
            frame = next(container.decode(stream), None)  # FFmpeg >= 7 puts the display matrix on frames
        except Exception:  # an undecodable first frame is decord's to report
            return None
        if frame is None:
            return None
        ccw = getattr(frame, "rotation", None)  # VideoFrame.rotation: PyAV >= 13
        if ccw is None:
            try:
                ccw = -float(stream.metadata.get("rotate", 0))  # older FFmpeg exported the tag
            except ValueError:
                ccw = 0
        return _clockwise_turn(ccw), stored


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate, displayed size and rotation as the container reports them."""
    path = Path(path)
    if not path.exists():
        raise DecodeError(f"{path}: video file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")
    container = _probe_container(path)
    reader = _open(path)
    num_frames = len(reader)
    if num_frames < 1:
        raise DecodeError(f"{path}: video has no frames")
    height, width = reader[0].shape[:2]  # decord has already applied the rotation
    rotation = 0
    if container is not None:
        rotation, (stored_w, stored_h) = container
        if rotation in (90, 270) and stored_w != stored_h and (width, height) == (stored_w, stored_h):
            raise DecodeError(
                f"{path}: the {stored_w}x{stored_h} picture is shown turned {rotation} degrees but decord "
                f"decodes it unturned; cannot tell which way is up")
    return VideoInfo(str(path), num_frames, float(reader.get_avg_fps()), int(width), int(height), rotation)


def resized_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) scaled so the shorter side is ``short_side`` (unchanged when None)."""
    if not short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# FFmpeg pads frame rows to its SIMD alignment: 16 (SSE, NEON), 32 (AVX2) or 64 (AVX-512) pixels.
_FFMPEG_ALIGNMENTS = (16, 32, 64)


def decord_width_is_safe(width: int) -> bool:
    """False for an output width that decord 0.6 mis-shapes on some CPU.

    decord hands out FFmpeg's RGB frame without copying when the padded row length
    (3 * width rounded up to the alignment) is a multiple of the width, and then takes
    row / width as the channel count. Checked for every alignment, so that the decoded
    frames do not depend on the machine.
    """
    for align in _FFMPEG_ALIGNMENTS:
        row = 3 * (-(-width // align) * align)
        if row != 3 * width and row % width == 0:
            return False
    return True


def decode_width(width: int) -> tuple[int, int]:
    """(width decord decodes at, factor): the smallest multiple of ``width`` it decodes correctly."""
    factor = 1
    while not decord_width_is_safe(width * factor):
        factor += 1
    return width * factor, factor


def _fold_columns(frames: np.ndarray, factor: int) -> np.ndarray:
    """Average each run of ``factor`` columns: (..., W * factor, 3) -> (..., W, 3), rounded."""
    if factor == 1:
        return frames
    shape = frames.shape
    grouped = frames.reshape(*shape[:-2], shape[-2] // factor, factor, shape[-1])
    return ((grouped.sum(axis=-2, dtype=np.uint16) + factor // 2) // factor).astype(np.uint8)


class VideoDecoder:
    """Decodes one video into batches of snippets, upright and resized at decode time.

    Memory is bounded by one batch: ``batch_snippets * length`` frames at the decode size.
    """

    def __init__(self, path: str | os.PathLike, length: int = 16, stride: int | None = None,
                 short_side: int | None = 256) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self.width, self.height = resized_size(self.info.width, self.info.height, short_side)
        self.plan: SnippetPlan = plan_snippets(self.info.num_frames, length, stride)
        decoded_width, self._fold = decode_width(self.width)
        self._reader = _open(self.path, decoded_width, self.height)
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
        """Yield ``(first_snippet, frames)`` with frames uint8 (b, length, H, W, 3), upright."""
        for start in range(0, self.plan.num_snippets, batch_snippets):
            indices = self.plan.frames[start : start + batch_snippets]
            unique, inverse = np.unique(indices, return_inverse=True)
            try:
                frames = self._reader.get_batch(unique.tolist()).asnumpy()
            except Exception as exc:
                raise DecodeError(
                    f"{self.path}: decoding frames {unique[0]}-{unique[-1]} failed ({type(exc).__name__})"
                ) from None
            frames = _fold_columns(frames, self._fold)
            yield start, frames[inverse.reshape(indices.shape)]
