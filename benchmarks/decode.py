"""Decode throughput of every decoder (extract.decoder) side by side, with `ffmpeg -f null` as the floor.

    python benchmarks/decode.py --out benchmarks/results/decode_cpu.json
    python benchmarks/decode.py --quick --out /tmp/decode.json        # short clips: checks the script runs

Two generated H.264 clips with B-frames (noise over moving ramps, so the bitstream is
heavy): 1920x1080 and 320x240 (UCF-Crime's size), 30 fps. Each decoder decodes copies of
a clip through dakd's own path, the extraction's DecodePool (snippets of 16 frames,
batches of 8, resized to short side 256 in the workers, frames handed to the parent), with
1 and 2 workers; ffmpeg decodes the same copies to the null muxer, one single-threaded
process per worker. Figures are frames per second of wall time over all copies.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from dakd.atomic import write_json
from dakd.config import ExtractConfig
from dakd.video import READERS
from dakd.video.pool import DecodePool


def make_clip(path: Path, seconds: float, width: int, height: int, fps: int = 30) -> None:
    import av

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"bf": "3", "preset": "veryfast", "crf": "23"}
        noise = rng.integers(0, 40, (height, width, 1), dtype=np.uint8)
        for i in range(int(seconds * fps)):
            base = ((xx + 8 * i) % 256).astype(np.uint8)[..., None]
            image = np.concatenate([base, ((yy + 4 * i) % 256).astype(np.uint8)[..., None], base // 2], axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image + noise, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def time_pool(paths: list[Path], decoder: str, workers: int) -> dict:
    cfg = ExtractConfig(backbones={}, decoder=decoder, num_workers=workers, batch_snippets=8, decode_short_side=256)
    frames, first = 0, None
    errors = []
    start = time.perf_counter()
    pool = DecodePool([str(p) for p in paths], cfg)
    try:
        for kind, _, payload in pool.events():
            if kind == "batch":
                first = first or time.perf_counter() - start
                frames += payload[1].shape[0] * payload[1].shape[1]
            elif kind == "error":
                errors.append(payload)
    finally:
        pool.close()
    seconds = time.perf_counter() - start
    # worker start-up (spawn, imports) is in the wall time; first_batch_s shows how much of it
    out = {"seconds": round(seconds, 2), "first_batch_s": round(first or 0.0, 2),
           "snippet_frames_per_s": round(frames / seconds, 1)}
    return {**out, "errors": errors} if errors else out


def time_ffmpeg(paths: list[Path], workers: int, frames: int) -> dict:
    if shutil.which("ffmpeg") is None:
        return {"error": "ffmpeg not installed"}

    def run(path: Path) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", str(path), "-f", "null", "-"], check=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(run, paths))
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s clips (checks the script, not a measurement)")
    parser.add_argument("--decoders", nargs="+", default=READERS.names())
    parser.add_argument("--out")
    args = parser.parse_args()
    clips = {"1920x1080": (1920, 1080, 2 if args.quick else 10, 2), "320x240": (320, 240, 2 if args.quick else 60, 4)}
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor()},
              "method": "DecodePool, snippets of 16, batches of 8, resized to short side 256 in the workers",
              "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height, seconds, copies) in clips.items():
            clip = Path(tmp) / f"clip_{name}.mp4"
            make_clip(clip, seconds, width, height)
            paths = [clip] * copies
            frames = int(seconds * 30) * copies
            rows: dict[str, dict] = {}
            for workers in (1, 2):
                rows[f"ffmpeg -f null, {workers} process(es)"] = time_ffmpeg(paths, workers, frames)
                for decoder in args.decoders:
                    rows[f"{decoder}, {workers} worker(s)"] = time_pool(paths, decoder, workers)
            result["clips"][name] = {"seconds": seconds, "copies": copies, "frames": frames, "rows": rows}
            print(json.dumps({name: rows}, indent=2), flush=True)
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
