"""A corpus of bad inputs through the command line: every case must stop with exit code 2
and one line on stderr naming the file or the config key, with no traceback, and write
nothing a later stage would take as valid.

Each case builds its inputs in a fresh directory, runs ``dakd`` in-process (an exception
that is not the project's own error would surface as "internal error", exit 1) and checks
that its output file does not exist afterwards. A few cases run ``dakd`` as a process, to
check the real exit status and stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dakd.annotations import write_annotations
from dakd.cli import main
from dakd.features import BackboneInfo, VideoFeatures, VideoMeta, write_shard

DIMS = {"i3d": 8, "s3d": 8, "clip": 4}
TINY = {"model": {"width": 8, "heads": 2, "ffn_dim": 16},
        "optim": {"epochs": 1, "normal_per_batch": 2, "anomalous_per_batch": 2}}


def _meta(video_id: str, split: str, label: int, snippets: int = 6) -> VideoMeta:
    return VideoMeta(video_id, split, label, "Arrest" if label else "Normal", snippets * 16, 30.0, 16, 16, snippets,
                     16)


def _features(snippets: int, seed: int, crops: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal((snippets, crops, dim)).astype(np.float32) for name, dim in DIMS.items()}


def _write_shards(folder: Path, videos: list[VideoFeatures], crops: int = 1) -> Path:
    infos = [BackboneInfo(name, dim, crops, "synthetic") for name, dim in DIMS.items()]
    write_shard(folder / "shard-00000.parquet", videos, infos, {})
    return folder


def _videos() -> list[VideoFeatures]:
    plan = [("train", 0)] * 3 + [("train", 1)] * 3 + [("test", 0)] * 2 + [("test", 1)] * 2
    return [VideoFeatures(_meta(f"{split}{i}", split, label), _features(6, i)) for i, (split, label) in enumerate(plan)]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """Valid tiny shards, annotations, config and a trained teacher, which the cases corrupt one at a time."""
    root = tmp_path_factory.mktemp("good")
    features = _write_shards(root / "features", _videos())
    annotations = root / "annotations.parquet"
    write_annotations(annotations, {"test8": [(16, 48)], "test9": [(0, 32)], "test6": [], "test7": []})
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"teacher": TINY, "student": TINY}))
    teacher = root / "teacher.pt"
    assert main(["train-teacher", "--config", str(config), "--features", str(features), "--out", str(teacher),
                 "--no-progress"]) == 0
    return {"root": root, "features": features, "annotations": annotations, "config": config, "teacher": teacher}


@dataclass
class Case:
    """``setup(tmp, good)`` writes the bad input and returns (argv, the output that must not appear)."""

    name: str
    setup: Callable[[Path, dict[str, Path]], tuple[list[str], Path]]
    message: str  # a regex the one-line error must match


def _train(args: list[str] | None = None, features: str | None = None):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        out = tmp / "teacher.pt"
        return ["train-teacher", "--config", str(good["config"]), "--features", features or str(good["features"]),
                "--out", str(out), "--no-progress", *(args or [])], out
    return setup


def _with_set(item: str):
    return _train(["--set", item])


def _config_file(text: str, dataset: str | None = None):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        config = tmp / "config.yaml"
        config.write_text(text)
        out = tmp / "teacher.pt"
        return ["train-teacher", "--config", str(config), "--features", str(good["features"]), "--out", str(out),
                "--no-progress", *(["--dataset", dataset] if dataset else [])], out
    return setup


def _bad_shard(mutate: Callable[[Path], None]):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        folder = tmp / "features"
        folder.mkdir()
        mutate(folder)
        out = tmp / "teacher.pt"
        return ["train-teacher", "--config", str(good["config"]), "--features", str(folder), "--out", str(out),
                "--no-progress"], out
    return setup


def _nan_shard(folder: Path) -> None:
    videos = _videos()
    videos[4].features["s3d"][2, 0, 1] = np.nan
    infos = [BackboneInfo(name, dim, 1, "synthetic") for name, dim in DIMS.items()]
    # write_shard refuses NaN, so write the table as another tool would
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_shard(folder / "shard-00000.parquet", _videos(), infos, {})
    table = pq.read_table(folder / "shard-00000.parquet")
    column = table.column("feat__s3d").to_pylist()
    column[4] = videos[4].features["s3d"].reshape(-1).tolist()
    index = table.schema.get_field_index("feat__s3d")
    patched = table.set_column(index, table.schema.field(index), pa.array(column, pa.list_(pa.float32())))
    pq.write_table(patched.replace_schema_metadata(table.schema.metadata), folder / "shard-00000.parquet")


def _patched_shard(change: Callable):
    """A good shard whose table ``change`` edits as another tool would, keeping the dakd metadata."""
    def mutate(folder: Path) -> None:
        import pyarrow.parquet as pq

        path = _write_shards(folder, _videos()) / "shard-00000.parquet"
        table = pq.read_table(path)
        pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), path)
    return mutate


def _corrupt_shard(folder: Path) -> None:
    _write_shards(folder, [VideoFeatures(_meta(v.meta.video_id, v.meta.split, v.meta.label, 60), _features(60, i))
                           for i, v in enumerate(_videos())])
    path = folder / "shard-00000.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 1024] = bytes(1024)
    path.write_bytes(bytes(data))


def _evaluate(annotations: Callable[[Path], Path] | None = None, model: Callable[[Path, Path], Path] | None = None,
              args: list[str] | None = None):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        out = tmp / "auc.json"
        ann = annotations(tmp) if annotations else good["annotations"]
        checkpoint = model(tmp, good["teacher"]) if model else good["teacher"]
        return ["evaluate", "--config", str(good["config"]), "--features", str(good["features"]), "--model",
                str(checkpoint), "--annotations", str(ann), "--out", str(out), *(args or [])], out
    return setup


def _annotations(intervals: dict, num_frames: dict | None = None):
    def make(tmp: Path) -> Path:
        path = tmp / "ann.parquet"
        write_annotations(path, intervals, num_frames)
        return path
    return make


def _evil_checkpoint(tmp: Path, teacher: Path) -> Path:
    payload = torch.load(teacher, weights_only=True)

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {tmp / 'pwned'}",)

    payload["provenance"] = Exploit()
    torch.save(payload, tmp / "evil.pt")
    return tmp / "evil.pt"


def _cut_checkpoint(tmp: Path, teacher: Path) -> Path:
    data = teacher.read_bytes()
    (tmp / "cut.pt").write_bytes(data[: len(data) // 2])  # a copy that stopped half-way
    return tmp / "cut.pt"


def _junk_checkpoint(tmp: Path, teacher: Path) -> Path:
    (tmp / "junk.pt").write_text("not a checkpoint")
    return tmp / "junk.pt"


def _manifest(text: str, args: list[str] | None = None, encoding: str = "utf-8"):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        (tmp / "v.mp4").write_bytes(b"")
        manifest = tmp / "videos.csv"
        manifest.write_text(text, encoding=encoding)
        config = tmp / "config.yaml"
        config.write_text(yaml.safe_dump({"extract": {"backbones": {"clip": {"arch": "open_clip", "model": "ViT-B-16",
                                                                              "weights": "random", "size": 32}},
                                                      "crops": "center"}}))
        out = tmp / "features"
        return ["extract", "--config", str(config), "--manifest", str(manifest), "--out-dir", str(out),
                "--no-progress", *(args or [])], out / "shard-00000.parquet"
    return setup


HEADER = "video_id,path,split,label,class_name\n"


def _import(write: Callable[[Path], list[str]]):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        args = write(tmp)
        out = tmp / "imported"
        return ["import-features", "--kind", "ucf_crime", "--out-dir", str(out), "--no-progress", *args], \
            out / "shard-00000.parquet"
    return setup


def _released(tmp: Path, nan: bool = False, gt_frames: int | None = None, gt_order: str = "list") -> list[str]:
    """RTFM-layout files for 2 train and 2 test UCF-Crime videos, a list per split, and a ground truth."""
    names = {"train": ["Abuse001_x264", "Normal_Videos_001_x264"], "test": ["Arrest001_x264", "Normal_Videos_003_x264"]}
    for split, videos in names.items():
        for i, video in enumerate(videos):
            array = np.random.default_rng(i).standard_normal((4, 2, 8)).astype(np.float32)
            if nan and split == "train" and i == 1:
                array[1, 0, 3] = np.nan
            (tmp / f"{video}_i3d.npy").parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp / f"{video}_i3d.npy", array)
        (tmp / f"{split}.list").write_text("".join(f"{tmp / v}_i3d.npy\n" for v in videos))
    gt = {"Arrest001_x264": np.r_[np.zeros(16), np.ones(32), np.zeros(16)], "Normal_Videos_003_x264": np.zeros(64)}
    order = names["test"] if gt_order == "list" else list(reversed(names["test"]))
    vector = np.concatenate([gt[v] for v in order])[: gt_frames or None]
    np.save(tmp / "gt.npy", vector)
    return ["--train", f"i3d={tmp / 'train.list'}", "--test", f"i3d={tmp / 'test.list'}", "--gt", str(tmp / "gt.npy"),
            "--annotations", str(tmp / "ann.parquet")]


def _missing_file_list(tmp: Path) -> list[str]:
    args = _released(tmp)
    (tmp / "x.list").write_text("nope_i3d.npy\n")
    return [args[0], args[1], "--test", f"i3d={tmp / 'x.list'}"]


def _index(files: dict[str, str], kind: str = "ucf_crime", videos: tuple[str, ...] = ()):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        root = tmp / "data"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        for video in videos:
            (root / "videos" / video).parent.mkdir(parents=True, exist_ok=True)
            (root / "videos" / video).write_bytes(b"")
        config = tmp / "config.yaml"
        config.write_text(yaml.safe_dump({"datasets": {"mine": {"kind": kind, "root": str(root)}}}))
        out = tmp / "annotations.parquet"
        return ["index-dataset", "--config", str(config), "--dataset", "mine", "--manifest", str(tmp / "videos.csv"),
                "--annotations", str(out)], out
    return setup


UCF_VIDEOS = ("Abuse001_x264.mp4", "Normal_Videos308_x264.mp4", "Arrest001_x264.mp4", "Normal_Videos_003_x264.mp4")
UCF_TRAIN = "Abuse/Abuse001_x264.mp4\nTraining_Normal_Videos_Anomaly/Normal_Videos308_x264.mp4\n"
UCF_TEST = "Arrest001_x264.mp4  Arrest  10  40  -1  -1\nNormal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n"


def _export(video_id: str):
    def setup(tmp: Path, good: dict[str, Path]) -> tuple[list[str], Path]:
        folder = tmp / "features"
        import pyarrow as pa
        import pyarrow.parquet as pq

        _write_shards(folder, _videos())
        path = folder / "shard-00000.parquet"
        table = pq.read_table(path)
        ids = table.column("video_id").to_pylist()
        ids[0] = video_id
        index = table.schema.get_field_index("video_id")
        patched = table.set_column(index, table.schema.field(index), pa.array(ids, pa.string()))
        pq.write_table(patched.replace_schema_metadata(table.schema.metadata), path)
        out = tmp / "export"
        return ["export-features", "--features", str(folder), "--backbone", "i3d", "--out-dir", str(out)], out
    return setup


CASES = [
    # ---- configuration: values checked when the config loads, before any work
    Case("negative learning rate", _with_set("teacher.optim.lr_other=-1e-3"), r"teacher\.optim\.lr_other"),
    Case("zero temperature", _with_set("student.distill.tau=0"), r"student\.distill\.tau"),
    Case("zero epochs", _with_set("teacher.optim.epochs=0"), r"teacher\.optim\.epochs"),
    Case("zero segments", _with_set("features.segments=0"), r"features\.segments"),
    Case("empty batch", _with_set("teacher.optim.normal_per_batch=0"), r"teacher\.optim\.normal_per_batch"),
    Case("heads not dividing width", _with_set("teacher.model.heads=3"), r"teacher\.model.*heads"),
    Case("relative distance below 1", _with_set("teacher.model.max_relative_distance=0"),
         r"teacher\.model\.max_relative_distance"),
    Case("dropout of 1", _with_set("teacher.model.dropout=1.0"), r"teacher\.model\.dropout"),
    Case("crop index beyond the crops", _with_set("features.crop=12"), r"features\.crop"),
    Case("delta above 1", _with_set("student.distill.delta=1.5"), r"student\.distill\.delta"),
    Case("unknown evaluation unit", _with_set("evaluate.unit=frames"), r"evaluate\.unit"),
    Case("unknown precision", _with_set("teacher.optim.precision=fp16"), r"teacher\.optim\.precision"),
    Case("unknown device", _with_set("device=gpu"), r"device"),
    Case("misspelt key with a suggestion", _with_set("teacher.model.temprol=gru"), r"temprol.*temporal"),
    Case("override into a number", _train(["--set", "teacher=5", "--set", "teacher.optim.epochs=3"]), r"teacher"),
    Case("override without a value", _with_set("teacher.optim.epochs"), r"teacher\.optim\.epochs"),
    Case("boolean given as a number", _with_set("student.distill.use_nce=1"), r"student\.distill\.use_nce"),
    Case("config file that is not YAML", _config_file("teacher: [unclosed\n"), r"config\.yaml"),
    Case("misspelt top-level section", _config_file("teachr:\n  optim: {epochs: 1}\n"), r"teachr.*teacher"),
    Case("bad value in a dataset's overrides",
         _config_file(yaml.safe_dump({"datasets": {"d": {"kind": "ucf_crime", "root": "x", "overrides": {
             "teacher": {"optim": {"epochs": -1}}}}}}), dataset="d"), r"teacher\.optim\.epochs"),
    Case("unknown dataset", _config_file("datasets: {d: {kind: ucf_crime, root: x}}\n", dataset="e"), r"'e'"),
    Case("override given where the config file goes", lambda tmp, good: (
        ["train-teacher", "--config", "teacher.optim.epochs=5", "--features", str(good["features"]), "--out",
         str(tmp / "teacher.pt"), "--no-progress"], tmp / "teacher.pt"),
         r"teacher\.optim\.epochs=5: no such config file; --config takes a file, and one value is set with "
         r"--set teacher\.optim\.epochs=5"),
    Case("misspelt dotted key in a dataset's overrides",
         _config_file(yaml.safe_dump({"datasets": {"d": {"kind": "ucf_crime", "root": "x", "overrides": {
             "teacher.optim.epoch": 1}}}}), dataset="d"),
         r"datasets\.d\.overrides: teacher\.optim\.epoch: unknown key; did you mean 'epochs'\?"),
    # ---- feature shards
    Case("NaN in a shard", _bad_shard(_nan_shard), r"shard-00000\.parquet: video 'train4' backbone 's3d'.*non-finite"),
    Case("1 KB of corruption in a shard", _bad_shard(_corrupt_shard), r"shard-00000\.parquet"),
    Case("text file as a shard", _bad_shard(lambda f: (f / "shard-00000.parquet").write_text("hello")),
         r"shard-00000\.parquet: not a readable Parquet shard"),
    Case("empty feature folder", _bad_shard(lambda f: None), r"features: directory holds no \.parquet"),
    Case("missing feature folder", _train(features="/nonexistent/features"), r"/nonexistent/features"),
    Case("shard without a backbone", _bad_shard(lambda f: write_shard(
        f / "shard-00000.parquet", [VideoFeatures(_meta("a", "train", 0), {"i3d": np.zeros((6, 1, 8), np.float32)})],
        [BackboneInfo("i3d", 8, 1, "x")], {})), r"shard-00000\.parquet: no features for backbone"),
    Case("renamed column in a shard", _bad_shard(_patched_shard(lambda t: t.rename_columns(
        ["n_snippets" if n == "num_snippets" else n for n in t.column_names]))),
         r"shard-00000\.parquet: no column 'num_snippets' and has unexpected column\(s\) 'n_snippets'"),
    Case("shard without a column its metadata names", _bad_shard(_patched_shard(lambda t: t.drop_columns(
        ["feat__s3d"]))), r"shard-00000\.parquet: no column 'feat__s3d' \(backbone 's3d' of its metadata\)"),
    Case("crop index beyond a shard's crops", _train(["--set", "extract.crops=ten", "--set", "features.crop=3"]),
         r"shard-00000\.parquet: video '\w+': features\.crop index 3 is out of range for features of 1 crop"),
    # ---- checkpoints and annotations
    Case("checkpoint that would run code", _evaluate(model=_evil_checkpoint), r"evil\.pt: refused"),
    Case("file that is not a checkpoint", _evaluate(model=_junk_checkpoint), r"junk\.pt: cannot read checkpoint"),
    Case("checkpoint cut in half", _evaluate(model=_cut_checkpoint), r"cut\.pt: cannot read checkpoint"),
    Case("missing annotation file", _evaluate(annotations=lambda tmp: tmp / "none.parquet"),
         r"none\.parquet: annotation file not found"),
    Case("anomalous test video without annotation", _evaluate(annotations=_annotations({"test8": [(16, 48)]})),
         r"ann\.parquet: no frame annotation for anomalous test video 'test9'"),
    Case("interval beyond the video's end", _evaluate(annotations=_annotations({"test8": [(16, 48)],
                                                                                "test9": [(200, 300)]})),
         r"ann\.parquet: video 'test9' has an anomalous interval \[200, 300\) beyond its end \(96 decoded frames\)"),
    Case("frame mask of another length", _evaluate(annotations=_annotations(
        {"test8": [(16, 48)], "test9": [(0, 32)]}, {"test9": 90})), r"'test9' has frame labels for 90 frames but 96"),
    Case("normal test video with anomalous frames", _evaluate(annotations=_annotations(
        {"test8": [(16, 48)], "test9": [(0, 32)], "test6": [(0, 8)]})), r"normal test video 'test6'"),
    # ---- video manifests
    Case("misspelt split", _manifest(HEADER + "a,v.mp4,trian,0,Normal\n"), r"videos\.csv:2: unknown split 'trian'"),
    Case("duplicate video id", _manifest(HEADER + "a,v.mp4,train,0,Normal\na,w.mp4,test,0,Normal\n"),
         r"videos\.csv:3: duplicate video_id 'a'"),
    Case("short row", _manifest(HEADER + "a,v.mp4,train\n"), r"videos\.csv:2: 3 columns, expected 5"),
    Case("video id that climbs out of the folder", _manifest(HEADER + "../../../../tmp/x,v.mp4,train,0,Normal\n"),
         r"videos\.csv:2: video id '\.\./\.\./\.\./\.\./tmp/x' is not a safe file name"),
    Case("video id with a control character", _manifest(HEADER + "a\x07b,v.mp4,train,0,Normal\n"),
         r"videos\.csv:2: video id 'a\\x07b' is not a safe file name \(it holds '\\x07'"),
    Case("manifest without a column", _manifest("video_id,path,split,label\na,v.mp4,train,0\n"),
         r"videos\.csv: manifest lacks column\(s\) \['class_name'\]"),
    Case("label that is not 0 or 1", _manifest(HEADER + "a,v.mp4,train,2,Normal\n"), r"videos\.csv:2: label"),
    Case("shard number out of range", _manifest(HEADER + "a,v.mp4,train,0,Normal\n", ["--shard", "5"]),
         r"videos\.csv: shard 5 out of range"),
    Case("zero-byte video", _manifest(HEADER + "a,v.mp4,train,0,Normal\n"), r"1 video\(s\) failed"),
    # ---- released features
    Case("NaN in an imported .npy", _import(lambda tmp: _released(tmp, nan=True)),
         r"Normal_Videos_001_x264_i3d\.npy.*non-finite|Normal_Videos_001_x264_i3d\.npy.*NaN"),
    Case("ground truth of another length", _import(lambda tmp: _released(tmp, gt_frames=112)), r"gt\.npy: 112 frame"),
    Case("ground truth in another video order", _import(lambda tmp: _released(tmp, gt_order="reversed")),
         r"gt\.npy.*(Arrest001_x264|Normal_Videos_003_x264)"),
    Case("list naming a missing file", _import(_missing_file_list), r"x\.list.*nope_i3d\.npy"),
    Case("export of an unsafe video id", _export("../../../../tmp/escape"), r"not a safe file name"),
    # ---- dataset files
    Case("video in both the train and the test list",
         _index({"Anomaly_Train.txt": UCF_TRAIN + "Arrest/Arrest001_x264.mp4\n",
                 "Temporal_Anomaly_Annotation_for_Testing_Videos.txt": UCF_TEST}, videos=UCF_VIDEOS),
         r"video 'Arrest001_x264' is listed in both the train and the test list"),
    Case("annotation line with a missing field",
         _index({"Anomaly_Train.txt": UCF_TRAIN,
                 "Temporal_Anomaly_Annotation_for_Testing_Videos.txt": "Arrest001_x264.mp4  Arrest  10  40  -1\n"},
                videos=UCF_VIDEOS), r"Temporal_Anomaly_Annotation_for_Testing_Videos\.txt:1: expected 6 fields"),
    Case("listed video found in two folders",
         _index({"Anomaly_Train.txt": UCF_TRAIN, "Temporal_Anomaly_Annotation_for_Testing_Videos.txt": UCF_TEST},
                videos=UCF_VIDEOS + ("backup/Arrest001_x264.mp4",)),
         r"Testing_Videos\.txt:1: 'Arrest001_x264\.mp4' matches 2 files, .*videos/Arrest001_x264\.mp4 and "
         r".*videos/backup/Arrest001_x264\.mp4"),
    Case("dataset root that does not exist", lambda tmp, good: (
        ["index-dataset", "--config", str(_write(tmp / "c.yaml", "datasets: {d: {kind: ucf_crime, root: /no/data}}")),
         "--dataset", "d", "--manifest", str(tmp / "v.csv"), "--annotations", str(tmp / "a.parquet")],
        tmp / "a.parquet"), r"/no/data: dataset directory not found"),
    Case("demo option of zero", lambda tmp, good: (
        ["make-demo", "--config", str(_write(tmp / "c.yaml", "datasets: {demo: {kind: demo, root: d, options: "
                                                              "{fps: 0}}}")), "--out-dir", str(tmp / "demo")],
        tmp / "demo" / "demo.json"), r"fps"),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_stops_with_one_line(case, good, tmp_path, capsys):
    argv, output = case.setup(tmp_path, good)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("dakd ")]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert __import__("re").search(case.message, lines[0]), lines[0]
    if case.name != "zero-byte video":  # extraction writes the shard without the failed video, and lists it
        written = [p for p in output.rglob("*") if p.is_file()] if output.is_dir() else [output] * output.exists()
        assert not written, f"{written} written"
    assert not (tmp_path / "pwned").exists()


def test_a_process_sees_exit_2_and_one_line_and_debug_shows_the_traceback(good, tmp_path):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "dakd.cli", "train-teacher", "--features", str(good["features"]),
               "--out", str(tmp_path / "t.pt"), "--set", "teacher.optim.epochs=0"]
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    debug = subprocess.run(command[:3] + ["--debug"] + command[3:], capture_output=True, text=True, env=environment,
                           timeout=300)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_checkpoint_on_a_full_disk_is_one_line(good, small_disk, capsys):
    """torch.save reports a full disk as a RuntimeError without an errno: still one line naming the
    checkpoint and the space (issue 21, item 8), and no half-written checkpoint."""
    from conftest import fill

    fill(small_disk, leave=4_000)
    out = small_disk / "teacher.pt"
    assert main(["train-teacher", "--config", str(good["config"]), "--features", str(good["features"]), "--out",
                 str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dakd train-teacher: error: {out}: no space left on the device: writing it needs more "
                          "than "), err
    assert "\n" not in err and sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_the_zero_byte_video_is_listed_with_its_reason(good, tmp_path, capsys):
    argv, _ = _manifest(HEADER + "a,v.mp4,train,0,Normal\n")(tmp_path, good)
    assert main(argv) == 2
    failures = json.loads((tmp_path / "features" / "shard-00000.failures.json").read_text())
    assert failures[0]["video_id"] == "a" and "empty file" in failures[0]["reason"]


# ---------------------------------------------------------------- through the DAG


def _dag_config(workdir: Path, datasets: dict) -> None:
    """The shipped config.yaml with ``datasets`` replaced (the paper's defaults elsewhere)."""
    from workflow_helpers import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = datasets
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _ucf_root(root: Path, train: str, test: str) -> Path:
    for video in UCF_VIDEOS:
        (root / "videos" / video).parent.mkdir(parents=True, exist_ok=True)
        (root / "videos" / video).write_bytes(b"")
    (root / "Anomaly_Train.txt").write_text(train)
    (root / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text(test)
    return root


def _dag_bad_override(tmp: Path) -> tuple[list[str], str, list[Path]]:
    _dag_config(tmp, {"ucf": {"kind": "ucf_crime", "root": str(_ucf_root(tmp / "ucf", UCF_TRAIN, UCF_TEST)),
                              "overrides": {"student": {"distill": {"tau": -1}}}}})
    return ["-n", "results/ucf/student_auc.json"], r"datasets\.ucf\.overrides.*student\.distill\.tau", []


def _dag_bad_command_line(tmp: Path) -> tuple[list[str], str, list[Path]]:
    _dag_config(tmp, {"ucf": {"kind": "ucf_crime", "root": str(_ucf_root(tmp / "ucf", UCF_TRAIN, UCF_TEST))}})
    return ["-n", "results/ucf/student_auc.json", "--config", "seed=-1"], r"seed", []


def _dag_misspelt_dotted(tmp: Path) -> tuple[list[str], str, list[Path]]:
    _dag_config(tmp, {"ucf": {"kind": "ucf_crime", "root": str(_ucf_root(tmp / "ucf", UCF_TRAIN, UCF_TEST))}})
    return ["-n", "results/ucf/student_auc.json", "--config", "set=teacher.optim.epoch=5"], \
        r"teacher\.optim\.epoch: unknown key; did you mean 'epochs'\?", []


def _dag_annotation_line(tmp: Path) -> tuple[list[str], str, list[Path]]:
    root = _ucf_root(tmp / "ucf", UCF_TRAIN, "Arrest001_x264.mp4  Arrest  10  40  -1\n")
    _dag_config(tmp, {"ucf": {"kind": "ucf_crime", "root": str(root)}})
    outputs = [tmp / "results/ucf/videos.csv", tmp / "results/ucf/annotations.parquet"]
    return ["--cores", "1", "results/ucf/videos.csv"], r"Testing_Videos\.txt:1: expected 6 fields", outputs


def _dag_both_splits(tmp: Path) -> tuple[list[str], str, list[Path]]:
    root = _ucf_root(tmp / "ucf", UCF_TRAIN + "Arrest/Arrest001_x264.mp4\n", UCF_TEST)
    _dag_config(tmp, {"ucf": {"kind": "ucf_crime", "root": str(root)}})
    outputs = [tmp / "results/ucf/videos.csv", tmp / "results/ucf/annotations.parquet"]
    return ["--cores", "1", "results/ucf/videos.csv"], r"'Arrest001_x264' is listed in both the train and the test", \
        outputs


def _dag_nan_import(tmp: Path) -> tuple[list[str], str, list[Path]]:
    data = tmp / "released"
    data.mkdir()
    _released(data, nan=True)
    _dag_config(tmp, {"rtfm": {"kind": "features", "root": str(data), "naming": "ucf_crime",
                               "sources": {"i3d": {"train": "train.list", "test": "test.list"}},
                               "ground_truth": "gt.npy",
                               "overrides": {"teacher": {"backbones": ["i3d"]}, "student": {"backbone": "i3d"}}}})
    outputs = [tmp / "results/rtfm/imported", tmp / "results/rtfm/annotations.parquet"]
    return ["--cores", "1", "results/rtfm/annotations.parquet"], r"Normal_Videos_001_x264_i3d\.npy.*non-finite", \
        outputs


DAG_CASES = {"bad value in a dataset's overrides": _dag_bad_override, "bad --config value": _dag_bad_command_line,
             "misspelt dotted --config set": _dag_misspelt_dotted,
             "malformed annotation line": _dag_annotation_line, "video in both splits": _dag_both_splits,
             "NaN in released features": _dag_nan_import}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DAG_CASES))
def test_bad_input_through_the_dag(name, tmp_path):
    """The workflow stops with the one-line error on the console and leaves no output behind."""
    from workflow_helpers import snakemake

    args, message, outputs = DAG_CASES[name](tmp_path)
    run = snakemake(tmp_path, *args)
    console = run.stdout + run.stderr
    assert run.returncode != 0
    lines = [line for line in console.splitlines() if __import__("re").search(message, line)]
    assert lines and all(line.startswith("dakd") for line in lines), console[-3000:]
    assert "Traceback" not in console, console[-3000:]
    assert not [p for p in outputs if p.exists()]
