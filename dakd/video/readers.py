"""Frame readers: one interface over decord, PyAV and torchcodec (``extract.decoder``).

Every reader gives the same frames (tests/test_decoders.py): as displayed (turned upright
by the container's rotation), at their stored size, RGB24 from FFmpeg's YUV -> RGB.
Resizing is :func:`dakd.video.decode.resize_frames`'s job, the same for all readers.

The frame count is the container's (its header; counted from the packets where the header
has none). A file whose frames end before that count is a :class:`DecodeError` naming it:
decord and torchcodec check when they open (decord loops forever otherwise), PyAV at the end.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DakdError
from ..registry import Registry


class DecodeError(DakdError):
    """A video cannot be decoded; the message names the file."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def clockwise_turn(ccw_degrees: float) -> int:
    """A counter-clockwise display angle as the clockwise turn players apply (0 for odd angles)."""
    clockwise = -float(ccw_degrees)
    quarter = round(clockwise / 90)
    if abs(clockwise - 90 * quarter) > 1:
        return 0  # not a quarter turn: ffmpeg and decord leave such pictures as stored
    return (90 * quarter) % 360


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """A stored (H, W, 3) picture turned ``rotation`` degrees clockwise, as players show it."""
    return np.ascontiguousarray(np.rot90(image, k=-(rotation // 90))) if rotation else image


def truncated(path: Path, claimed: int, last: int | None = None) -> DecodeError:
    what = f"frame {last}" if last is not None else "its last frame"
    return DecodeError(f"{path}: container reports {claimed} frames but {what} cannot be decoded; the file is "
                       "truncated or its header is wrong")


class FrameReader(ABC):
    """An open video. ``num_frames``, ``fps``, ``width`` x ``height`` (as displayed) and the
    clockwise ``rotation`` applied; :meth:`read` returns frames by index."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    rotation: int = 0

    @abstractmethod
    def read(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 (n, height, width, 3) RGB of the frames at ``indices`` (sorted, distinct)."""

    def close(self) -> None:
        """Release the file (readers also close when garbage-collected)."""

    @classmethod
    def check_available(cls) -> None:
        """Raise a one-line DecodeError when this decoder cannot run on this machine."""


READERS: Registry[type[FrameReader]] = Registry("decoder", DecodeError)


def check_decoder(name: str) -> None:
    """Stop a run that would fail on every video, once, before any is opened."""
    READERS.get(name).check_available()


def open_reader(name: str, path: str | os.PathLike, device: str = "cpu") -> FrameReader:
    """The ``name`` reader (``decord``, ``pyav``, ``torchcodec``) on ``path``, checked to decode.

    ``device``: where frames are decoded; only torchcodec decodes on a GPU (``cuda``, NVDEC).
    """
    path = Path(path)
    if not path.exists():
        raise DecodeError(f"{path}: video file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")
    reader = READERS.get(name)
    if device != "cpu":
        if reader is not TorchCodecReader:
            raise DecodeError(f"decoder {name} decodes on the CPU only; use decoder torchcodec to decode on {device}")
        return reader(path, device)
    return reader(path)


# ---------------------------------------------------------------- PyAV


def video_streams(container) -> list:
    """A PyAV container's video streams, leaving out attached pictures (cover art)."""
    import av
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def main_video_stream(container, path: Path):
    """The stream a reader decodes: FFmpeg's best video stream, never cover art."""
    videos = video_streams(container)
    if not videos:
        raise DecodeError(f"{path}: no video stream (audio only?)")
    best = container.streams.best("video")
    return best if best in videos else videos[0]


@READERS.register("pyav")
class PyAVReader(FrameReader):
    """PyAV (FFmpeg), decoding forward; a request behind the last decoded frame is served
    from the frames kept (``keep``: overlapping snippets) or by decoding from the start."""

    def __init__(self, path: Path, keep: int = 64) -> None:
        self.path, self._keep = path, keep
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._open()
        first = self._next()
        if first is None:
            self.close()
            raise DecodeError(f"{path}: video has no frames")
        self.rotation = clockwise_turn(self._rotation)
        self.height, self.width = first.shape[:2]
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self.num_frames = self.stream.frames or self._count_packets()
        self._cache[0] = first

    def _open(self) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        try:
            self.container = av.open(str(self.path))
        except Exception as exc:  # PyAV's errors, OSError, ValueError
            raise DecodeError(f"{self.path}: cannot open video ({first_line(exc)})") from None
        try:
            self.stream = main_video_stream(self.container, self.path)
        except DecodeError:
            self.container.close()
            raise
        self.stream.codec_context.thread_count = 1
        self._frames = self.container.decode(self.stream)
        self._rgb = VideoReformatter()  # keeps one swscale context for every frame
        self._position = -1  # index of the last frame decoded
        self._rotation = 0.0

    def _next(self) -> np.ndarray | None:
        try:
            frame = next(self._frames, None)
        except Exception:  # a corrupt packet ends the decodable part
            return None
        if frame is None:
            return None
        self._position += 1
        if self._position == 0:
            self._rotation = getattr(frame, "rotation", 0) or 0
        return upright(self._rgb.reformat(frame, format="rgb24").to_ndarray(), clockwise_turn(self._rotation))

    def _count_packets(self) -> int:
        """Frames from the packets (containers without a frame count: WebM, MKV)."""
        import av

        with av.open(str(self.path)) as container:
            stream = container.streams[self.stream.index]
            return sum(1 for packet in container.demux(stream) if packet.size)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        out = []
        for index in indices:
            if index not in self._cache and index <= self._position:
                self.container.close()
                self._open()
                self._cache.clear()
            while index not in self._cache:
                image = self._next()
                if image is None:
                    raise truncated(self.path, self.num_frames, index)
                self._cache[self._position] = image
                while len(self._cache) > self._keep:
                    self._cache.popitem(last=False)
            out.append(self._cache[index])
        return np.stack(out)

    def close(self) -> None:
        self.container.close()


# ---------------------------------------------------------------- decord

# FFmpeg pads frame rows to its SIMD alignment: 16 (SSE, NEON), 32 (AVX2) or 64 (AVX-512) pixels.
_FFMPEG_ALIGNMENTS = (16, 32, 64)


def decord_width_is_safe(width: int) -> bool:
    """False for a frame width that decord 0.6 mis-shapes on some CPU.

    decord hands out FFmpeg's RGB frame without copying when the padded row length
    (3 * width rounded up to the alignment) is a multiple of the width, and then takes
    row / width as the channel count. Checked for every alignment, so that what decodes
    does not depend on the machine.
    """
    for align in _FFMPEG_ALIGNMENTS:
        row = 3 * (-(-width // align) * align)
        if row != 3 * width and row % width == 0:
            return False
    return True


def probe_container(path: Path) -> tuple[int, tuple[int, int]] | None:
    """(clockwise rotation, stored (width, height)) of the video stream, read with PyAV; None
    when PyAV cannot tell. A file without a video stream is a DecodeError."""
    import av

    try:
        container = av.open(str(path))
    except Exception:  # not a container FFmpeg knows; the reader's open reports it
        return None
    with container:
        stream = main_video_stream(container, path)
        try:
            stored = (stream.codec_context.width, stream.codec_context.height)
            stream.codec_context.thread_count = 1
            frame = next(container.decode(stream), None)  # FFmpeg >= 7 puts the display matrix on frames
        except Exception:  # an undecodable first frame is the reader's to report
            return None
        if frame is None:
            return None
        ccw = getattr(frame, "rotation", None)  # VideoFrame.rotation: PyAV >= 13
        if ccw is None:
            try:
                ccw = -float(stream.metadata.get("rotate", 0))  # older FFmpeg exported the tag
            except ValueError:
                ccw = 0
        return clockwise_turn(ccw), stored


@READERS.register("decord")
class DecordReader(FrameReader):
    """decord (its bundled FFmpeg), which turns the picture itself.

    decord 0.6 returns mis-shaped frames for some widths (:func:`decord_width_is_safe`);
    such a video is read with :class:`PyAVReader`, which gives the same frames.
    """

    def __new__(cls, path: Path):
        probed = probe_container(path)
        if probed is not None:
            rotation, (w, h) = probed
            if not decord_width_is_safe(h if rotation in (90, 270) else w):
                return PyAVReader(path)
        reader = super().__new__(cls)
        reader._probed = probed
        return reader

    def __init__(self, path: Path) -> None:
        import decord

        self.path = path
        try:
            self._reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        except (RuntimeError, decord.DECORDError) as exc:
            if "cannot find video stream" in str(exc):
                raise DecodeError(f"{path}: no video stream (audio only?)") from None
            raise DecodeError(f"{path}: cannot open video ({first_line(exc)})") from None
        self.num_frames = len(self._reader)
        if self.num_frames < 1:
            raise DecodeError(f"{path}: video has no frames")
        self.height, self.width = self._reader[0].shape[:2]  # decord has applied the rotation
        self.fps = float(self._reader.get_avg_fps())
        if self._probed is not None:
            self.rotation, (stored_w, stored_h) = self._probed
            if (self.rotation in (90, 270) and stored_w != stored_h
                    and (self.width, self.height) == (stored_w, stored_h)):
                raise DecodeError(f"{path}: the {stored_w}x{stored_h} picture is shown turned {self.rotation} "
                                  "degrees but decord decodes it unturned; cannot tell which way is up")
        try:
            self._reader.get_batch([self.num_frames - 1]).asnumpy()
        except Exception:  # decord raises several unrelated types here
            raise truncated(path, self.num_frames, self.num_frames - 1) from None
        self._reader.seek(0)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        try:
            return self._reader.get_batch(list(indices)).asnumpy()
        except Exception as exc:
            raise DecodeError(f"{self.path}: decoding frames {indices[0]}-{indices[-1]} failed "
                              f"({type(exc).__name__})") from None


# ---------------------------------------------------------------- torchcodec


@READERS.register("torchcodec")
class TorchCodecReader(FrameReader):
    """torchcodec (the system's FFmpeg libraries) in exact seek mode, which turns the picture
    itself. ``device="cuda"`` decodes on the GPU (NVDEC) and returns frames there."""

    @classmethod
    def check_available(cls) -> None:
        try:
            import torchcodec.decoders  # noqa: F401
        except (ImportError, RuntimeError, OSError) as exc:  # no torchcodec, or no FFmpeg libraries for it
            raise DecodeError(f"decoder torchcodec is unavailable ({first_line(exc)}); install torchcodec and "
                              "FFmpeg's shared libraries, or use decoder pyav (the default)") from None

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.check_available()
        from torchcodec.decoders import VideoDecoder

        self.path, self.device = path, device
        probed = probe_container(path)  # a file without video is named as such
        try:
            self._decoder = VideoDecoder(str(path), dimension_order="NHWC", seek_mode="exact",
                                         num_ffmpeg_threads=1, device=device)
        except Exception as exc:
            raise DecodeError(f"{path}: cannot open video ({first_line(exc)})") from None
        meta = self._decoder.metadata
        decodable = meta.num_frames_from_content or 0
        self.num_frames = meta.num_frames_from_header or decodable
        if self.num_frames < 1:
            raise DecodeError(f"{path}: video has no frames")
        if decodable < self.num_frames:
            raise truncated(path, self.num_frames, self.num_frames - 1)
        self.fps = float(meta.average_fps_from_header or meta.average_fps or 0.0)
        self.rotation = probed[0] if probed else 0
        first = self._decoder.get_frames_at([0]).data
        self.height, self.width = int(first.shape[1]), int(first.shape[2])

    def read(self, indices: Sequence[int]):
        """As :meth:`FrameReader.read`; a torch tensor on the decoding device when that is a GPU."""
        try:
            frames = self._decoder.get_frames_at(list(indices)).data
        except Exception as exc:
            raise DecodeError(f"{self.path}: decoding frames {indices[0]}-{indices[-1]} failed "
                              f"({first_line(exc)})") from None
        return frames if self.device != "cpu" else frames.numpy()
