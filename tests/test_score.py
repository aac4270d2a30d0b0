"""dakd score, operating points and export-model on a small demo trained in this module:
demo videos, features extracted by dakd (a random open_clip ViT-S-16 at 32 px), a teacher
and a student trained for two epochs, and dakd evaluate's per-video snippet scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from dakd.backbones import Preprocessing, make_crops
from dakd.cli import main
from dakd.config import DakdConfig
from dakd.datasets import index_dataset, write_index
from dakd.datasets.demo import DemoSpec, make_demo
from dakd.extract import run_extract
from dakd.stages import run_evaluate, run_pseudo_labels, run_train_student, run_train_teacher
from dakd.video import VideoDecoder

TINY = {"model": {"width": 32, "heads": 2, "ffn_dim": 64},
        "optim": {"epochs": 2, "normal_per_batch": 3, "anomalous_per_batch": 3}}
CONFIG = {
    "device": "cpu",
    "extract": {"backbones": {"clip": {"arch": "open_clip", "model": "ViT-S-16", "weights": "random", "size": 32}},
                "crops": "center", "decode_short_side": 48, "num_workers": 1, "shard_size": 16},
    "teacher": {"backbones": ["clip"], **TINY},
    "student": TINY,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The trained demo: config, checkpoints, test videos and evaluate's scores."""
    root = tmp_path_factory.mktemp("score_demo")
    make_demo(root / "data", DemoSpec(train_normal=3, train_anomalous=3, test_normal=2, test_anomalous=3,
                                      min_seconds=2.2, max_seconds=3.5, width=64, height=48))
    write_index(index_dataset("demo", str(root / "data"), {}), root / "videos.csv", root / "annotations.parquet")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    cfg = DakdConfig.from_dict(CONFIG)
    features = [root / "features"]
    assert run_extract(cfg.extract, root / "videos.csv", features[0], torch.device("cpu"), progress=False) == []
    run_train_teacher(cfg, features, root / "teacher.pt", progress=False)
    run_pseudo_labels(cfg, features, root / "teacher.pt", root / "pseudo_labels.parquet")
    run_train_student(cfg, features, root / "teacher.pt", root / "pseudo_labels.parquet", root / "student.pt",
                      progress=False)
    run_evaluate(cfg, features, root / "annotations.parquet", root / "student.pt", root / "student_auc.json",
                 scores_out=root / "student_scores.parquet")
    tests = sorted((root / "data" / "videos").glob("test_*.mp4"))
    return SimpleNamespace(root=root, config=config, features=features, student=root / "student.pt",
                           teacher=root / "teacher.pt", tests=tests, scores=root / "student_scores.parquet")


