"""End-to-end extraction throughput, where the time goes, CLIP frame sampling and memory.

    python benchmarks/extract.py --device cuda --out benchmarks/results/extract_cuda.json
    python benchmarks/extract.py --device cpu --out benchmarks/results/extract_cpu.json
    python benchmarks/extract.py --device cpu --quick --out /tmp/extract.json   # dry run: tiny models

Generated 320x240 H.264 clips (UCF-Crime's size, 30 fps) go through `dakd.extract.run_extract`
with the real-size architectures of the three backbones (Inception-I3D, S3D, CLIP
ViT-B-16; random weights, which cost the same as trained ones) in one decode pass:

* ``three_backbones``: ten crops and one (centre) crop: snippets/s, frames/s, and the
  parent's time split into decode-worker start-up (``first_s``), waiting for decoded
  frames (``wait_s``: decoding is the bottleneck when this is large), assembling batches,
  the host-to-device copy (``transfer_s``) and embedding (resize, crops, backbones); on a
  GPU the last two are timed by CUDA events, so ``device_busy`` is the fraction of the
  run after start-up that the GPU was working (runs before this split report
  ``embed_busy``, the same fraction with the copy inside the embedding).
* ``decode_only``: the same videos decoded by the same workers with no model, the rate
  decoding alone could feed.
* ``clip_sampling``: CLIP alone with ``frames_per_snippet`` all, 4 and middle.
* ``memory``: peak RSS of the parent and of the largest decode worker extracting one
  1-minute and one 20-minute video (a small S3D, centre crop: frames, not weights or
  compute, are the question).

``--quick`` shrinks every model and video so the whole script runs in 2-3 minutes on a CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from decode import make_clip, time_pool

from dakd.atomic import write_json
from dakd.config import DakdConfig
from dakd.embed import ExtractTimings
from dakd.extract import run_extract
from dakd.training import resolve_device

CASES = ("decode_only", "three_backbones", "clip_sampling", "memory")
REAL = {
    "i3d": {"arch": "inception_i3d", "weights": "random"},
    "s3d": {"arch": "s3d", "weights": "random"},
    "clip": {"arch": "open_clip", "model": "ViT-B-16", "weights": "random"},
}


def backbones(quick: bool, names=("i3d", "s3d", "clip"), **extra) -> dict:
    return {n: {**REAL[n], **({"size": 32} if quick else {}), **extra} for n in names}


def extract_config(spec: dict, crops: str, batch: int, workers: int, decoder: str):
    return DakdConfig.from_dict({"extract": {"backbones": spec, "crops": crops, "batch_snippets": batch,
                                             "num_workers": workers, "decoder": decoder}}).extract


def manifest(folder: Path, clips: list[Path]) -> Path:
    lines = ["video_id,path,split,label,class_name"]
    lines += [f"v{i},{clip},train,0,Normal" for i, clip in enumerate(clips)]
    path = folder / "videos.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(cfg, videos: Path, out: Path, device: torch.device) -> dict:
    """Extract ``videos``; throughput over the run after the workers' start-up (``first_s``)."""
    timings = ExtractTimings()
    run_extract(cfg, videos, out, device, progress=False, timings=timings)
    figures = timings.finish()
    steady = figures["wall_s"] - figures["first_s"]
    return {**{k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()},
            "snippets_per_s": round(figures["snippets"] / steady, 2),
            "frames_per_s": round(figures["frames"] / steady, 1)}


def _children_rss_kib() -> int:
    """Resident memory of this process's live children (the decode workers), largest first."""
    sizes = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            sizes += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    return max(sizes, default=0)


