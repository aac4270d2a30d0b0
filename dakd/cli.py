"""``dakd`` command line: one subcommand per pipeline stage, each reading and writing files."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__, commands
from .atomic import FULL
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


Add = Callable[..., argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dakd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dakd {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"show tracebacks (or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], None], help_text: str,
            computes: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        if computes:
            p.add_argument("--threads", type=int, metavar="N",
                           help="CPU threads for torch and its libraries (default: torch's own choice)")
        return p

    for group in (_training_commands, _data_commands, _feature_commands, _scoring_commands, _other_commands):
        group(add)
    return parser


def _training_commands(add: Add) -> None:
    p = add("train-teacher", commands.train_teacher,
            "stage 1: train the multi-backbone teacher with the MIL ranking loss")
    _common(p)
    p.add_argument("--annotations", help="frame annotations, needed when validation.split is set")
    p = add("pseudo-labels", commands.pseudo_labels,
            "score training videos with the teacher and refine into pseudo-labels")
    _common(p)
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    p = add("train-student", commands.train_student, "stage 2: distil the teacher into a single-backbone student")
    _common(p)
    p.add_argument("--teacher", required=True, help="teacher checkpoint")
    p.add_argument("--pseudo-labels", required=True, help="pseudo_labels.parquet from the pseudo-labels stage")
    p.add_argument("--annotations", help="frame annotations, needed when validation.split is set")
    p = add("evaluate", commands.evaluate, "frame-level AUC / AP of a checkpoint on a split")
    _common(p)
    p.add_argument("--model", required=True, help="teacher or student checkpoint")
    p.add_argument("--annotations", required=True, help="frame annotations Parquet")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--scores-out", help="also write per-video snippet scores to this Parquet file")
    p = add("probe", commands.probe, "the linear probe: a logistic regression on single snippets labelled with "
            "their video's label, evaluated as the models are (the tables' reference)")
    _common(p)
    p.add_argument("--annotations", required=True, help="frame annotations Parquet")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--scores-out", help="also write the last probe's per-video snippet scores to this Parquet file")


def _data_commands(add: Add) -> None:
    p = add("extract", commands.extract, "decode videos and write backbone feature shards")
    _config_options(p)
    p.add_argument("--manifest", required=True, help="CSV with video_id,path,split,label,class_name")
    p.add_argument("--out-dir", required=True, help="directory for shard-NNNNN.parquet files")
    p.add_argument("--shard", type=int, nargs="+", help="shard numbers to extract (default: all)")
    p.add_argument("--tolerate-failures", action="store_true", help="exit 0 even when some videos failed")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p = add("make-demo", commands.make_demo, "write the synthetic demo videos and their labels")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="config.yaml; the dataset's 'options' set the demo's size")
    p.add_argument("--dataset", default="demo", help="name under 'datasets' (default: demo)")
    p = add("index-dataset", commands.index_dataset,
            "parse a dataset's files into a video manifest and frame annotations", computes=False)
    p.add_argument("--config", required=True, help="config.yaml with a 'datasets' section")
    p.add_argument("--dataset", required=True, help="name under 'datasets'")
    p.add_argument("--manifest", required=True, help="output videos.csv")
    p.add_argument("--annotations", required=True, help="output annotations.parquet")


def _backbone_choice(choices: Sequence[str]) -> Callable[[str], str]:
    """An argparse type for ``[BACKBONE=]VALUE`` whose value must be one of ``choices``."""
    def parse(item: str) -> str:
        value = item.partition("=")[2] if "=" in item else item
        if value not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(choices)})")
        return item

    return parse


def _feature_commands(add: Add) -> None:
    from .datasets.naming import LABEL_RULES
    from .released.layouts import LAYOUTS

    p = add("import-features", commands.import_features,
            "convert released per-video .npy features (RTFM, UR-DMU, VadCLIP, PEL4VAD) into feature shards")
    p.add_argument("--config", help="config.yaml; with --dataset, the sources come from that 'features' dataset")
    p.add_argument("--dataset", help="a dataset of kind 'features' in the config")
    p.add_argument("--kind", choices=LABEL_RULES.names(),
                   help="naming rule for labels read from file names (.list files without a label column)")
    p.add_argument("--anomalous-first", action="append", default=[], metavar="SPLIT=N",
                   help="the first N videos of that split's lists are anomalous, the rest normal (RTFM's UCF-Crime "
                   "train list: train=810); without it, --kind or a label column, test labels come from --gt")
    p.add_argument("--train", action="append", default=[], metavar="BACKBONE=LIST",
                   help="training list of a backbone (.list of paths or CSV path,label); repeat per backbone")
    p.add_argument("--test", action="append", default=[], metavar="BACKBONE=LIST", help="test list, as --train")
    p.add_argument("--feature-root", action="append", default=[], metavar="[BACKBONE=]DIR",
                   help="directory holding the files when the list's paths point elsewhere")
    p.add_argument("--layout", action="append", default=[], metavar="[BACKBONE=]LAYOUT", type=_backbone_choice(LAYOUTS),
                   help="auto (default), rtfm (T,crops,D), per_crop (__0..__N files of (T,D)), center (T,D)")
    p.add_argument("--tag", action="append", default=[], metavar="[BACKBONE=]TAG",
                   help="extractor tag the file names end in (Video_TAG.npy; default: the backbone's name)")
    p.add_argument("--gt", help="test frame labels: a concatenated vector (gt-ucf.npy, gt-sh.npy, gt.npy) or a "
                   "folder of per-video files (<video>.npy, <video>__N_gt.npy)")
    p.add_argument("--compare-gt", help="a second ground truth of the same test videos: the import says how it "
                   "differs from --gt (shifted intervals, labelled padding); only --gt is written")
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
    p = add("export-features", commands.export_features, "write one backbone of feature shards in the RTFM .npy layout")
    p.add_argument("--features", nargs="+", required=True, help="feature shards or directories of shards")
    p.add_argument("--backbone", required=True, help="backbone column to export")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--annotations", help="annotations.parquet: also write the test ground truth gt-test.npy")


def _scoring_commands(add: Add) -> None:
    p = add("score", commands.score, "score videos, folders, patterns or (--online) streams with a trained model: "
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
    p = add("score-summary", commands.score_summary, "one JSON summarising many <video>.json files of dakd score",
            computes=False)
    p.add_argument("reports", nargs="+", metavar="JSON", help="<video>.json files written by dakd score")
    p.add_argument("--out", required=True, help="output JSON")


def _other_commands(add: Add) -> None:
    p = add("operating-points", commands.operating_points, "compute a checkpoint's alert thresholds (best F1 on the "
            "validation split or the training labels, false-alarm rates on normal training videos), with the "
            "settings it was trained with")
    p.add_argument("--features", nargs="+", required=True, help="the feature shards the model was trained on")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1")
    p.add_argument("--model", required=True, help="teacher or student checkpoint")
    p.add_argument("--annotations", help="frame annotations, for best F1 on validation.split")
    p.add_argument("--out", help="output JSON (default: <checkpoint stem>.operating_points.json beside it)")
    p = add("export-model", commands.export_model, "write a model and its backbone encoders as one TorchScript or "
            "ONNX file: preprocessed clips in, snippet scores out")
    p.add_argument("--model", required=True, help="student.pt or teacher.pt")
    p.add_argument("--format", required=True, choices=["torchscript", "onnx"])
    p.add_argument("--out", required=True, help="output file (.pt for TorchScript, .onnx)")
    p.add_argument("--device", help="device to trace on (default cpu)")
    p = add("tabulate", commands.tabulate, "a study's mean ± std over seeds as CSV, Markdown and a plot (paper tables)",
            computes=False)
    p.add_argument("--config", required=True, help="config.yaml with 'reproduce' and 'datasets' sections")
    p.add_argument("--dataset", required=True, help="name under 'datasets'")
    p.add_argument("--study", required=True, help="name under reproduce.studies (table1, figure5_tau, ...)")
    p.add_argument("--runs-root", required=True, help="directory of the runs (results/<dataset>/runs)")
    p.add_argument("--out-dir", required=True, help="directory for <study>.csv, <study>_runs.csv, .md, .png")
    p.add_argument("--probe", help="probe_auc.json (dakd probe): the linear probe's numbers, set beside the rows")
    p = add("plot", commands.plot, "ROC curve and score timelines from an evaluation", computes=False)
    p.add_argument("--scores", required=True, help="scores Parquet written by evaluate --scores-out")
    p.add_argument("--result", required=True, help="result JSON written by evaluate")
    p.add_argument("--roc-out", required=True)
    p.add_argument("--timeline-out", required=True)
    p = add("synthetic-features", commands.synthetic, "write synthetic shards with planted anomalies (smoke tests)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--signal", type=float, default=1.5)
    p.add_argument("--shuffle-labels", action="store_true", help="permute training labels (a negative control)")


DEBUG_ENV = "DAKD_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user's error (DakdError) is one line on stderr and exit code 2; any
    other exception is a bug: one line and exit code 1. ``--debug`` or DAKD_DEBUG=1 shows
    the traceback instead."""
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        if getattr(args, "threads", None) is not None:
            from .runtime import use_threads

            use_threads(args.threads)
        args.handler(args)
    except DakdError as exc:
        if debug:
            raise
        print(f"dakd {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dakd {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if getattr(exc, "errno", None) in FULL:  # outside an atomic output, which names its file and the space
            where = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
            print(f"dakd {args.command}: error: no space left on the device{where}; free some space and rerun "
                  "(finished outputs are kept)", file=sys.stderr)
            return 2
        # a bug, not the user's input: say so without a wall of text
        print(f"dakd {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              f"(rerun with --debug or {DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