def dakd(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def scored(demo):
    """dakd score on the folder of the demo's videos, restricted by a pattern to the test ones."""
    out = demo.root / "scored"
    assert dakd("score", "--model", demo.student, str(demo.root / "data" / "videos" / "test_*.mp4"),
                "--out", out) == 0
    return out


def test_score_reproduces_evaluate_snippet_scores(demo, scored):
    evaluated = {r["video_id"]: np.array(r["snippet_scores"]) for r in pq.read_table(demo.scores).to_pylist()}
    assert sorted(evaluated) == [p.stem for p in demo.tests]
    for name, expected in evaluated.items():
        got = np.array(json.loads((scored / f"{name}.json").read_text())["snippet_scores"])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_each_video_gets_scores_intervals_and_a_timeline(demo, scored):
    video = demo.tests[-1]
    report = json.loads((scored / f"{video.stem}.json").read_text())
    with av.open(str(video)) as container:
        frames = container.streams.video[0].frames
        fps = float(container.streams.video[0].average_rate)
    assert report["frames"] == frames and report["fps"] == pytest.approx(fps)
    assert report["snippets"] == -(-frames // 16) == len(report["snippet_scores"])
    table = pq.read_table(scored / f"{video.stem}.scores.parquet")
    assert table.column_names == ["frame", "time_s", "score"] and table.num_rows == frames
    rows = table.to_pydict()
    assert rows["frame"] == list(range(frames))
    np.testing.assert_allclose(rows["time_s"], np.arange(frames) / fps)
    np.testing.assert_allclose(rows["score"], np.repeat(report["snippet_scores"], 16)[:frames], rtol=1e-7)
    threshold = report["threshold"]
    assert threshold["name"] == "f1" and threshold["from"] == str(demo.student) and threshold["split"] == "train"
    for interval in report["intervals"]:
        inside = np.array(rows["score"][interval["start_frame"]:interval["end_frame"]])
        assert interval["peak"] == pytest.approx(inside.max()) and interval["mean"] == pytest.approx(inside.mean())
        assert interval["start_s"] == pytest.approx(interval["start_frame"] / fps)
        assert interval["end_s"] == pytest.approx(interval["end_frame"] / fps)
    alert = np.array(rows["score"]) >= threshold["value"]
    covered = np.zeros(frames, bool)
    for interval in report["intervals"]:
        covered[interval["start_frame"]:interval["end_frame"]] = True
    assert (covered >= alert).all()  # every frame at or above the threshold is in an interval
    assert report["provenance"]["stage"] == "score" and report["extraction"]["backbones"]["clip"]["dim"] == 384
    assert (scored / f"{video.stem}.png").read_bytes()[:4] == b"\x89PNG"


def test_training_records_operating_points_and_evaluation_reports_them(demo):
    payload = torch.load(demo.student, weights_only=True)
    points = payload["operating_points"]
    assert payload["schema_version"] == 1 and payload["extraction"]["stage"] == "extract"
    assert points["f1"]["split"] == "train" and points["f1"]["count"] == 6  # video-level, training videos
    assert [p["target"] for p in points["fpr"]] == [0.01, 0.05]
    for point in points["fpr"]:
        assert point["measured"] <= point["target"]
    result = json.loads((demo.root / "student_auc.json").read_text())["operating_points"]
    assert result["chosen_on"]["f1"] == "train"
    assert [p["name"] for p in result["points"]] == ["f1", "fpr:0.01", "fpr:0.05"]


def test_thresholds_by_number_and_operating_point(demo, tmp_path, capsys):
    video = demo.tests[0]
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path / "low", "--threshold", "0",
                "--online") == 0
    report = json.loads((tmp_path / "low" / f"{video.stem}.json").read_text())
    assert report["threshold"]["value"] == 0 and report["threshold"]["from"] == "--threshold"
    assert [(i["start_frame"], i["end_frame"]) for i in report["intervals"]] == [(0, report["frames"])]
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path / "fpr", "--threshold", "fpr:0.05",
                "--online") == 0
    fpr = json.loads((tmp_path / "fpr" / f"{video.stem}.json").read_text())["threshold"]
    assert fpr["name"] == "fpr:0.05" and fpr["value"] == torch.load(demo.student)["operating_points"]["fpr"][1][
        "threshold"]
    capsys.readouterr()
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path / "x", "--threshold", "fpr:0.02") == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"dakd score: error: --threshold fpr:0.02: {demo.student} has operating points f1, fpr:0.01, fpr:0.05"]
    assert not (tmp_path / "x").exists()


def _edited_checkpoint(demo, tmp_path, name: str, edit) -> Path:
    payload = torch.load(demo.student, weights_only=True)
    edit(payload)
    path = tmp_path / name
    torch.save(payload, path)
    return path


def test_a_model_without_operating_points_writes_scores_without_intervals(demo, tmp_path, capsys):
    model = _edited_checkpoint(demo, tmp_path, "old.pt", lambda p: p.update(operating_points=None))
    assert dakd("score", "--model", model, demo.tests[0], "--out", tmp_path / "out", "--online") == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert err == [f"warning: {model} has no operating points and no --threshold was given: writing scores "
                   "without intervals"]
    report = json.loads((tmp_path / "out" / f"{demo.tests[0].stem}.json").read_text())
    assert report["threshold"] is None and report["intervals"] is None and report["snippet_scores"]
    # operating points written beside it by `dakd operating-points` are found
    assert dakd("operating-points", "--features", *demo.features, "--model", model) == 0
    assert (tmp_path / "old.operating_points.json").is_file()
    assert dakd("score", "--model", model, demo.tests[0], "--out", tmp_path / "again", "--online") == 0
    again = json.loads((tmp_path / "again" / f"{demo.tests[0].stem}.json").read_text())
    assert again["threshold"]["from"] == str(tmp_path / "old.operating_points.json")
    assert again["threshold"]["value"] == torch.load(demo.student)["operating_points"]["f1"]["threshold"]


