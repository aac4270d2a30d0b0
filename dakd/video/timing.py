"""When each frame of a video is shown: its presentation timestamp, read from the container.

A phone or a camera that drops frames records at a variable frame rate: a clip of 10 fps then
30 fps has an average rate that puts no frame at its real time (frame 19 of such a clip is shown
at 1.9 s, where 19 / 19.5 fps says 0.97 s). Scores, alert intervals and overlays carry the times
:func:`frame_times` reads, so a time in them is where the frame is in the video.
"""

from __future__ import annotations

import os

import numpy as np

from .readers import main_video_stream


def frame_times(path: str | os.PathLike, num_frames: int, fps: float) -> tuple[np.ndarray, bool]:
    """``(bounds, from_timestamps)``: ``bounds`` is (num_frames + 1,) float64, the time in seconds
    at which each frame is shown, from the first (0), then the end of the last; from the video
    stream's packet timestamps (the demuxer only: nothing is decoded). When they cannot be read
    or do not give one time per frame the decoder counted, ``bounds`` is the constant-rate grid
    ``i / fps`` and ``from_timestamps`` False."""
    grid = np.arange(num_frames + 1, dtype=np.float64) / fps
    try:
        import av

        with av.open(str(path)) as container:
            stream = main_video_stream(container, path)
            packets = [(p.pts, p.duration) for p in container.demux(stream) if p.pts is not None and p.size]
            unit = float(stream.time_base)
    except Exception:  # the decoder has read this file: a container its demuxer cannot walk keeps the grid
        return grid, False
    if len(packets) != num_frames or num_frames == 0 or len({pts for pts, _ in packets}) != num_frames:
        return grid, False
    packets.sort()
    starts = np.array([pts for pts, _ in packets], dtype=np.float64)
    starts = (starts - starts[0]) * unit
    last = packets[-1][1] * unit if packets[-1][1] else (starts[-1] - starts[-2] if num_frames > 1 else 1 / fps)
    return np.append(starts, starts[-1] + last), True
