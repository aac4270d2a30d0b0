"""Time teacher and student training epochs at UCF-Crime scale on synthetic bags.

UCF-Crime's training split: 1610 videos (800 normal, 810 anomalous), 32 segments each,
I3D 1024-d + S3D 1024-d + CLIP 512-d features. The models use the paper's config
(width 512, 8 heads, FFN 1024, batches of 30 + 30). Each stage first runs one untimed
epoch (the process's first steps pay one-off costs: oneDNN kernel selection, allocator
warm-up), then ``--epochs`` timed epochs; the per-epoch time is extrapolated to the
paper's 100 epochs per stage.

The student is timed twice, because its cost depends on whether L_nce has anchors: a
teacher trained for a few epochs on random features never scores 0.9, so the paper's
anchors (raw teacher scores >= delta) leave L_nce out of every batch. The headline run
splits anchors by the refined pseudo-labels instead (min-max puts every anomalous video's
peak at 1), so every batch pays for the projection heads and the contrastive term.

    python benchmarks/train_epochs.py --epochs 3 --device cpu --out benchmarks/results/train_epochs_cpu.json
    python benchmarks/train_epochs.py --epochs 3 --device cpu --precision bf16 --out ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

from dakd.atomic import write_json
from dakd.config import DakdConfig, apply_overrides
from dakd.features import BagSet
from dakd.provenance import code_version
from dakd.pseudo_labels import refine
from dakd.training import DistillTargets, predict_bags, resolve_device, train_student, train_teacher

DIMS = {"i3d": 1024, "s3d": 1024, "clip": 512}


def synthetic_bags(normal: int, anomalous: int, segments: int, seed: int) -> BagSet:
    gen = torch.Generator().manual_seed(seed)
    n = normal + anomalous
    return BagSet(
        metas=[None] * n,  # metadata is not used by the training loops
        labels=torch.tensor([0] * normal + [1] * anomalous),
        segments={b: torch.randn(n, segments, d, generator=gen) for b, d in DIMS.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per stage")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--normal", type=int, default=800)
    parser.add_argument("--anomalous", type=int, default=810)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="optim.precision of both stages")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    def config(epochs: int, *extra: str) -> DakdConfig:
        return DakdConfig.from_dict(apply_overrides({}, [
            f"teacher.optim.epochs={epochs}", f"student.optim.epochs={epochs}",
            f"teacher.optim.precision={args.precision}", f"student.optim.precision={args.precision}",
            *extra, *args.overrides]))

    def timed(train: Callable[[DakdConfig], Any], *extra: str) -> tuple[float, Any]:
        """Seconds per epoch of an ``--epochs`` run after an untimed 1-epoch warm-up; its result."""
        train(config(1, *extra))
        start = time.perf_counter()
        result = train(config(args.epochs, *extra))
        _sync(device)
        return round((time.perf_counter() - start) / args.epochs, 3), result

    device = resolve_device(args.device)
    cfg = config(args.epochs)
    bags = synthetic_bags(args.normal, args.anomalous, cfg.features.segments, cfg.seed)

    teacher_s, (teacher, _, _) = timed(lambda c: train_teacher(c, bags, device, progress=False))

    start = time.perf_counter()
    scores, hidden = predict_bags(teacher, bags, device)
    _sync(device)
    predict_s = time.perf_counter() - start
    scores = scores.cpu()
    pseudo_labels = torch.stack([torch.from_numpy(refine(s.numpy(), int(y), cfg.pseudo_labels))
                                 for s, y in zip(scores, bags.labels)])
    targets = DistillTargets(pseudo_labels, scores, hidden.cpu())
    student_bags = dataclasses.replace(bags, segments={"clip": bags.segments["clip"]})
    student = {}
    for anchors in ("pseudo_labels", "teacher_scores"):
        epoch_s, (_, _, history, _) = timed(
            lambda c: train_student(c, student_bags, targets, device, progress=False),
            f"student.distill.anchors={anchors}")
        student[anchors] = {"epoch_s": epoch_s, "anchor_fraction": round(history[-1]["anchor_fraction"], 4)}
    student_s = student["pseudo_labels"]["epoch_s"]

    result = {
        "machine": {"platform": platform.platform(), **cpu_info(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"},
        "code_version": code_version(),
        "precision": args.precision, "overrides": args.overrides,
        "videos": len(bags), "epochs_timed": args.epochs,
        "teacher_epoch_s": teacher_s,
        "student_epoch_s": student_s,
        "student_by_anchors": student,
        "teacher_predict_all_s": round(predict_s, 3),
        "projected_100_plus_100_epochs_min": round(100 * (teacher_s + student_s) / 60, 2),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


def cpu_info() -> dict[str, Any]:
    """The CPU model (``processor``) and the features that make bf16 matmuls fast
    (``cpu_bf16``: AVX512-BF16, AMX), from the first processor in /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = fields.get("flags", "").split()
    return {"processor": fields.get("model name") or platform.processor() or platform.machine(),
            "cpu_bf16": sorted(f for f in flags if f in ("avx512_bf16", "amx_bf16", "amx_tile"))}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