def _one_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_incompatible_schema_version_is_one_line(demo, tmp_path, capsys):
    model = _edited_checkpoint(demo, tmp_path, "future.pt", lambda p: p.update(schema_version=2))
    assert dakd("score", "--model", model, demo.tests[0], "--out", tmp_path / "out") == 2
    assert _one_error(capsys) == (f"dakd score: error: {model}: checkpoint schema version 2, but this dakd reads "
                                  "version 1; use the dakd version that wrote it, or retrain")
    unversioned = _edited_checkpoint(demo, tmp_path, "v0.pt", lambda p: p.pop("schema_version"))
    assert dakd("score", "--model", unversioned, demo.tests[0], "--out", tmp_path / "v0", "--online") == 0


@pytest.mark.parametrize(("change", "message"), [
    ("extract.decode_short_side=64", "extract.decode_short_side: the model's features were made with 48, "
                                     "the requested extraction uses 64"),
    ("extract.crops=five", "extract.crops: the model's features were made with 'center', the requested "
                           "extraction uses 'five'"),
    ("extract.snippet_len=8", "extract.snippet_len: the model's features were made with 16, the requested "
                              "extraction uses 8"),
    ("seed=3", "backbone 'clip', weights: the model was trained on 'random (seed 0; not a pretrained model)', "
               "the requested extraction gives 'random (seed 3; not a pretrained model)'"),
    ("extract.backbones.clip.size=64", "backbone 'clip', preprocessing: the model was trained on "
                                       "{'crop': 32, 'resize': 32}, the requested extraction gives "
                                       "{'crop': 64, 'resize': 64}"),
])
def test_an_extraction_that_differs_from_the_models_stops_with_both_values(demo, tmp_path, capsys, change, message):
    assert dakd("score", "--model", demo.student, "--config", demo.config, "--set", change, demo.tests[0],
                "--out", tmp_path / "out") == 2
    assert _one_error(capsys) == f"dakd score: error: {demo.student}: {message}"
    assert not (tmp_path / "out").exists()


def test_features_from_frames_made_another_way_stop_the_score(demo, tmp_path, capsys):
    """A checkpoint from before the frame record (decode-time FFmpeg scaling) does not score silently."""
    from dakd.video import FRAMES

    model = _edited_checkpoint(demo, tmp_path, "old_frames.pt", lambda p: p["extraction"].pop("frames"))
    assert dakd("score", "--model", model, demo.tests[0], "--out", tmp_path / "out") == 2
    assert _one_error(capsys) == (
        f"dakd score: error: {model}: the model's features were made from frames by 'decode-time FFmpeg bilinear "
        f"scale (dakd before the frame record)', this dakd makes them by {FRAMES!r}; re-extract the features and "
        "retrain")


def test_the_models_own_config_passes_the_check(demo, tmp_path):
    assert dakd("score", "--model", demo.student, "--config", demo.config, demo.tests[0], "--out", tmp_path,
                "--online") == 0


def test_a_model_trained_on_imported_features_cannot_score_videos(demo, tmp_path, capsys):
    def imported(payload):
        payload["extraction"].update(stage="import-features", config=None)
        payload["extraction"]["backbones"]["clip"]["weights"] = "imported (rtfm layout from ucf-clip.list)"

    model = _edited_checkpoint(demo, tmp_path, "imported.pt", imported)
    assert dakd("score", "--model", model, demo.tests[0], "--out", tmp_path / "out") == 2
    assert _one_error(capsys) == (
        f"dakd score: error: {model}: trained on features made by 'import-features' (imported (rtfm layout from "
        "ucf-clip.list)), not extracted by dakd from videos: there is no extractor to rebuild, so it cannot score "
        "videos")


