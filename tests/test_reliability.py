"""Cases of docs/reliability.md that no other module's tests cover: what real lists, real videos
and real users do that dakd handles, each kept true here (the page names every case's test)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import ffmpeg_clip, write_video
from workflow_helpers import REPO, snakemake, tiny_demo_config

from dakd.datasets import index_dataset
from dakd.video.readers import open_reader


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"v")


def test_lists_with_a_bom_crlf_and_tabs_read_as_clean_ones(tmp_path):
    """A list saved by Excel or Notepad (BOM, CRLF) and fields separated by tabs index exactly as
    the plain file does, for every adapter that reads lists."""
    for name in ["Abuse/Abuse001_x264.mp4", "Normal/Normal_Videos308_x264.mp4", "Arrest/Arrest001_x264.mp4"]:
        _touch(tmp_path / "ucf" / name)
    plain = {"Anomaly_Train.txt": "Abuse/Abuse001_x264.mp4\nTraining_Normal/Normal_Videos308_x264.mp4\n",
             "Temporal_Anomaly_Annotation_for_Testing_Videos.txt": "Arrest001_x264.mp4  Arrest  10  40  -1  -1\n"}
    for name, text in plain.items():
        (tmp_path / "ucf" / name).write_text(text)
    clean = index_dataset("ucf_crime", tmp_path / "ucf")
    for name, text in plain.items():
        windows = "\ufeff" + text.replace("  ", "\t").replace("\n", "\r\n")
        (tmp_path / "ucf" / name).write_bytes(windows.encode("utf-8"))
    messy = index_dataset("ucf_crime", tmp_path / "ucf")
    assert messy.videos == clean.videos and messy.intervals == clean.intervals == {"Arrest001_x264": [(10, 41)]}
    for name in ["v/01_001.avi", "v/01_0014.avi", "v/02_0161.avi"]:
        _touch(tmp_path / "sht" / name)
    (tmp_path / "sht" / "SH_Train_new.txt").write_bytes("\ufeff01_001\t0\r\n01_0014\t1\r\n".encode())
    (tmp_path / "sht" / "SH_Test_NEW.txt").write_bytes(b"02_0161\t0\r\n")
    assert [(v.video_id, v.label) for v in index_dataset("shanghaitech", tmp_path / "sht").videos] == [
        ("01_001", 0), ("01_0014", 1), ("02_0161", 0)]


@pytest.mark.parametrize("kind", ["hevc_10bit", "h264_444", "corrupt_middle"])
def test_hard_videos_decode_every_frame(kind, tmp_path):
    """10-bit HEVC and 4:4:4 H.264 decode to exact frame counts; a file with 2 KB of zeros in
    its middle decodes every frame too (FFmpeg conceals the damaged pictures; nothing stops)."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "hevc_10bit":
        ffmpeg_clip(path, frames=40, extra=("-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
                                            "log-level=error"))
        frames = 40
    elif kind == "h264_444":
        write_video(path, 30, width=65, height=49)  # yuv444p, odd size, B-frames
        frames = 30
    else:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                        "-frames:v", "100", "-c:v", "libx264", "-g", "25", str(path)], check=True, timeout=60)
        data = bytearray(path.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 2048] = bytes(2048)
        path.write_bytes(bytes(data))
        frames = 100
    reader = open_reader("pyav", path)
    try:
        assert reader.num_frames == frames
        assert reader.read(list(range(frames))).shape[0] == frames
    finally:
        reader.close()


@pytest.mark.slow
def test_two_runs_at_once_the_second_stops_and_the_first_finishes(tmp_path):
    """Snakemake's lock: a second run on the same outputs stops at once with one line, and the
    first run is not disturbed. The first is paused (SIGSTOP) once it holds the lock, so the second
    meets the lock however fast the first's jobs are (they take a few seconds, as long as the
    second takes to start)."""
    tiny_demo_config(tmp_path)
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), "--cores", "1",
               "results/demo/videos.csv"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.monotonic() + 300
        while not (locks.is_dir() and any(locks.iterdir())) and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()[1][-3000:]
            time.sleep(0.2)
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None and any(locks.iterdir())
        second = snakemake(tmp_path, "--cores", "1", "results/demo/videos.csv")
        assert second.returncode != 0 and "Directory cannot be locked" in second.stdout + second.stderr
        assert "Traceback" not in second.stdout + second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert (tmp_path / "results" / "demo" / "videos.csv").is_file()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_ctrl_c_stops_with_one_line_and_leaves_nothing_half_written(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while a video decodes:
    'interrupted', exit status 130, no shard and no temporary file; the decoder dies with it."""
    import yaml

    fifo = tmp_path / "camera.mp4"
    os.mkfifo(fifo)  # the decoder blocks reading it, like a slow network share
    (tmp_path / "m.csv").write_text(f"video_id,path,split,label,class_name\ncam,{fifo},train,0,Normal\n")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"extract": {"backbones": {"clip": {
        "arch": "open_clip", "model": "ViT-B-16", "weights": "random", "size": 32}}, "crops": "center",
        "num_workers": 1}}))
    run = subprocess.Popen([sys.executable, "-m", "dakd.cli", "extract", "--config", str(tmp_path / "c.yaml"),
                            "--manifest", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "out"),
                            "--no-progress"], stderr=subprocess.PIPE, text=True, start_new_session=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 300
        writer = None
        while writer is None and time.monotonic() < deadline:
            try:  # succeeds once the decoder has opened the FIFO for reading
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert run.poll() is None, run.communicate()[1][-3000:]
                time.sleep(0.2)
        assert writer is not None
        time.sleep(1)
        os.killpg(run.pid, signal.SIGINT)
        err = run.communicate(timeout=120)[1]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        if writer is not None:
            os.close(writer)
    assert run.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "dakd extract: interrupted"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not np.any([p.name.endswith(".tmp") for p in tmp_path.rglob("*")])


def test_the_reliability_page_names_tests_that_exist():
    """docs/reliability.md names the test of every case: each must exist (a case in brackets
    among that test's parameters), so the page cannot outlive its tests."""
    import re

    page = (REPO / "docs" / "reliability.md").read_text()
    named = re.findall(r"`tests/(\w+)\.py::(\w+)(?:\[([^\]`]+)\])?`", page)
    assert len(named) > 60
    for module, test, case in named:
        source = (REPO / "tests" / f"{module}.py").read_text()
        assert re.search(rf"^def {test}\(", source, re.M), f"tests/{module}.py::{test} does not exist"
        if case:
            assert f'"{case}"' in source, f"tests/{module}.py::{test} has no case {case!r}"
