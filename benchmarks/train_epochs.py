"""Time teacher and student training epochs at UCF-Crime scale on synthetic bags.

UCF-Crime's training split: 1610 videos (800 normal, 810 anomalous), 32 segments each,
I3D 1024-d + S3D 1024-d + CLIP 512-d features. The models use the paper's config
(width 512, 8 heads, FFN 1024, batches of 30 + 30). A few epochs are timed and the
per-epoch time is extrapolated to the paper's 100 epochs per stage.

    python benchmarks/train_epochs.py --epochs 3 --device cpu --out benchmarks/results/train_epochs_cpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

import torch

from dakd.config import DakdConfig, apply_overrides
from dakd.features import BagSet
from dakd.io import write_json
from dakd.provenance import code_version
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
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    cfg = DakdConfig.from_dict(apply_overrides({}, [
        f"teacher.optim.epochs={args.epochs}", f"student.optim.epochs={args.epochs}", *args.overrides]))
    device = resolve_device(args.device)
    bags = synthetic_bags(args.normal, args.anomalous, cfg.features.segments, cfg.seed)

    start = time.perf_counter()
    teacher, _, _ = train_teacher(cfg, bags, device, progress=False)
    _sync(device)
    teacher_s = (time.perf_counter() - start) / args.epochs

    start = time.perf_counter()
    scores, hidden = predict_bags(teacher, bags, device)
    _sync(device)
    predict_s = time.perf_counter() - start
    targets = DistillTargets(scores.cpu(), scores.cpu(), hidden.cpu())
    student_bags = dataclasses.replace(bags, segments={"clip": bags.segments["clip"]})
    start = time.perf_counter()
    train_student(cfg, student_bags, targets, device, progress=False)
    _sync(device)
    student_s = (time.perf_counter() - start) / args.epochs

    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"},
        "code_version": code_version(),
        "videos": len(bags), "epochs_timed": args.epochs,
        "teacher_epoch_s": round(teacher_s, 3),
        "student_epoch_s": round(student_s, 3),
        "teacher_predict_all_s": round(predict_s, 3),
        "projected_100_plus_100_epochs_min": round(100 * (teacher_s + student_s) / 60, 2),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
