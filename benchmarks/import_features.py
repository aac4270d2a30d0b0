"""Import throughput and peak memory of `dakd import-features` on RTFM-layout files.

    python benchmarks/import_features.py --out benchmarks/results/import_features.json

Writes `--videos` fake ten-crop files of `--snippets` x 10 x `--dim` float32 (UCF-Crime
averages ~450 snippets of 16 frames per video; I3D-R50 is 2048-d) and a list, imports them
into shards, then reads the shards back into 32-segment training bags. Reports input
gigabytes, wall seconds and the peak resident memory of each phase (a fresh process per
phase, so the peaks do not mix). It also times reading a per-crop list (UR-DMU / VadCLIP
layout: `--per-crop-videos` x 10 `<video>__N.npy` files in one folder, as XD-Violence's
19,770-file training folder): each folder is listed once, so this grows linearly with the
number of files (it grew with their square when the folder was listed per video).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from dakd.atomic import write_json


def make_files(root: Path, videos: int, snippets: int, dim: int) -> Path:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(videos):
        name = f"Abuse{i:03d}_x264" if i % 2 else f"Normal_Videos_{i:03d}_x264"
        array = rng.standard_normal((snippets + i % 7, 10, dim), dtype=np.float32)
        np.save(root / f"{name}_i3d.npy", array)
        lines.append(str(root / f"{name}_i3d.npy"))
    (root / "train.list").write_text("\n".join(lines) + "\n")
    return root / "train.list"


def make_per_crop(root: Path, videos: int) -> Path:
    """``videos`` x 10 small ``<video>__N.npy`` files in one folder and a list naming them all."""
    folder = root / "per_crop"
    folder.mkdir()
    array = np.zeros((4, 8), np.float32)
    lines = []
    for i in range(videos):
        name = f"Abuse{i:05d}_x264" if i % 2 else f"Normal_Videos_{i:05d}_x264"
        for crop in range(10):
            np.save(folder / f"{name}__{crop}.npy", array)
            lines.append(f"/data/features/{name}__{crop}.npy")
    (root / "per_crop.list").write_text("\n".join(lines) + "\n")
    return root / "per_crop.list"


def phase(code: str, setup: str = "") -> dict:
    """Run ``code`` in a fresh interpreter (after ``setup``, untimed); wall seconds and peak RSS in MB."""
    wrapped = (f"import time, resource\n{setup}\nstart = time.perf_counter()\n{code}\n"
               "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, check=True).stdout
    seconds, rss = out.split()[-2:]
    return {"seconds": round(float(seconds), 2), "peak_rss_mb": round(float(rss))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--snippets", type=int, default=450)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--shard-size", type=int, default=16)
    parser.add_argument("--per-crop-videos", type=int, default=2000,
                        help="videos of the per-crop list phase (x 10 crop files; 0 skips it)")
    parser.add_argument("--out")
    args = parser.parse_args()
    from dakd.features.store import list_shards  # here: the phases measure their own imports

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        listing = make_files(root, args.videos, args.snippets, args.dim)
        gigabytes = sum(p.stat().st_size for p in root.glob("*.npy")) / 1e9
        shards = root / "shards"
        imported = phase(
            "from dakd.released.importer import import_features\n"
            "from dakd.released.sources import FeatureSource, ImportSettings\n"
            f"import_features([FeatureSource('i3d', {{'train': {str(listing)!r}}})], "
            f"ImportSettings('ucf_crime', shard_size={args.shard_size}), {str(shards)!r}, progress=False)")
        loaded = phase(
            "from dakd.features import list_shards, load_bags\n"
            f"load_bags(list_shards({str(shards)!r}), ['i3d'], 'train', 32)")
        shard_gb = sum(p.stat().st_size for p in list_shards(shards)) / 1e9
        per_crop = None
        if args.per_crop_videos:
            crop_list = make_per_crop(root, args.per_crop_videos)
            per_crop = {"videos": args.per_crop_videos, "files": 10 * args.per_crop_videos, **phase(
                f"read_video_list({str(crop_list)!r}, 'ucf_crime', {str(root / 'per_crop')!r})",
                setup="from dakd.released.lists import read_video_list")}
    result = {
        "machine": platform.platform(), "cpus": __import__("os").cpu_count(),
        "videos": args.videos, "snippets_per_video": args.snippets, "crops": 10, "dim": args.dim,
        "shard_size": args.shard_size, "input_gb": round(gigabytes, 2), "shards_gb": round(shard_gb, 2),
        "import": {**imported, "gb_per_s": round(gigabytes / imported["seconds"], 3)},
        "load_bags": loaded,
        "read_per_crop_list": per_crop,
        "rusage_note": "peak RSS of a fresh interpreter including torch (~400 MB)",
    }
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
