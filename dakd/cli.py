"""``dakd`` command line: one subcommand per pipeline stage, each reading and writing files."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import DakdConfig, load_config
from .errors import DakdError


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="config.yaml (paper defaults when omitted)")
    parser.add_argument("--dataset", help="apply this dataset's overrides from the config's 'datasets' section")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set student.distill.tau=0.5 (repeatable)")
    parser.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:1)")


def _common(parser: argparse.ArgumentParser) -> None:
    _config_options(parser)
    parser.add_argument("--features", nargs="+", required=True, help="feature shards or directories of shards")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _config(args: argparse.Namespace) -> DakdConfig:
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    return load_config(args.config, overrides, dataset=args.dataset)


def _train_teacher(args: argparse.Namespace) -> None:
    from .stages import run_train_teacher

    run_train_teacher(_config(args), args.features, args.out, progress=not args.no_progress,
                      annotations=args.annotations)


def _pseudo_labels(args: argparse.Namespace) -> None:
    from .stages import run_pseudo_labels

    run_pseudo_labels(_config(args), args.features, args.teacher, args.out)


def _train_student(args: argparse.Namespace) -> None:
    from .stages import run_train_student

    cfg = _config(args)
    diagnostics = run_train_student(cfg, args.features, args.teacher, args.pseudo_labels, args.out,
                                    progress=not args.no_progress, annotations=args.annotations)
    distill = cfg.student.distill
    if distill.use_nce:
        print(f"student: L_nce active in {100 * diagnostics['nce_active_fraction']:.1f}% of training batches "
              f"(anchors: {distill.anchors} >= delta {distill.delta})")


def _evaluate(args: argparse.Namespace) -> None:
    from .stages import run_evaluate

    report = run_evaluate(_config(args), args.features, args.annotations, args.model, args.out,
                          split=args.split, scores_out=args.scores_out)
    auc = "n/a" if report["auc"] is None else f"{report['auc']:.4f}"
    ap = "n/a" if report["ap"] is None else f"{report['ap']:.4f}"
    print(f"{report['model']}: frame AUC {auc}, AP {ap} over {report['num_videos']} {args.split} videos")


def _extract(args: argparse.Namespace) -> None:
    from .extract import run_extract
    from .ids import allowed_splits
    from .runtime import resolve_device

    cfg = _config(args)
    failures = run_extract(cfg.extract, args.manifest, args.out_dir, resolve_device(cfg.device),
                           shards=args.shard, progress=not args.no_progress, seed=cfg.seed,
                           splits=allowed_splits(cfg.validation.split))
    for failure in failures:
        print(f"failed: {failure['reason']}", file=sys.stderr)
    if failures and not args.tolerate_failures:
        raise DakdError(f"{len(failures)} video(s) failed (listed in the shards' .failures.json); "
                        "rerun with --tolerate-failures to accept the shards without them")


def _make_demo(args: argparse.Namespace) -> None:
    from .config import ConfigError, dataset_entry
    from .datasets.demo import DemoSpec, make_demo

    options = (dataset_entry(args.config, args.dataset).get("options") or {}) if args.config else {}
    try:
        spec = DemoSpec(**{"seed": args.seed, **options})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{args.config}: datasets.{args.dataset}.options: {exc}") from None
    index = make_demo(args.out_dir, spec)
    print(f"wrote the demo data set: {index}")


def _index_dataset(args: argparse.Namespace) -> None:
    from .config import ConfigError, dataset_entry
    from .datasets import index_dataset, write_index

    spec = dataset_entry(args.config, args.dataset)
    missing = [k for k in ("kind", "root") if k not in spec]
    if missing:
        raise ConfigError(f"{args.config}: dataset {args.dataset!r} lacks {missing}")
    index = index_dataset(spec["kind"], spec["root"], spec.get("options"))
    write_index(index, args.manifest, args.annotations)
    splits = {s: sum(v.split == s for v in index.videos) for s in sorted({v.split for v in index.videos})}
    print(f"{args.dataset}: {len(index.videos)} videos {splits}")


def _per_backbone(values: Sequence[str], option: str) -> dict[str | None, str]:
    """``NAME=VALUE`` items by backbone; a bare ``VALUE`` is stored under None (every backbone)."""
    out: dict[str | None, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        out[name if sep else None] = value if sep else name
    if option in ("--train", "--test") and None in out:
        raise DakdError(f"{option} takes BACKBONE=LIST, got {out[None]!r}")
    return out


def _import_features(args: argparse.Namespace) -> None:
    from .config import ConfigError, dataset_entry
    from .features.community import import_features, sources_from_mapping

    if args.dataset:
        if not args.config:
            raise ConfigError("--dataset needs --config")
        spec = dataset_entry(args.config, args.dataset)
        if spec.get("kind") != "features":
            raise ConfigError(f"{args.config}: dataset {args.dataset!r} is kind {spec.get('kind')!r}, "
                              "not 'features' (pre-extracted features to import)")
        mapping = dict(spec)
    else:
        lists = {split: _per_backbone(getattr(args, split), f"--{split}") for split in ("train", "test")}
        roots, layouts = _per_backbone(args.feature_root, "--feature-root"), _per_backbone(args.layout, "--layout")
        names = list(dict.fromkeys([*lists["train"], *lists["test"]]))
        mapping = {"naming": args.kind, "ground_truth": args.gt,
                   "sources": {n: {**{sp: lists[sp][n] for sp in lists if n in lists[sp]},
                                   "feature_root": roots.get(n, roots.get(None)),
                                   "layout": layouts.get(n, layouts.get(None, "auto"))} for n in names}}
    if args.all_crops:  # every crop file on disk, not only the listed ones, for every source
        mapping["sources"] = {n: {**(e or {}), "crops": "all"} for n, e in (mapping.get("sources") or {}).items()}
    flags = {"snippet_len": args.snippet_len, "fps": args.fps, "shard_size": args.shard_size,
             "trim_to_shortest": args.trim_to_shortest or None}
    mapping["options"] = {**(mapping.get("options") or {}), **{k: v for k, v in flags.items() if v is not None}}
    sources, settings, gt = sources_from_mapping(mapping, args.config or "command line")
    if gt is not None and not args.annotations:
        raise DakdError("ground truth given: --annotations names the frame-label Parquet to write")
    shards = import_features(sources, settings, args.out_dir, gt, args.annotations, progress=not args.no_progress)
    print(f"wrote {len(shards)} shard(s) to {args.out_dir}" + (f" and {args.annotations}" if gt else ""))


def _export_features(args: argparse.Namespace) -> None:
    from .features.community import export_features
    from .stages import expand_shards

    written = export_features(expand_shards(args.features), args.backbone, args.out_dir, args.annotations)
    for split, path in written["lists"].items():
        print(f"{split}: {path}")
    if "ground_truth" in written:
        print(f"ground truth: {written['ground_truth']}")


def _tabulate(args: argparse.Namespace) -> None:
    from .config import read_config_file
    from .reproduce import tabulate

    paths = tabulate(read_config_file(args.config), args.dataset, args.study, args.runs_root, args.out_dir,
                     args.config)
    print(paths["markdown"].read_text())


def _plot(args: argparse.Namespace) -> None:
    from .plots import plot_roc, plot_timelines

    plot_roc(args.scores, args.result, args.roc_out)
    plot_timelines(args.scores, args.timeline_out)


def _score(args: argparse.Namespace) -> None:
    from .config import ConfigError
    from .runtime import resolve_device
    from .scoring.run import ScoreOptions, run_score

    if args.dataset and not args.config:
        raise ConfigError("--dataset needs --config")
    flags = {"threshold": args.threshold, "min_gap_s": args.min_gap, "min_duration_s": args.min_duration,
             "window": args.window}
    args.overrides = list(args.overrides) + [f"score.{k}={v}" for k, v in flags.items() if v is not None]
    cfg = _config(args)
    score = cfg.score
    options = ScoreOptions(threshold=score.threshold, min_gap_s=score.min_gap_s, min_duration_s=score.min_duration_s,
                           overlay=args.overlay, online=args.online, window=score.window, realtime=args.realtime,
                           jsonl=args.jsonl, input_format=args.input_format, stream_timeout_s=args.stream_timeout,
                           tolerate_failures=args.tolerate_failures)
    # A config names the extraction to check against the model's; without one, the model's own is rebuilt.
    requested = (cfg.extract, cfg.seed) if args.config else (None, None)
    run_score(args.model, args.inputs, args.out, resolve_device(cfg.device), options, *requested)


def _score_summary(args: argparse.Namespace) -> None:
    from .scoring.outputs import summarise

    total = summarise(args.reports, args.out)["total"]
    print(f"wrote {args.out}: {total['videos']} videos, {total['intervals']} intervals "
          f"({total['alert_s']:.1f} s of {total['duration_s']:.1f} s)")


def _operating_points(args: argparse.Namespace) -> None:
    from .operating_points import describe, resolve_threshold, sidecar_path
    from .stages import run_operating_points

    out = args.out or sidecar_path(args.model)
    points = run_operating_points(args.features, args.model, args.annotations, out, args.device or "auto")
    values = ", ".join(f"{name} {resolve_threshold(name, points, '')[0]:.4g}" for name in describe(points))
    print(f"wrote {out}: {values} (best F1 from {points['f1']['source']})")


def _export_model(args: argparse.Namespace) -> None:
    from .runtime import resolve_device
    from .scoring.export import export_model

    meta = export_model(args.model, args.format, args.out, resolve_device(args.device or "cpu"))
    print(f"wrote {args.out} ({args.format}): inputs {', '.join(meta['inputs'])} -> snippet scores")


def _synthetic(args: argparse.Namespace) -> None:
    from .synthetic import SyntheticSpec, make_synthetic_dataset

    spec = SyntheticSpec(seed=args.seed, shuffle_train_labels=args.shuffle_labels, signal=args.signal)
    shards, annotations = make_synthetic_dataset(args.out_dir, spec)
    print(f"wrote {len(shards)} shard(s) and {annotations}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dakd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dakd {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"show tracebacks (or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], None], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("train-teacher", _train_teacher, "stage 1: train the multi-backbone teacher with the MIL ranking loss")
    _common(p)
    p.add_argument("--annotations", help="frame annotations, needed when validation.split is set")
    p = add("pseudo-labels", _pseudo_labels, "score training videos with the teacher and refine into pseudo-labels")
    _common(p)
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    p = add("train-student", _train_student, "stage 2: distil the teacher into a single-backbone student")
    _common(p)
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    p.add_argument("--pseudo-labels", required=True, help="pseudo_labels.parquet from the pseudo-labels stage")
    p.add_argument("--annotations", help="frame annotations, needed when validation.split is set")
    p = add("evaluate", _evaluate, "frame-level AUC / AP of a checkpoint on a split")
    _common(p)
    p.add_argument("--model", required=True, help="teacher or student checkpoint")
    p.add_argument("--annotations", required=True, help="frame annotations Parquet")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--scores-out", help="also write per-video snippet scores to this Parquet file")
    p = add("extract", _extract, "decode videos and write backbone feature shards")
    _config_options(p)
    p.add_argument("--manifest", required=True, help="CSV with video_id,path,split,label,class_name")
    p.add_argument("--out-dir", required=True, help="directory for shard-NNNNN.parquet files")
    p.add_argument("--shard", type=int, nargs="+", help="shard numbers to extract (default: all)")
    p.add_argument("--tolerate-failures", action="store_true", help="exit 0 even when some videos failed")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p = add("make-demo", _make_demo, "write the synthetic demo videos and their labels")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="config.yaml; the dataset's 'options' set the demo's size")
    p.add_argument("--dataset", default="demo", help="name under 'datasets' (default: demo)")
    p = add("index-dataset", _index_dataset, "parse a dataset's files into a video manifest and frame annotations")
    p.add_argument("--config", required=True, help="config.yaml with a 'datasets' section")
    p.add_argument("--dataset", required=True, help="name under 'datasets'")
    p.add_argument("--manifest", required=True, help="output videos.csv")
    p.add_argument("--annotations", required=True, help="output annotations.parquet")
    p = add("import-features", _import_features,
            "convert released per-video .npy features (RTFM, UR-DMU, VadCLIP, PEL4VAD) into feature shards")
    p.add_argument("--config", help="config.yaml; with --dataset, the sources come from that 'features' dataset")
    p.add_argument("--dataset", help="a dataset of kind 'features' in the config")
    p.add_argument("--kind", choices=["ucf_crime", "shanghaitech", "xd_violence"],
                   help="naming rule for labels read from file names (.list files)")
    p.add_argument("--train", action="append", default=[], metavar="BACKBONE=LIST",
                   help="training list of a backbone (.list of paths or CSV path,label); repeat per backbone")
    p.add_argument("--test", action="append", default=[], metavar="BACKBONE=LIST", help="test list, as --train")
    p.add_argument("--feature-root", action="append", default=[], metavar="[BACKBONE=]DIR",
                   help="directory holding the files when the list's paths point elsewhere")
    p.add_argument("--layout", action="append", default=[], metavar="[BACKBONE=]LAYOUT",
                   help="auto (default), rtfm (T,crops,D), per_crop (__0..__N files of (T,D)), center (T,D)")
    p.add_argument("--gt", help="test frame labels: a concatenated vector (gt-ucf.npy, gt-sh.npy, gt.npy) or a "
                   "folder of per-video files (<video>.npy, <video>__N_gt.npy)")
    p.add_argument("--annotations", help="output annotations.parquet (needed with a ground truth)")
    p.add_argument("--out-dir", required=True, help="directory for shard-NNNNN.parquet files")
    p.add_argument("--snippet-len", type=int, help="frames per feature snippet (default 16)")
    p.add_argument("--fps", type=float, help="frame rate to record (the .npy files do not carry it; default 30)")
    p.add_argument("--shard-size", type=int, help="videos per shard (default 16: a ten-crop UCF-Crime video is ~40 MB)")
    p.add_argument("--trim-to-shortest", action="store_true",
                   help="cut backbones whose snippet counts differ for a video to the shortest")
    p.add_argument("--all-crops", action="store_true",
                   help="take every __N crop file on disk, not only the crops the lists name")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p = add("export-features", _export_features, "write one backbone of feature shards in the RTFM .npy layout")
    p.add_argument("--features", nargs="+", required=True, help="feature shards or directories of shards")
    p.add_argument("--backbone", required=True, help="backbone column to export")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--annotations", help="annotations.parquet: also write the test ground truth gt-test.npy")
    p = add("tabulate", _tabulate, "a study's mean ± std over seeds as CSV, Markdown and a plot (paper tables)")
    p.add_argument("--config", required=True, help="config.yaml with 'reproduce' and 'datasets' sections")
    p.add_argument("--dataset", required=True, help="name under 'datasets'")
    p.add_argument("--study", required=True, help="name under reproduce.studies (table1, figure5_tau, ...)")
    p.add_argument("--runs-root", required=True, help="directory of the runs (results/<dataset>/runs)")
    p.add_argument("--out-dir", required=True, help="directory for <study>.csv, <study>_runs.csv, .md, .png")
    p = add("score", _score, "score videos, folders, patterns or (--online) streams with a trained model: "
            "per-frame scores, anomalous intervals and a timeline per video")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="video files, folders of videos, glob patterns; with "
                   "--online also stream URLs (rtsp://, http://) or capture devices (with --input-format)")
    p.add_argument("--model", required=True, help="student.pt or teacher.pt")
    p.add_argument("--out", required=True, help="folder for <video>.scores.parquet, <video>.json and <video>.png")
    p.add_argument("--config", help="config.yaml: its extract settings are checked against the model's, its "
                   "'score' section gives the defaults below (without it: the model's own extraction)")
    p.add_argument("--dataset", help="apply this dataset's overrides from the config's 'datasets' section")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1")
    p.add_argument("--threshold", help="a number, f1 or fpr:RATE (an operating point of the model; default f1)")
    p.add_argument("--min-gap", type=float, help="merge alerts less than this many seconds apart (default 1)")
    p.add_argument("--min-duration", type=float, help="drop intervals shorter than this many seconds (default 0)")
    p.add_argument("--overlay", action="store_true", help="also write <video>.overlay.mp4 with the score burned in")
    p.add_argument("--online", action="store_true", help="decode with PyAV and score each snippet causally as it "
                   "arrives, one JSON line per snippet")
    p.add_argument("--window", type=int, help="online: score from the last W snippets (default 32)")
    p.add_argument("--realtime", action="store_true", help="online: read files at their frame rate")
    p.add_argument("--jsonl", default="-", help="online: file for the per-snippet records (default: stdout)")
    p.add_argument("--input-format", help="online: FFmpeg input format of a capture device (v4l2, avfoundation, "
                   "dshow); every PATH is then a device")
    p.add_argument("--stream-timeout", type=float, default=10.0,
                   help="online: seconds to wait for a stream to open or deliver data (default 10)")
    p.add_argument("--tolerate-failures", action="store_true", help="exit 0 even when some sources failed")
    p = add("score-summary", _score_summary, "one JSON summarising many <video>.json files of dakd score")
    p.add_argument("reports", nargs="+", metavar="JSON", help="<video>.json files written by dakd score")
    p.add_argument("--out", required=True, help="output JSON")
    p = add("operating-points", _operating_points, "compute a checkpoint's alert thresholds (best F1 on the "
            "validation split or the training labels, false-alarm rates on normal training videos), with the "
            "settings it was trained with")
    p.add_argument("--features", nargs="+", required=True, help="the feature shards the model was trained on")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1")
    p.add_argument("--model", required=True, help="teacher or student checkpoint")
    p.add_argument("--annotations", help="frame annotations, for best F1 on validation.split")
    p.add_argument("--out", help="output JSON (default: <checkpoint stem>.operating_points.json beside it)")
    p = add("export-model", _export_model, "write a model and its backbone encoders as one TorchScript or ONNX file: "
            "preprocessed clips in, snippet scores out")
    p.add_argument("--model", required=True, help="student.pt or teacher.pt")
    p.add_argument("--format", required=True, choices=["torchscript", "onnx"])
    p.add_argument("--out", required=True, help="output file (.pt for TorchScript, .onnx)")
    p.add_argument("--device", help="device to trace on (default cpu)")
    p = add("plot", _plot, "ROC curve and score timelines from an evaluation")
    p.add_argument("--scores", required=True, help="scores Parquet written by evaluate --scores-out")
    p.add_argument("--result", required=True, help="result JSON written by evaluate")
    p.add_argument("--roc-out", required=True)
    p.add_argument("--timeline-out", required=True)
    p = add("synthetic-features", _synthetic, "write synthetic shards with planted anomalies (smoke tests)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--signal", type=float, default=1.5)
    p.add_argument("--shuffle-labels", action="store_true", help="permute training labels (a negative control)")
    return parser


DEBUG_ENV = "DAKD_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user's error (DakdError) is one line on stderr and exit code 2; any
    other exception is a bug: one line and exit code 1. ``--debug`` or DAKD_DEBUG=1 shows
    the traceback instead."""
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        args.handler(args)
    except DakdError as exc:
        if debug:
            raise
        print(f"dakd {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dakd {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not the user's input: say so without a wall of text
        if debug:
            raise
        print(f"dakd {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              f"(rerun with --debug or {DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
