"""What each ``dakd`` subcommand does with its parsed arguments: call the stage that owns the
work, print a line about what was written. Heavy modules are imported here, per command, so
that parsing stays fast. The arguments are defined in :mod:`dakd.cli`."""

from __future__ import annotations

import argparse
import sys

from .config import DakdConfig, load_config
from .errors import DakdError


def config_of(args: argparse.Namespace) -> DakdConfig:
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    return load_config(args.config, overrides, dataset=args.dataset)


def train_teacher(args: argparse.Namespace) -> None:
    from .stages import run_train_teacher

    run_train_teacher(config_of(args), args.features, args.out, progress=not args.no_progress,
                      annotations=args.annotations)


def pseudo_labels(args: argparse.Namespace) -> None:
    from .stages import run_pseudo_labels

    run_pseudo_labels(config_of(args), args.features, args.teacher, args.out)


def train_student(args: argparse.Namespace) -> None:
    from .stages import run_train_student

    cfg = config_of(args)
    diagnostics = run_train_student(cfg, args.features, args.teacher, args.pseudo_labels, args.out,
                                    progress=not args.no_progress, annotations=args.annotations)
    distill = cfg.student.distill
    if distill.use_nce:
        print(f"student: L_nce active in {100 * diagnostics['nce_active_fraction']:.1f}% of training batches "
              f"(anchors: {distill.anchors} >= delta {distill.delta})")


def evaluate(args: argparse.Namespace) -> None:
    from .stages import run_evaluate

    report = run_evaluate(config_of(args), args.features, args.annotations, args.model, args.out,
                          split=args.split, scores_out=args.scores_out)
    auc = "n/a" if report["auc"] is None else f"{report['auc']:.4f}"
    ap = "n/a" if report["ap"] is None else f"{report['ap']:.4f}"
    print(f"{report['model']}: frame AUC {auc}, AP {ap} over {report['num_videos']} {args.split} videos")


def probe(args: argparse.Namespace) -> None:
    from .probe import run_probe
    from .stages import expand_shards

    report = run_probe(config_of(args), expand_shards(args.features), args.annotations, args.out, split=args.split,
                       scores_out=args.scores_out)
    for name, result in report["probes"].items():
        value = "n/a" if result["value"] is None else f"{result['value']:.4f}"
        print(f"probe {name}: frame {report['metric'].upper()} {value} over {result['num_videos']} {args.split} videos")


def extract(args: argparse.Namespace) -> None:
    from .extract import run_extract
    from .ids import allowed_splits
    from .runtime import resolve_device

    cfg = config_of(args)
    failures = run_extract(cfg.extract, args.manifest, args.out_dir, resolve_device(cfg.device),
                           shards=args.shard, progress=not args.no_progress, seed=cfg.seed,
                           splits=allowed_splits(cfg.validation.split))
    for failure in failures:
        print(f"failed: {failure['reason']}", file=sys.stderr)
    if failures and not args.tolerate_failures:
        raise DakdError(f"{len(failures)} video(s) failed (listed in the shards' .failures.json); "
                        "rerun with --tolerate-failures to accept the shards without them")


def make_demo(args: argparse.Namespace) -> None:
    from .datasets.configured import make_configured_demo

    index = make_configured_demo(args.out_dir, args.seed, args.config, args.dataset)
    print(f"wrote the demo data set: {index}")


def index_dataset(args: argparse.Namespace) -> None:
    from .datasets.configured import index_configured_dataset
    from .videofiles import skipped_line

    index = index_configured_dataset(args.config, args.dataset, args.manifest, args.annotations)
    print(f"{args.dataset}: {len(index.videos)} videos {index.split_counts()}")
    if skipped := skipped_line(index.skipped):
        print(f"{args.dataset}: {skipped} in the video folders")


