"""Clips per second of every backbone at its real input size (random weights, center crop).

    python benchmarks/backbones.py --device cpu --out benchmarks/results/backbones_cpu.json
    python benchmarks/backbones.py --device cuda --precision bf16 --out benchmarks/results/backbones_cuda.json

A clip is one 16-frame snippet; decoding is not included (see decode.py). On CUDA the
relative error of bf16 autocast against fp32 features is reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from dakd.atomic import write_json
from dakd.backbones import build_backbone, make_crops
from dakd.config import BackboneConfig
from dakd.training import resolve_device

BACKBONES = {
    "i3d_r50": BackboneConfig("i3d_r50", "random"),
    "inception_i3d": BackboneConfig("inception_i3d", "random"),
    "s3d": BackboneConfig("s3d", "random"),
    "open_clip ViT-B-16": BackboneConfig("open_clip", "random", model="ViT-B-16"),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure(name: str, cfg: BackboneConfig, device: torch.device, batch: int, repeats: int, precision: str) -> dict:
    torch.manual_seed(0)
    backbone = build_backbone(cfg).to(device)
    frames = torch.randint(0, 256, (batch, 16, 256, 340, 3), dtype=torch.uint8, device=device)
    clips = make_crops(frames, backbone.preprocessing, "center").flatten(0, 1)
    reference = backbone(clips).float()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    with autocast:
        backbone(clips)
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        with autocast:
            out = backbone(clips).float()
    sync(device)
    seconds = (time.perf_counter() - start) / repeats
    rel = ((out - reference).norm() / reference.norm()).item()
    return {"dim": backbone.dim, "batch": batch, "clips_per_s": round(batch / seconds, 2),
            "precision": precision, "relative_error_vs_fp32": rel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = resolve_device(args.device)
    result = {"machine": {"platform": platform.platform(), "threads": torch.get_num_threads(),
                          "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}}
    for name, cfg in BACKBONES.items():
        result[name] = measure(name, cfg, device, args.batch, args.repeats, args.precision)
        print(name, result[name], flush=True)
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