def test_unreadable_videos_are_named_and_the_others_still_scored(demo, tmp_path, capsys):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(2000))
    missing = tmp_path / "missing.mp4"
    out = tmp_path / "out"
    assert dakd("score", "--model", demo.student, garbage, demo.tests[0], missing, tmp_path / "empty_*.mp4",
                "--out", out) == 2
    err = capsys.readouterr().err.splitlines()
    failed = [line for line in err if line.startswith("failed: ")]
    assert len(failed) == 3, err
    assert {line.split(":")[1].strip() for line in failed} == {str(garbage), str(missing),
                                                                 str(tmp_path / "empty_*.mp4")}
    assert any(line.endswith("the pattern matches no video file") for line in failed)
    assert err[-1] == ("dakd score: error: 3 of 4 source(s) failed (listed above); rerun with --tolerate-failures "
                       "to accept the others")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{demo.tests[0].stem}{s}" for s in (
        ".json", ".png", ".scores.parquet"))
    assert dakd("score", "--model", demo.student, garbage, "--out", tmp_path / "tolerated", "--tolerate-failures",
                "--threshold", "0.5") == 0


def test_overlay_burns_in_the_curve_and_the_alert_banner(demo, tmp_path):
    video = demo.tests[-1]
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path, "--overlay", "--threshold", "0",
                "--min-gap", "0", "--online") == 0
    overlay = tmp_path / f"{video.stem}.overlay.mp4"
    with av.open(str(overlay)) as container, av.open(str(video)) as original:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == original.streams.video[0].frames
        assert (frames[0].shape[1], frames[0].shape[0]) == (64, 48)
    banner = frames[len(frames) // 2][:3, 40:].reshape(-1, 3).mean(axis=0)
    assert banner[0] > 150 and banner[1] < 80  # red: every frame is in the one interval
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path / "high", "--overlay",
                "--threshold", "2", "--online") == 0
    with av.open(str(tmp_path / "high" / f"{video.stem}.overlay.mp4")) as container:
        quiet = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert not (quiet[:3, 40:].reshape(-1, 3).mean(axis=0)[0] > 150)  # no alert, no banner


