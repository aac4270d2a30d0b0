"""Reading any source PyAV opens (a file, an RTSP/HTTP URL, a capture device) frame by
frame, upright and resized exactly as the offline decoder does.

Streams are read with PyAV (decord and torchcodec read files only): each frame as RGB24,
turned upright by its display rotation, then :func:`dakd.video.resize_frames`, the resize
offline extraction uses, so a file gives the same frames either way.

A reader thread decodes ahead into a bounded queue and stamps each frame with the time it
arrived, so the latency of a score counts from the moment its last frame was available.
With ``realtime``, a file is read no faster than its frame rate (as a camera delivers it).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DakdError
from ..video import resize_frames
from ..video.readers import clockwise_turn, upright, video_streams

DEFAULT_FPS = 25.0


class StreamError(DakdError):
    """A source cannot be opened or decoded; the message names it."""


@dataclass
class Frame:
    """One decoded frame: uint8 (H, W, 3) RGB and the ``perf_counter`` time it arrived."""

    image: np.ndarray
    arrived: float


class FrameStream:
    """Frames of one source, resized to ``short_side`` on their shorter side.

    Iterating yields :class:`Frame` until the source ends; :attr:`ended` then says how
    (``end of stream``, or the error that cut it short once frames had arrived). A source
    that cannot be opened, or fails before its first frame, is a :class:`StreamError`.
    """

    def __init__(self, location: str, short_side: int | None, realtime: bool = False,
                 input_format: str | None = None, timeout_s: float = 10.0, queue_frames: int = 256) -> None:
        import av

        self.location, self.short_side, self.realtime = location, short_side, realtime
        try:
            self.container = av.open(location, format=input_format, timeout=(timeout_s, timeout_s))
        except Exception as exc:  # PyAV raises its own error family, OSError and ValueError here
            raise StreamError(f"{location}: cannot open ({_first_line(exc)})") from None
        videos = video_streams(self.container)
        if not videos:
            self.container.close()
            raise StreamError(f"{location}: no video stream")
        self.stream = videos[0]
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else DEFAULT_FPS
        self.ended = ""
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="dakd-stream-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        rotation, start, count = None, None, 0
        try:
            for frame in self.container.decode(self.stream):
                if self._stop.is_set():
                    return
                if rotation is None:  # the first frame's display matrix holds for the stream
                    rotation = clockwise_turn(getattr(frame, "rotation", 0) or 0)
                    start = time.perf_counter()
                if self.realtime:
                    delay = start + count / self.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                image = torch.from_numpy(upright(frame.to_ndarray(format="rgb24"), rotation))[None]
                count += 1
                self._put(Frame(resize_frames(image, self.short_side)[0].numpy(), time.perf_counter()))
            self._put(("end", "end of stream"))
        except Exception as exc:  # a dropped connection, a corrupt packet: the stream ends here
            self._put(("error", _first_line(exc)))
        finally:
            self.container.close()

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        first = True
        while True:
            item = self._queue.get()
            if isinstance(item, Frame):
                first = False
                yield item
                continue
            kind, reason = item
            if kind == "error" and first:
                raise StreamError(f"{self.location}: cannot decode ({reason})")
            self.ended = reason if kind == "end" else f"stream dropped: {reason}"
            return

    def close(self) -> None:
        """Stop the reader (it closes the container)."""
        self._stop.set()
        self._thread.join(timeout=5)


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
