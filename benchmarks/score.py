"""Scoring speed (video seconds scored per wall second) offline and online, and the frame AUC of
online (causal) scoring against offline scoring.

    # a trained model (the demo's) on its test videos, with their frame labels:
    python benchmarks/score.py demo --model results/demo/student.pt --videos 'results/demo/data/videos/test_*.mp4' \\
        --annotations results/demo/annotations.parquet --out benchmarks/results/score_demo_cpu.json
    # real-size CLIP ViT-B-16 (random weights, 224 px, centre crop) and the paper's student detector:
    python benchmarks/score.py clip --seconds 20 --out benchmarks/results/score_clip_cpu.json

``demo`` scores the videos offline (``dakd score``) and online (``--online``, files read as
fast as they decode) for each window W, and reports the frame AUC of each against the
annotations (as ``dakd evaluate`` computes it), the throughput, and the per-snippet compute
time and latency of the online runs; with ``--realtime`` the online runs read the files at
their frame rate. ``clip`` builds a student checkpoint whose detector has the paper's sizes
and random weights, recorded as trained on random ViT-B-16 features at the real input size,
writes a generated 640x360, 30 fps video of ``--seconds`` and scores it both ways (the cost
does not depend on the weight values). Peak RSS is the process's, read after each run; CPU
seconds (this process and its decode workers) and the 1-minute load average before and
after each run say how busy the machine was.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import io
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

from dakd.annotations import frame_labels, read_annotation_table
from dakd.atomic import write_json
from dakd.checkpoints import save_checkpoint
from dakd.config import DakdConfig
from dakd.extract import build_backbones, frames_record
from dakd.features import BackboneInfo
from dakd.models import AnomalyDetector
from dakd.scoring.run import ScoreOptions, run_score


def machine() -> dict:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), "")
    return {"processor": model or platform.processor(), "cpu_bf16": " avx512_bf16" in flags,
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the decode workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def score(model: str, videos: list[str], out: Path, device: torch.device, **options) -> dict:
    """Run dakd score; returns wall seconds, video seconds, snippet scores per video and online timings."""
    records = io.StringIO()
    load, cpu = os.getloadavg()[0], cpu_seconds()
    start = time.perf_counter()
    with contextlib.redirect_stdout(records):
        run_score(model, videos, out, device, ScoreOptions(threshold="0.5", **options), say=lambda line: None)
    wall = time.perf_counter() - start
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    lines = [json.loads(line) for line in records.getvalue().splitlines() if line.startswith("{")]
    result = {"wall_s": wall, "cpu_s": cpu_seconds() - cpu, "load_before": load, "load_after": os.getloadavg()[0],
              "video_s": sum(r["duration_s"] for r in reports.values()),
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "scores": {name: r["snippet_scores"] for name, r in reports.items()},
              "meta": {name: (r["frames"], r["snippet_stride"]) for name, r in reports.items()}}
    result["video_s_per_s"] = result["video_s"] / wall
    if lines:
        compute = np.array([r["compute_s"] for r in lines])
        latency = np.array([r["latency_s"] for r in lines])
        result["snippet_compute_s"] = {"median": float(np.median(compute)), "p95": float(np.percentile(compute, 95))}
        result["snippet_latency_s"] = {"median": float(np.median(latency)), "p95": float(np.percentile(latency, 95))}
    return result


def frame_auc(result: dict, annotations: str) -> float | None:
    """Frame AUC over all scored videos concatenated, each snippet score repeated over its
    frames; None when the frames hold one class only."""
    from sklearn.metrics import roc_auc_score

    table = read_annotation_table(annotations)
    labels, scores = [], []
    for name, snippet_scores in sorted(result["scores"].items()):
        frames, stride = result["meta"][name]
        index = np.minimum(np.arange(frames) // stride, len(snippet_scores) - 1)
        scores.append(np.asarray(snippet_scores)[index])
        labels.append(frame_labels(table.get(name, ([], None))[0], frames))
    labels = np.concatenate(labels)
    if labels.min() == labels.max():  # one class only: no AUC (JSON has no NaN)
        return None
    return float(roc_auc_score(labels, np.concatenate(scores)))


def run_demo(args: argparse.Namespace, device: torch.device, work: Path) -> dict:
    videos = sorted(glob.glob(args.videos))
    offline = score(args.model, videos, work / "offline", device)
    rows = {"offline": {**offline, "auc": frame_auc(offline, args.annotations)}}
    for window in args.windows:
        online = score(args.model, videos, work / f"online{window}", device, online=True, window=window,
                       realtime=args.realtime)
        rows[f"online_w{window}"] = {**online, "auc": frame_auc(online, args.annotations)}
    return rows


def clip_checkpoint(path: Path, device: torch.device) -> None:
    """A student checkpoint with the paper's detector sizes and random weights, recorded as trained
    on random ViT-B-16 features at 224 px (centre crop, short side 256)."""
    cfg = DakdConfig.from_dict({"extract": {
        "backbones": {"clip": {"arch": "open_clip", "model": "ViT-B-16", "weights": "random"}},
        "crops": "center", "num_workers": 1}})
    backbone = build_backbones(cfg.extract, device, 0)["clip"]
    info = BackboneInfo("clip", backbone.dim, 1, backbone.weights_source,
                        {**backbone.describe(), "precision": "fp32", "bf16_relative_error": None})
    torch.manual_seed(0)
    model = AnomalyDetector({"clip": backbone.dim}, cfg.student.model).eval()
    extraction = {"stage": "extract", "config": dataclasses.asdict(cfg.extract), "seed": 0,
                  "frames": frames_record(cfg.extract), "backbones": {"clip": dataclasses.asdict(info)}}
    save_checkpoint(path, model, "student", cfg.to_dict(), cfg.student.model, [], {"config_digest": "random"},
                    {"selection": "last_epoch", "epoch": 0}, extraction=extraction)


def synthetic_video(path: Path, seconds: float, fps: int = 30, width: int = 640, height: int = 360) -> None:
    """H.264 of moving gradients plus noise (a bitstream that costs real decoding)."""
    import av

    rng = np.random.default_rng(0)
    x = np.linspace(0, 4 * np.pi, width)[None, :, None]
    y = np.linspace(0, 2 * np.pi, height)[:, None, None]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * fps)):
            base = 127 + 100 * np.sin(x + i / 10) * np.cos(y - i / 15)
            image = np.clip(base + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def run_clip(args: argparse.Namespace, device: torch.device, work: Path) -> dict:
    model, video = work / "clip_student.pt", work / "video.mp4"
    clip_checkpoint(model, device)
    synthetic_video(video, args.seconds)
    rows = {"offline": score(str(model), [str(video)], work / "offline", device)}
    for window in args.windows:
        rows[f"online_w{window}"] = score(str(model), [str(video)], work / f"online{window}", device, online=True,
                                          window=window, realtime=args.realtime)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["demo", "clip"])
    parser.add_argument("--model", help="demo: the checkpoint")
    parser.add_argument("--videos", help="demo: a glob of the videos to score")
    parser.add_argument("--annotations", help="demo: the frame labels (annotations.parquet)")
    parser.add_argument("--seconds", type=float, default=20.0, help="clip: length of the generated video")
    parser.add_argument("--windows", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--realtime", action="store_true", help="online runs read files at their frame rate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", default="benchmarks/results/score_work", help="scratch folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    device = torch.device(args.device)
    work = Path(args.work)
    rows = (run_demo if args.case == "demo" else run_clip)(args, device, work)
    for row in rows.values():
        row.pop("scores"), row.pop("meta")
    result = {"case": args.case, "device": args.device, "machine": machine(), "realtime": args.realtime,
              "rows": rows}
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
