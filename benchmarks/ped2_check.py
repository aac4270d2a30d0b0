"""The real-features check: Table 4's rows and the linear probe on UCSD Ped2, through the
workflow a user runs.

The field's Ped2 files (lists labelled by their order, ``_mnv1``/``_mnv2`` file names, the
official per-video masks) become a ``kind: features`` dataset used as it is; a study of four
rows (Sultani's MIL baseline on each backbone, DAKD without the TAM, DAKD) runs over the
given seeds, and ``snakemake results/ped2/tables/ped2_check.md`` trains, evaluates on the 18
test videos and sets the linear probe (``dakd probe``) under the table.

    python benchmarks/ped2_check.py --data ../shared/realdata/ped2 --work /tmp/ped2_check --seeds 0 1 2 3 4
    python benchmarks/ped2_check.py ... --set teacher.model.input_scale=raw   # a change to every row

``--set`` changes go into the dataset's overrides (dotted keys, YAML values). The Markdown
table is printed; the per-seed values are in ``<work>/results/ped2/tables/ped2_check_runs.csv``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from dakd.config import apply_overrides

REPO = Path(__file__).resolve().parents[1]
BACKBONES = ("mnv1", "mnv2")
SULTANI = {"teacher.model.temporal": "none", "teacher.model.projection": "none", "teacher.model.head": "sultani",
           "teacher.mil.reduction": "sultani"}
ROWS = [
    *({"label": f"MIL baseline (Sultani's head and loss, {bb})", "models": ["teacher"],
       "set": {"teacher.backbones": [bb], **SULTANI}} for bb in BACKBONES),
    {"label": "w/o TAM", "models": ["teacher", "student"], "set": {"teacher.model.temporal": "none"}},
    {"label": "DAKD (mnv1 + mnv2 teacher, mnv2 student)", "models": ["teacher", "student"]},
]


def dataset_entry(data: Path, changes: list[str]) -> dict:
    """The Ped2 files as a user's config names them, unchanged: labels from the training list's
    order, test labels and lengths from the official masks."""
    overrides = apply_overrides({"device": "cpu", "teacher": {"backbones": list(BACKBONES)},
                                 "student": {"backbone": "mnv2"}}, changes)
    return {"kind": "features", "root": str(data.resolve()), "anomalous_first": {"train": 6},
            "ground_truth": "test_frame_mask", "options": {"fps": 10, "shard_size": 32},
            "sources": {bb: {"train": f"ped2-{bb}.list", "test": f"ped2-{bb}-test.list"} for bb in BACKBONES},
            "overrides": overrides}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the Ped2 folder (features/, lists, test_frame_mask/)")
    parser.add_argument("--work", type=Path, required=True, help="workflow directory (results/ped2/... go there)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", nargs="*", default=[], help="dotted config changes for every row")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="plan the jobs only")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["ped2"] = dataset_entry(args.data, args.set)
    config["reproduce"]["seeds"] = args.seeds
    config["reproduce"]["studies"]["ped2_check"] = {"title": "Real features: UCSD Ped2 (Zhong et al.'s split)",
                                                    "row_header": "Model", "rows": ROWS}
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    target = "results/ped2/tables/ped2_check.md"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(args.work), "--configfile", str(args.work / "config.yaml"), "--cores", str(args.cores), target]
    subprocess.run(command + (["-n"] if args.dry_run else []), check=True)
    if args.dry_run:
        return
    print((args.work / target).read_text())


if __name__ == "__main__":
    main()
