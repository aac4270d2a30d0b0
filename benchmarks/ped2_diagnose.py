"""Learning curves of dakd's teacher and student on real features, on a validation split
carved from the training videos (never the test split).

The features are UCSD Ped2 in Zhong et al.'s weakly supervised split (10 training videos:
6 anomalous, 4 normal), imported from the field's files as they are. The anomalous training
videos come from Ped2's original test set, so their frame masks exist; they are read here
for validation only (training sees video labels, as always). The training videos are split
into three stratified folds (2 anomalous + 1 or 2 normal held out); for each variant, fold
and seed the teacher, the pseudo-labels and the student are trained on the other videos, and
the held-out videos' frame AUC (as ``dakd evaluate`` computes it) is recorded every
``--every`` epochs. The linear probe (``dakd probe``'s) is fitted on the same folds.

    python benchmarks/ped2_diagnose.py --data ../shared/realdata/ped2 --work /tmp/ped2 \\
        --variants paper steps3000 --seeds 0 1 2 --out benchmarks/results/ped2_diagnose.json

A variant is a name from :data:`VARIANTS` (dotted config changes over the Ped2 base config).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dakd.annotations import mask_intervals
from dakd.atomic import write_json
from dakd.config import DakdConfig, apply_overrides
from dakd.evaluate import align_scores, frame_metrics, score_videos
from dakd.features import BagSet, load_bags, load_snippet_videos
from dakd.probe import fit_probe, probe_scores
from dakd.provenance import code_version
from dakd.pseudo_labels import refine
from dakd.released.importer import import_features
from dakd.released.sources import plan_import
from dakd.training import DistillTargets, predict_bags, train_student, train_teacher

BACKBONES = ["mnv1", "mnv2"]
BASE = {"device": "cpu", "teacher": {"backbones": BACKBONES}, "student": {"backbone": "mnv2"}}
# name -> dotted changes over BASE (both stages where a key names both)
BOTH = ("teacher", "student")
VARIANTS: dict[str, list[str]] = {
    "paper": [],
    "epochs1000": [f"{s}.optim.epochs=1000" for s in BOTH],
    "no_head_dropout": [f"{s}.model.head_dropout=0" for s in BOTH],
    "no_dropout": [f"{s}.model.{k}=0" for s in BOTH for k in ("dropout", "head_dropout")],
    "segments16": ["features.segments=16"],
    "standardize": [f"{s}.model.input_scale=standardize" for s in BOTH],
    "epochs300": [f"{s}.optim.epochs=300" for s in BOTH],
    "standardize_epochs300": [f"{s}.{k}" for s in BOTH for k in ("model.input_scale=standardize",
                                                                 "optim.epochs=300")],
    "standardized_teacher_long_student": ["teacher.model.input_scale=standardize", "student.optim.epochs=1000"],
    "teacher_no_mil_regularisers": ["teacher.mil.lambda_sparse=0", "teacher.mil.lambda_smooth=0"],
    "teacher_no_weight_decay": ["teacher.optim.weight_decay=0"],
    "teacher_bare_layer": ["teacher.model.layer=bare"],
    "segment_unit": ["evaluate.unit=segment"],
    "per_crop_bags": ["features.crop=per_crop_bags"],
    "standardize_per_crop_bags": [f"{s}.model.input_scale=standardize" for s in BOTH] + ["features.crop=per_crop_bags"],
    "standardize_segment_unit": [f"{s}.model.input_scale=standardize" for s in BOTH] + ["evaluate.unit=segment"],
    "standardize_no_head_dropout": [f"{s}.model.{k}" for s in BOTH for k in ("input_scale=standardize",
                                                                             "head_dropout=0")],
    "lr_x10": [f"{s}.optim.{k}={v}" for s in BOTH for k, v in (("lr_temporal", 1e-3), ("lr_other", 1e-2))],
}


def import_ped2(data: Path, work: Path) -> list[Path]:
    """The shared Ped2 files imported once into ``work/features`` (official masks as ground truth)."""
    shards = sorted((work / "features").glob("shard-*.parquet"))
    if shards:
        return shards
    entry = {"root": str(data), "anomalous_first": {"train": 6}, "ground_truth": "test_frame_mask",
             "options": {"fps": 10, "shard_size": 32},
             "sources": {bb: {"train": f"ped2-{bb}.list", "test": f"ped2-{bb}-test.list"} for bb in BACKBONES}}
    plan = plan_import(entry, "ped2")
    return import_features(plan.sources, plan.settings, work / "features", plan.ground_truth,
                           work / "annotations.parquet", progress=False)


def folds(labels: list[int]) -> list[list[int]]:
    """Three stratified folds of video indices: anomalous ones two by two, normal ones in turn."""
    anomalous = [i for i, y in enumerate(labels) if y]
    normal = [i for i, y in enumerate(labels) if not y]
    out: list[list[int]] = [[] for _ in range(3)]
    for k, i in enumerate(anomalous):
        out[min(k // 2, 2)].append(i)
    for k, i in enumerate(normal):
        out[min(k, 2)].append(i)
    return out


def subset(bags: BagSet, index: list[int]) -> BagSet:
    """The bags of the videos at ``index`` (every crop bag of each with ``per_crop_bags``)."""
    at = torch.tensor([v * bags.crops + c for v in index for c in range(bags.crops)])
    return BagSet(metas=[bags.metas[i] for i in at.tolist()], labels=bags.labels[at],
                  segments={b: x[at] for b, x in bags.segments.items()}, crops=bags.crops)


class Curve:
    """A validator that records the held-out AUC and always prefers the latest epoch, so the
    stage returns its last epoch (the default protocol) while the curve is written down."""

    def __init__(self, videos, table, cfg: DakdConfig) -> None:
        self.videos, self.table, self.cfg, self.values = videos, table, cfg, []

    def __call__(self, model) -> float:
        results = score_videos(model, self.videos, self.table, self.cfg.evaluate, self.cfg.features.segments,
                               torch.device("cpu"))
        self.values.append(frame_metrics(results)["auc"])
        return float(len(self.values))


def run_fold(cfg: DakdConfig, bags: BagSet, videos: list, table: dict, train_idx: list[int], held: list[int],
             stages: str) -> dict[str, Any]:
    device = torch.device("cpu")
    train = subset(bags, train_idx)
    held_videos = [videos[i] for i in held]
    out: dict[str, Any] = {}
    curve = Curve(held_videos, table, cfg)
    start = time.perf_counter()
    teacher, history, _ = train_teacher(cfg, dataclasses.replace(train, segments={
        b: train.segments[b] for b in cfg.teacher.backbones}), device, False, curve)
    out["teacher"] = {"curve": curve.values, "loss": [h["loss"] for h in history],
                      "seconds": time.perf_counter() - start}
    if stages == "teacher":
        return out
    teacher_bags = dataclasses.replace(train, segments={b: train.segments[b] for b in cfg.teacher.backbones})
    scores, hidden = predict_bags(teacher, teacher_bags, device)
    # as run_pseudo_labels: one row per video (the mean of its crop bags), given to each of its bags
    per_video = train.per_video(scores.numpy())
    pseudo = np.stack([refine(s, v.label, cfg.pseudo_labels) for s, v in zip(per_video, train.videos)])
    repeat = np.repeat(np.arange(len(per_video)), train.crops)
    targets = DistillTargets(torch.from_numpy(pseudo[repeat]), torch.from_numpy(per_video[repeat]), hidden)
    student_bags = dataclasses.replace(train, segments={cfg.student.backbone: train.segments[cfg.student.backbone]})
    curve = Curve(held_videos, table, cfg)
    start = time.perf_counter()
    _, _, history, _ = train_student(cfg, student_bags, targets, device, False, curve)
    out["student"] = {"curve": curve.values, "loss": [h["loss"] for h in history],
                      "nce_active": float(np.mean([h["nce_active"] for h in history])),
                      "seconds": time.perf_counter() - start}
    return out


def held_out_table(data: Path, videos: list) -> dict[str, tuple[list, int]]:
    """Frame labels of the training videos: the official masks of the anomalous ones (whose true
    length then replaces the snippet count x 16 the import knew), zeros for the normal ones."""
    table = {}
    for video in videos:
        meta = video.meta
        mask = np.zeros(meta.num_frames, np.uint8)
        if meta.label:
            mask = np.load(data / "test_frame_mask" / f"{meta.video_id}.npy")
            video.meta = dataclasses.replace(meta, num_frames=int(mask.size))
        table[meta.video_id] = (mask_intervals(mask), int(mask.size))
    return table


def probe_fold(cfg: DakdConfig, videos: list, table: dict, train_idx: list[int], held: list[int]) -> dict[str, float]:
    out = {}
    sets = [[b] for b in BACKBONES] + [BACKBONES]
    for members in sets:
        probe = fit_probe([videos[i] for i in train_idx], members, cfg.probe, cfg.seed)
        results = align_scores([videos[i] for i in held], lambda v: probe_scores(probe, v, members), table)
        out["+".join(members)] = frame_metrics(results)["auc"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared ped2 folder")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for the imported shards")
    parser.add_argument("--variants", nargs="+", default=["paper"], choices=sorted(VARIANTS))
    parser.add_argument("--set", nargs="*", default=[], help="extra dotted changes for every variant")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--stages", choices=["teacher", "both"], default="both")
    parser.add_argument("--every", type=int, default=10, help="validate every N epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shards = import_ped2(args.data, args.work)
    bags = load_bags(shards, BACKBONES, "train")
    videos = load_snippet_videos(shards, BACKBONES, "train")
    assert [v.meta.video_id for v in videos] == bags.video_ids
    table = held_out_table(args.data, videos)
    splits = folds(bags.labels.tolist())
    report: dict[str, Any] = {"machine": platform.processor() or platform.machine(), "code": code_version(),
                              "folds": [[bags.video_ids[i] for i in f] for f in splits], "variants": {}}
    base = DakdConfig.from_dict(apply_overrides(BASE, [f"validation.every={args.every}"]))
    report["probe"] = [probe_fold(base, videos, table, [i for i in range(len(bags)) if i not in held], held)
                       for held in splits]
    print("probe:", {k: round(100 * np.mean([p[k] for p in report["probe"]]), 1) for k in report["probe"][0]},
          "per fold:", [round(100 * p["mnv1"], 1) for p in report["probe"]], flush=True)
    for name in args.variants:
        cfg = DakdConfig.from_dict(apply_overrides(BASE, [f"validation.every={args.every}", *VARIANTS[name],
                                                          *args.set]))
        runs = []
        bags = load_bags(shards, BACKBONES, "train", cfg.features.segments, cfg.features.crop)
        videos = load_snippet_videos(shards, BACKBONES, "train", cfg.features.crop)
        table = held_out_table(args.data, videos)
        for seed in args.seeds:
            seeded = dataclasses.replace(cfg, seed=seed)
            for k, held in enumerate(splits):
                train_idx = [i for i in range(len(bags.videos)) if i not in held]
                runs.append({"seed": seed, "fold": k, **run_fold(seeded, bags, videos, table, train_idx, held,
                                                                   args.stages)})
        report["variants"][name] = {"changes": VARIANTS[name] + args.set, "every": args.every, "runs": runs}
        summarize(name, runs, args.every)
        write_json(args.out, report)


def summarize(name: str, runs: list[dict[str, Any]], every: int) -> None:
    for stage in ("teacher", "student"):
        curves = np.array([r[stage]["curve"] for r in runs if stage in r], dtype=float)
        if curves.size == 0:
            continue
        mean = curves.mean(axis=0)
        # spread over seeds of the fold-mean curve
        seeds = sorted({r["seed"] for r in runs})
        by_seed = np.array([np.mean([r[stage]["curve"] for r in runs if r["seed"] == s], axis=0) for s in seeds])
        picks = sorted({0, len(mean) // 4, len(mean) // 2, len(mean) - 1})
        points = ", ".join(f"e{(i + 1) * every}: {100 * mean[i]:.1f}±{100 * by_seed[:, i].std():.1f}" for i in picks)
        folds_last = [100 * np.mean([r[stage]["curve"][-1] for r in runs if r["fold"] == k]) for k in range(3)]
        print(f"{name} {stage}: {points}; last epoch per fold: {np.round(folds_last, 1).tolist()}", flush=True)


if __name__ == "__main__":
    main()
