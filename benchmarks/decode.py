"""Decode throughput: decord (as dakd uses it) against `ffmpeg -f null` on the same file.

    python benchmarks/decode.py --out benchmarks/results/decode.json            # makes a 1080p test clip
    python benchmarks/decode.py --video some_video.mp4

Without --video, a 30 s 1920x1080 H.264 clip with B-frames (noise over moving gradients)
is written with PyAV first. decord is timed decoding every frame through dakd's
VideoDecoder (16-frame snippets, batches of 8) at native size and resized at decode
time (short side 256); ffmpeg decodes to the null muxer with the same thread count.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from dakd.io import write_json
from dakd.video import VideoDecoder


def make_clip(path: Path, seconds: int = 30, fps: int = 30, width: int = 1920, height: int = 1080) -> None:
    import av

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"bf": "3", "preset": "veryfast", "crf": "23"}
        noise = rng.integers(0, 40, (height, width, 1), dtype=np.uint8)
        for i in range(seconds * fps):
            base = ((xx + 8 * i) % 256).astype(np.uint8)[..., None]
            image = np.concatenate([base, ((yy + 4 * i) % 256).astype(np.uint8)[..., None], base // 2], axis=2)
            frame = av.VideoFrame.from_ndarray(image + noise, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def time_decord(path: Path, short_side: int | None) -> dict:
    start = time.perf_counter()
    decoder = VideoDecoder(path, 16, 16, short_side)
    frames = sum(batch.shape[0] * batch.shape[1] for _, batch in decoder.batches(8))
    seconds = time.perf_counter() - start
    return {"frames": decoder.info.num_frames, "decoded_snippet_frames": frames,
            "size": [decoder.width, decoder.height], "seconds": round(seconds, 3),
            "frames_per_s": round(decoder.info.num_frames / seconds, 1)}


def time_ffmpeg(path: Path, threads: int, frames: int) -> dict:
    if shutil.which("ffmpeg") is None:
        return {"error": "ffmpeg not installed"}
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-threads", str(threads), "-i", str(path), "-f", "null", "-"], check=True)
    seconds = time.perf_counter() - start
    return {"threads": threads, "seconds": round(seconds, 3), "frames_per_s": round(frames / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            video = Path(tmp) / "clip_1080p.mp4"
            make_clip(video)
        native = time_decord(video, None)
        result = {
            "machine": {"platform": platform.platform(), "processor": platform.processor()},
            "video": {"path": str(args.video or "generated 1920x1080, 30 s, 30 fps, H.264 with B-frames"),
                      "frames": native["frames"]},
            "decord_native (1 thread)": native,
            "decord_short_side_256 (1 thread)": time_decord(video, 256),
            "ffmpeg_null (1 thread)": time_ffmpeg(video, 1, native["frames"]),
            "ffmpeg_null (auto threads)": time_ffmpeg(video, 0, native["frames"]),
        }
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