def memory_probe(video: str, device: str, decoder: str) -> None:
    """Subprocess entry: extract one video with small models, print peak RSS (MiB) of this
    process and of the largest decode worker (sampled every 0.1 s: a spawned child's own
    ``ru_maxrss`` starts from its parent's at fork)."""
    peak = {"worker": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak["worker"] = max(peak["worker"], _children_rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = extract_config(backbones(True, ("s3d",)), "center", 8, 1, decoder)
        run_extract(cfg, manifest(folder, [Path(video)]), folder / "out", resolve_device(device), progress=False)
    done.set()
    sampler.join()
    print(json.dumps({"parent_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "worker_peak_rss_mib": round(peak["worker"] / 1024, 1)}))


def long_clip(folder: Path, seconds: int, piece: int) -> Path:
    """A ``seconds`` long 320x240 clip: ``piece``-second clips joined by ffmpeg's concat
    demuxer without re-encoding (encoding 20 minutes of noise takes minutes)."""
    clip = folder / f"long_{seconds}s.mp4"
    part = folder / f"piece_{piece}s.mp4"
    if not part.exists():
        make_clip(part, piece, 320, 240)
    if seconds == piece:
        return part
    listing = folder / f"long_{seconds}s.txt"
    listing.write_text(f"file '{part}'\n" * (seconds // piece))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(clip)], check=True)
    return clip


def memory(folder: Path, quick: bool, device: str, decoder: str) -> dict:
    rows = {}
    piece = 5 if quick else 60
    for label, seconds in (("1 min", piece), ("20 min", 20 if quick else 1200)):
        clip = long_clip(folder, seconds, piece)
        probe = subprocess.run([sys.executable, __file__, "--memory-probe", str(clip), "--device", device,
                                "--decoder", decoder],
                               capture_output=True, text=True, check=True)
        rows[label if not quick else f"{seconds} s"] = json.loads(probe.stdout.strip().splitlines()[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--videos", type=int, help="clips per case (default: 16 on a GPU, 1 on a CPU, 2 quick)")
    parser.add_argument("--seconds", type=float, help="clip length (default: 30 on a GPU, 2 on a CPU, 1 quick)")
    parser.add_argument("--batch", type=int, help="batch_snippets (default: 32 on a GPU, 8 on a CPU)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--decoder", default="pyav")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args.memory_probe, args.device, args.decoder)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    videos = args.videos or (16 if gpu else 2 if args.quick else 1)
    seconds = args.seconds or (1 if args.quick else 30 if gpu else 2)
    batch = args.batch or (32 if gpu else 8)
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "device": torch.cuda.get_device_name(device) if gpu else "cpu",
                          "torch_threads": torch.get_num_threads()},
              "settings": {"videos": videos, "seconds": seconds, "size": "320x240", "fps": 30, "batch": batch,
                           "workers": args.workers, "decoder": args.decoder, "quick": args.quick}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = []
        for i in range(videos):
            clips.append(folder / f"clip{i}.mp4")
            make_clip(clips[-1], seconds, 320, 240)
        listed = manifest(folder, clips)
        if "decode_only" in args.cases:
            result["decode_only"] = time_pool(clips, args.decoder, args.workers)
        for crops in ("center", "ten") if "three_backbones" in args.cases else ():
            cfg = extract_config(backbones(args.quick), crops, batch, args.workers, args.decoder)
            result.setdefault("three_backbones", {})[crops] = run(cfg, listed, folder / f"out_{crops}", device)
            print(json.dumps({crops: result["three_backbones"][crops]}), flush=True)
        for sampling in ("all", 4, "middle") if "clip_sampling" in args.cases else ():
            cfg = extract_config(backbones(args.quick, ("clip",), frames_per_snippet=sampling), "center", batch,
                                 args.workers, args.decoder)
            result.setdefault("clip_sampling", {})[str(sampling)] = run(cfg, listed, folder / f"out_clip_{sampling}",
                                                                        device)
            print(json.dumps({f"clip {sampling}": result["clip_sampling"][str(sampling)]}), flush=True)
        if "memory" in args.cases:
            result["memory"] = memory(folder, args.quick, args.device, args.decoder)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