def import_features(args: argparse.Namespace) -> None:
    from .released.importer import import_features as run_import
    from .released.sources import mapping_from_config, mapping_from_options, plan_import

    mapping = (mapping_from_config(args.config, args.dataset) if args.dataset else
               mapping_from_options(args.kind, args.train, args.test, args.feature_root, args.layout, args.gt,
                                    args.tag, args.anomalous_first, args.compare_gt))
    options = {"snippet_len": args.snippet_len, "fps": args.fps, "shard_size": args.shard_size,
               "trim_to_shortest": args.trim_to_shortest or None}
    sources, settings, gt, compare = plan_import(mapping, args.config or "command line", args.all_crops, options)
    if gt is not None and not args.annotations:
        raise DakdError("ground truth given: --annotations names the frame-label Parquet to write")
    shards = run_import(sources, settings, args.out_dir, gt, args.annotations, progress=not args.no_progress,
                        compare_gt=compare)
    print(f"wrote {len(shards)} shard(s) to {args.out_dir}" + (f" and {args.annotations}" if gt else ""))


def export_features(args: argparse.Namespace) -> None:
    from .released.export import export_features as run_export
    from .stages import expand_shards

    written = run_export(expand_shards(args.features), args.backbone, args.out_dir, args.annotations)
    for split, path in written["lists"].items():
        print(f"{split}: {path}")
    if "ground_truth" in written:
        print(f"ground truth: {written['ground_truth']}")


def tabulate(args: argparse.Namespace) -> None:
    from .config import read_config_file
    from .report.tables import tabulate as run_tabulate

    paths = run_tabulate(read_config_file(args.config), args.dataset, args.study, args.runs_root, args.out_dir,
                         args.config, probe=args.probe)
    print(paths["markdown"].read_text())


def plot(args: argparse.Namespace) -> None:
    from .report.plots import plot_roc, plot_timelines

    plot_roc(args.scores, args.result, args.roc_out)
    plot_timelines(args.scores, args.timeline_out)


def score(args: argparse.Namespace) -> None:
    from .config import ConfigError
    from .runtime import resolve_device
    from .scoring.run import ScoreOptions, run_score

    if args.dataset and not args.config:
        raise ConfigError("--dataset needs --config")
    flags = {"threshold": args.threshold, "min_gap_s": args.min_gap, "min_duration_s": args.min_duration,
             "window": args.window}
    args.overrides = list(args.overrides) + [f"score.{k}={v}" for k, v in flags.items() if v is not None]
    cfg = config_of(args)
    score = cfg.score
    options = ScoreOptions(threshold=score.threshold, min_gap_s=score.min_gap_s, min_duration_s=score.min_duration_s,
                           overlay=args.overlay, online=args.online, window=score.window, realtime=args.realtime,
                           jsonl=args.jsonl, input_format=args.input_format, stream_timeout_s=args.stream_timeout,
                           tolerate_failures=args.tolerate_failures)
    # A config names the extraction to check against the model's; without one, the model's own is rebuilt.
    requested = (cfg.extract, cfg.seed) if args.config else (None, None)
    run_score(args.model, args.inputs, args.out, resolve_device(cfg.device), options, *requested)


def score_summary(args: argparse.Namespace) -> None:
    from .scoring.outputs import summarise

    total = summarise(args.reports, args.out)["total"]
    print(f"wrote {args.out}: {total['videos']} videos, {total['intervals']} intervals "
          f"({total['alert_s']:.1f} s of {total['duration_s']:.1f} s)")


def operating_points(args: argparse.Namespace) -> None:
    from .operating_points import describe, resolve_threshold, sidecar_path
    from .stages import run_operating_points

    out = args.out or sidecar_path(args.model)
    points = run_operating_points(args.features, args.model, args.annotations, out, args.device or "auto")
    values = ", ".join(f"{name} {resolve_threshold(name, points, '')[0]:.4g}" for name in describe(points))
    print(f"wrote {out}: {values} (best F1 from {points['f1']['source']})")


def export_model(args: argparse.Namespace) -> None:
    from .runtime import resolve_device
    from .scoring.export import export_model as run_export_model

    meta = run_export_model(args.model, args.format, args.out, resolve_device(args.device or "cpu"))
    print(f"wrote {args.out} ({args.format}): inputs {', '.join(meta['inputs'])} -> snippet scores")


def synthetic(args: argparse.Namespace) -> None:
    from .synthetic import SyntheticSpec, make_synthetic_dataset

    spec = SyntheticSpec(seed=args.seed, shuffle_train_labels=args.shuffle_labels, signal=args.signal)
    shards, annotations = make_synthetic_dataset(args.out_dir, spec)
    print(f"wrote {len(shards)} shard(s) and {annotations}")
