"""An MP4 copy of a scored video with the score curve and an alert banner burned in (PyAV).

The video is decoded and re-encoded frame by frame (upright, at its own size and frame
rate), so memory stays at one frame. The bottom strip shows the whole score curve, the
threshold and the intervals, with a cursor at the current frame; while the current frame
lies in an anomalous interval a red banner at the top says so.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..atomic import atomic_path
from ..video.readers import clockwise_turn, upright
from .stream import StreamError

CURVE, THRESHOLD, SHADE, BANNER = (90, 190, 255), (255, 90, 90), (110, 25, 25), (200, 20, 20)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def curve_strip(scores: np.ndarray, width: int, height: int, threshold: float | None,
                intervals: list[dict[str, Any]] | None) -> np.ndarray:
    """uint8 (height, width, 3): the frame scores (F,) across the width (each column shows the
    highest score of its frames), the threshold line and the intervals shaded."""
    strip = Image.new("RGB", (width, height), (15, 15, 15))
    draw = ImageDraw.Draw(strip)
    frames = max(len(scores), 1)

    def x(frame: float) -> float:
        return frame / frames * (width - 1)

    def y(score: float) -> float:
        return (1 - float(np.clip(score, 0, 1))) * (height - 3) + 1

    for interval in intervals or []:
        draw.rectangle([x(interval["start_frame"]), 0, x(interval["end_frame"]), height], fill=SHADE)
    if threshold is not None:
        draw.line([(0, y(threshold)), (width, y(threshold))], fill=THRESHOLD, width=1)
    if len(scores):
        columns = np.minimum((np.arange(len(scores)) / frames * width).astype(int), width - 1)
        peak = np.full(width, np.nan)
        np.fmax.at(peak, columns, scores)
        shown = [(i, y(v)) for i, v in enumerate(peak) if not np.isnan(v)]
        if len(shown) > 1:
            draw.line(shown, fill=CURVE, width=max(1, height // 40))
    return np.asarray(strip)


def write_overlay(video: str, out: str | Path, frame_scores: np.ndarray, fps: float, threshold: float | None,
                  intervals: list[dict[str, Any]] | None) -> None:
    """Decode ``video`` with PyAV and write ``out`` (H.264 MP4) with the overlay, each frame at
    its presentation time (a variable frame rate stays as it is; ``fps`` is the nominal rate).

    ``frame_scores`` (F,) are the scores of the frames the snippets cover (at least one); a
    frame past them shows the last score.
    """
    import av

    try:
        source = av.open(video)
    except Exception as exc:
        raise StreamError(f"{video}: cannot open for the overlay ({' '.join(str(exc).split())})") from None
    with source, atomic_path(out) as tmp:
        stream = source.streams.video[0]
        alert = np.zeros(len(frame_scores), dtype=bool)
        for interval in intervals or []:
            alert[interval["start_frame"]:interval["end_frame"]] = True
        with av.open(str(tmp), "w", format="mp4") as sink:
            encoder, rotation, strip, font, first = None, None, None, None, None
            for index, frame in enumerate(source.decode(stream)):
                if rotation is None:  # the first frame's display matrix holds for the stream
                    rotation = clockwise_turn(getattr(frame, "rotation", 0) or 0)
                image = upright(frame.to_ndarray(format="rgb24"), rotation)
                height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2  # yuv420p needs even sizes
                image = np.ascontiguousarray(image[:height, :width])
                if encoder is None:
                    encoder = sink.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
                    encoder.options = {"crf": "20", "preset": "veryfast"}
                    if frame.pts is not None:  # each frame keeps its time: a variable frame rate stays in sync
                        encoder.codec_context.time_base, first = stream.time_base, frame.pts
                    strip_height = max(24, height // 5)
                    strip = curve_strip(frame_scores, width, strip_height, threshold, intervals)
                    font = _font(max(10, height // 18))
                _draw(image, strip, frame_scores, alert, index, font)
                out = av.VideoFrame.from_ndarray(image, format="rgb24")
                if frame.pts is not None and first is not None:
                    out.pts, out.time_base = frame.pts - first, stream.time_base
                for packet in encoder.encode(out):
                    sink.mux(packet)
            if encoder is None:
                raise StreamError(f"{video}: no frame decodes for the overlay")
            for packet in encoder.encode():
                sink.mux(packet)


def _draw(image: np.ndarray, strip: np.ndarray, scores: np.ndarray, alert: np.ndarray, index: int,
          font: ImageFont.ImageFont) -> None:
    """Burn the strip (with a cursor at ``index``) and, during an alert, the banner into ``image``."""
    height, width = image.shape[:2]
    frame = min(index, len(scores) - 1)
    bottom = image[height - strip.shape[0]:]
    bottom[:] = (0.3 * bottom + 0.7 * strip).astype(np.uint8)
    bottom[:, min(int(frame / len(scores) * width), width - 1)] = 255
    label = f"{'ALERT  ' if alert[frame] else ''}score {float(scores[frame]):.2f}"
    banner_height = max(14, height // 12)
    banner = Image.fromarray(np.ascontiguousarray(image[:banner_height]))
    draw = ImageDraw.Draw(banner)
    if alert[frame]:
        draw.rectangle([0, 0, width, banner_height], fill=BANNER)
    draw.text((4, 1), label, fill=(255, 255, 255), font=font)
    image[:banner_height] = np.asarray(banner)