def _online_records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_online_scores_each_snippet_causally_with_its_latency(demo, tmp_path, capsys):
    video = demo.tests[-1]
    records = {}
    for window in (1, 64):
        assert dakd("score", "--model", demo.student, video, "--out", tmp_path / f"w{window}", "--online",
                    "--window", window) == 0
        records[window] = _online_records(capsys)
    frames = json.loads((tmp_path / "w1" / f"{video.stem}.json").read_text())["frames"]
    assert [r["snippet"] for r in records[64]] == list(range(-(-frames // 16)))
    assert records[64][-1]["end_frame"] == frames and records[64][0]["window"] == 1
    assert all(r["latency_s"] >= r["compute_s"] > 0 for r in records[64])
    # the first snippet sees only itself whatever the window; with W = 1 every snippet does
    assert records[1][0]["score"] == pytest.approx(records[64][0]["score"], abs=1e-6)
    assert [r["window"] for r in records[1]] == [1] * len(records[1])
    report = json.loads((tmp_path / "w64" / f"{video.stem}.json").read_text())
    assert report["run"]["mode"] == "online" and report["run"]["ended"] == "end of stream"
    assert report["snippet_scores"] == [r["score"] for r in records[64]]


def serve_stream(video: Path, stop_after: int | None = None, stall_s: float = 0.0) -> ThreadingHTTPServer:
    """An HTTP live stream of ``video`` on 127.0.0.1, served with PyAV at its frame rate: MPEG-TS
    of lossless H.264, as a camera's encoder would send it; after ``stop_after`` frames it stalls
    for ``stall_s`` seconds and closes."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.end_headers()
            with av.open(str(video)) as source, av.open(self.wfile, "w", format="mpegts") as sink:
                stream = source.streams.video[0]
                encoder = sink.add_stream("libx264", rate=stream.average_rate)
                encoder.width, encoder.height, encoder.pix_fmt = stream.width, stream.height, "yuv420p"
                encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "qp": "0"}
                start = time.perf_counter()
                for n, frame in enumerate(source.decode(stream)):
                    time.sleep(max(0.0, start + n / float(stream.average_rate) - time.perf_counter()))
                    frame.pts = None
                    for packet in encoder.encode(frame.reformat(format="yuv420p")):
                        sink.mux(packet)
                    self.wfile.flush()
                    if stop_after is not None and n + 1 >= stop_after:
                        time.sleep(stall_s)
                        return
                for packet in encoder.encode():
                    sink.mux(packet)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_online_scores_a_live_http_stream(demo, tmp_path, capsys):
    video = demo.tests[-1]
    assert dakd("score", "--model", demo.student, video, "--out", tmp_path / "file", "--online") == 0
    from_file = _online_records(capsys)
    server = serve_stream(video)
    url = f"http://127.0.0.1:{server.server_address[1]}/live.ts"
    try:
        code = dakd("score", "--model", demo.student, url, "--out", tmp_path / "live", "--online", "--jsonl",
                    tmp_path / "live.jsonl")
    finally:
        server.shutdown()
    assert code == 0, capsys.readouterr().err[-2000:]
    records = [json.loads(line) for line in (tmp_path / "live.jsonl").read_text().splitlines()]
    name = "127.0.0.1_{}_live.ts".format(server.server_address[1])
    assert records and all(r["source"] == name for r in records)
    full = [r for r in records if r["end_frame"] - r["start_frame"] == 16]
    assert full and len(full) >= len(from_file) - 1
    for live, ours in zip(full, from_file):  # the same frames (lossless) give the same scores
        assert live["score"] == pytest.approx(ours["score"], abs=1e-5)
    report = json.loads((tmp_path / "live" / f"{name}.json").read_text())
    assert report["source"] == url and report["snippet_scores"] == [r["score"] for r in records]


def test_a_stream_that_drops_ends_with_what_was_scored(demo, tmp_path, capsys):
    server = serve_stream(demo.tests[-1], stop_after=20, stall_s=30)
    url = f"http://127.0.0.1:{server.server_address[1]}/cam"
    try:
        code = dakd("score", "--model", demo.student, url, "--out", tmp_path, "--online", "--stream-timeout", "2",
                    "--threshold", "0.5")
    finally:
        server.shutdown()
    assert code == 0
    report = json.loads((tmp_path / f"127.0.0.1_{server.server_address[1]}_cam.json").read_text())
    assert report["run"]["ended"].startswith("stream dropped: ")
    assert 1 <= report["snippets"] <= 2 and report["frames"] <= 20
    assert len(_online_records(capsys)) == report["snippets"]


def test_an_unreachable_stream_is_one_line(demo, tmp_path, capsys):
    assert dakd("score", "--model", demo.student, "http://127.0.0.1:9/nothing", "--out", tmp_path, "--online",
                "--stream-timeout", "2") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    failed = [line for line in lines if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].startswith("failed: http://127.0.0.1:9/nothing: cannot open (")
    assert lines[-1].startswith("dakd score: error: 1 of 1 source(s) failed")


RUN_EXPORTED = """
import json, sys
import numpy as np
fmt, path, clips, out = sys.argv[1:]
x = np.load(clips)
if fmt == "torchscript":
    import torch
    files = {"dakd.json": ""}
    model = torch.jit.load(path, _extra_files=files)
    meta = json.loads(files["dakd.json"])
    scores = model(torch.from_numpy(x)).numpy()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = json.loads(session.get_modelmeta().custom_metadata_map["dakd"])
    scores = session.run(None, {meta["inputs"][0]: x})[0]
assert "dakd" not in sys.modules
np.save(out, scores)
print(json.dumps(meta))
"""


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_an_exported_model_runs_without_dakd_and_matches_its_scores(demo, scored, tmp_path, fmt):
    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            if os.environ.get("CI"):
                raise
            pytest.skip("onnxruntime is not installed (pip install 'dakd[deploy]')")
    out = tmp_path / f"model.{fmt}"
    assert dakd("export-model", "--model", demo.student, "--format", fmt, "--out", out) == 0
    video = demo.tests[-1]
    payload = torch.load(demo.student, weights_only=True)
    pre = payload["extraction"]["backbones"]["clip"]["preprocessing"]
    spec = Preprocessing(pre["resize"], pre["crop"], tuple(pre["mean"]), tuple(pre["std"]), pre["interpolation"],
                         pre["value_range"])
    frames = np.concatenate([f for _, f in VideoDecoder(video, 16, 16, 48).batches(8)])
    np.save(tmp_path / "clips.npy", make_crops(torch.from_numpy(frames), spec, "center").numpy())
    script = tmp_path / "run.py"
    script.write_text(RUN_EXPORTED)
    run = subprocess.run([sys.executable, str(script), fmt, str(out), str(tmp_path / "clips.npy"),
                          str(tmp_path / "scores.npy")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    meta = json.loads(run.stdout.splitlines()[-1])
    assert meta["inputs"] == ["clips_clip"] and meta["decode"]["short_side"] == 48
    assert meta["preprocessing"]["clip"]["crop"] == 32 and meta["operating_points"]["f1"]["threshold"] > 0
    expected = json.loads((scored / f"{video.stem}.json").read_text())["snippet_scores"]
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, rtol=0, atol=1e-4)


def test_a_unicode_name_is_scored_and_an_unsafe_one_is_reported(demo, tmp_path, capsys):
    """Issue 21, item 10: one name with an en dash stopped a whole dakd score run. It is scored now;
    a name that is not a safe file name (a control character) is one 'failed' line and the other
    videos are still scored."""
    folder = tmp_path / "cams"
    folder.mkdir()
    (folder / "Überwachung 01 – Straße.mp4").write_bytes(demo.tests[0].read_bytes())
    unsafe = folder / "cam\x1b2.mp4"
    unsafe.write_bytes(demo.tests[1].read_bytes())
    (folder / "cam3.mp4").write_bytes(demo.tests[2].read_bytes())
    out = tmp_path / "out"
    assert dakd("score", "--model", demo.student, folder, "--out", out) == 2
    err = capsys.readouterr().err.splitlines()
    failed = [line for line in err if line.startswith("failed: ")]
    assert failed == [f"failed: {str(unsafe)!r}: video id 'cam\\x1b2' is not a safe file name (it holds '\\x1b': "
                      "no path separator or control character)"], err
    assert sorted(p.name for p in out.glob("*.json")) == ["cam3.json", "Überwachung 01 – Straße.json"]
    assert err[-1].startswith("dakd score: error: 1 of 3 source(s) failed")


def test_a_variable_frame_rate_keeps_each_frames_time(demo, tmp_path, capsys):
    """Issue 21, item 5: a clip of 10 fps then 30 fps (80 frames) was timed by its average rate
    (19.5 fps): frame 19 at 0.97 s where it is shown at 1.9 s. Scores, intervals, the JSON and the
    overlay now carry each frame's presentation time."""
    from helpers import vfr_clip

    clip = tmp_path / "vfr.mp4"
    vfr_clip(clip)
    out = tmp_path / "out"
    assert dakd("score", "--model", demo.student, clip, "--out", out, "--threshold", "0", "--overlay") == 0
    table = pq.read_table(out / "vfr.scores.parquet").to_pydict()
    assert len(table["frame"]) == 80
    np.testing.assert_allclose(np.array(table["time_s"])[[19, 20, 21, 79]], [1.9, 2.0, 2.0 + 1 / 30, 4 - 1 / 30],
                               atol=1e-5)
    report = json.loads((out / "vfr.json").read_text())
    assert report["duration_s"] == pytest.approx(4.0) and report["run"]["times"] == "presentation timestamps"
    assert [(i["start_s"], i["end_s"]) for i in report["intervals"]] == [(0.0, pytest.approx(4.0))]
    with av.open(str(out / "vfr.overlay.mp4")) as overlay:
        stream = overlay.streams.video[0]
        shown = sorted(float(frame.pts * stream.time_base) for frame in overlay.decode(stream))
    np.testing.assert_allclose(np.array(shown)[[19, 20, 21, 79]], [1.9, 2.0, 2.0 + 1 / 30, 4 - 1 / 30], atol=1e-3)
