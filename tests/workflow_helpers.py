"""Running the Snakemake workflow on a tiny demo from tests."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TINY_MODEL = {"width": 32, "heads": 2, "ffn_dim": 64}


def tiny_demo_config(workdir: Path) -> Path:
    """config.yaml with the demo shrunk to 15 two-second videos, 32-px backbones and 2 epochs,
    and the paper studies to 2 seeds and fewer rows (see :func:`reduce_studies`)."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    demo = cfg["datasets"]["demo"]
    demo["options"] = {"train_normal": 4, "train_anomalous": 4, "test_normal": 3, "test_anomalous": 4,
                       "min_seconds": 2, "max_seconds": 3, "width": 64, "height": 48}
    overrides = demo["overrides"]
    for backbone in overrides["extract"]["backbones"].values():
        backbone["size"] = 32
    overrides["extract"].update({"shard_size": 6, "decode_short_side": 48})
    for stage in ("teacher", "student"):
        overrides[stage] = {"model": dict(TINY_MODEL),
                            "optim": {"epochs": 2, "normal_per_batch": 4, "anomalous_per_batch": 4}}
    reduce_studies(cfg["reproduce"])
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def reduce_studies(spec: dict) -> None:
    """The shipped studies with 2 seeds and fewer rows, so all of them run in a few minutes:
    Table 1 and 5 keep two rows, Figure 4 the subsets of {I3D, CLIP}, each Figure 5 sweep
    its first value and the default (which shares the full model's runs)."""
    spec["seeds"] = [0, 1]
    studies = spec["studies"]
    studies["table1"]["rows"] = [r for r in studies["table1"]["rows"] if r["label"] in ("MTN (RTFM)", "TAM")]
    studies["table5"]["rows"] = studies["table5"]["rows"][:1] + studies["table5"]["rows"][-1:]
    studies["figure4"]["subsets"]["of"] = ["i3d", "clip"]
    for name, default in (("figure5_tau", 1.0), ("figure5_alpha", 7.5), ("figure5_k", 25), ("figure5_delta", 0.9),
                          ("figure5_window", 5)):
        studies[name]["sweep"]["values"] = [studies[name]["sweep"]["values"][0], default]
    keep = ("dakd's readings (default)", "MIL loss reduced as Sultani's code (x anomalous bags)",
            "InfoNCE: normal videos' segments always normal anchors", "Evaluation on the 32 training segments")
    studies["readings"]["rows"] = [r for r in studies["readings"]["rows"] if r["label"] in keep]


def snakemake(workdir: Path, *args: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` with ``workdir/config.yaml``."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    jobs, inside = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if not parts or parts[0] == "total":
                break
            if parts[0].startswith("---"):
                continue
            jobs[parts[0]] = int(parts[1])
    return jobs
