import json
import os

import numpy as np
import pytest
import torch
from helpers import write_video

from dakd.cli import main
from dakd.config import DakdConfig, apply_overrides
from dakd.errors import DakdError
from dakd.extract import read_manifest, run_extract
from dakd.features import load_bags, read_shard

TINY_BACKBONES = {
    "i3d": {"arch": "inception_i3d", "weights": "random", "size": 32},
    "s3d": {"arch": "s3d", "weights": "random", "size": 32},
    "clip": {"arch": "open_clip", "model": "ViT-B-16", "weights": "random", "size": 32},
}


def extract_config(**overrides):
    data = {"extract": {"backbones": TINY_BACKBONES, "crops": "center", "decode_short_side": 40, "shard_size": 3,
                        "num_workers": 1, "batch_snippets": 2, "video_timeout_s": 30,
                        "videos_per_worker": 1}}  # recycle a worker after every video
    return DakdConfig.from_dict(apply_overrides(data, [f"{k}={v}" for k, v in overrides.items()]))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "long.mp4", 50)
    write_video(root / "odd.mp4", 20, width=65, height=49)
    write_video(root / "one.mp4", 1)
    write_video(root / "short.mp4", 10)
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("not a video")
    rows = [("long", 0), ("odd", 1), ("one", 0), ("short", 1), ("zero", 0), ("text", 1)]
    lines = ["video_id,path,split,label,class_name"]
    lines += [f"{vid},{vid}.mp4,train,{label},{'Abuse' if label else 'Normal'}" for vid, label in rows]
    (root / "videos.csv").write_text("\n".join(lines) + "\n")
    return root


def test_manifest_errors(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("video_id,path\nx,x.mp4\n")
    with pytest.raises(DakdError, match=r"m.csv: manifest lacks column\(s\) \['split', 'label', 'class_name'\]"):
        read_manifest(bad)
    bad.write_text("video_id,path,split,label,class_name\nx,x.mp4,train,2,A\n")
    with pytest.raises(DakdError, match="m.csv:2: label must be 0 or 1"):
        read_manifest(bad)


def test_extraction_shapes_failures_and_resume(videos, tmp_path):
    cfg = extract_config()
    out = tmp_path / "features"
    failures = run_extract(cfg.extract, videos / "videos.csv", out, torch.device("cpu"), progress=False)
    assert sorted(f["video_id"] for f in failures) == ["text", "zero"]
    assert {f["video_id"]: f["reason"] for f in failures}["zero"].endswith("zero.mp4: empty file (0 bytes)")

    first, second = read_shard(out / "shard-00000.parquet"), read_shard(out / "shard-00001.parquet")
    metas = {v.meta.video_id: v.meta for v in first.videos + second.videos}
    assert sorted(metas) == ["long", "odd", "one", "short"]
    assert (metas["long"].num_snippets, metas["long"].last_snippet_frames) == (4, 2)
    assert (metas["short"].num_snippets, metas["short"].last_snippet_frames) == (1, 10)
    assert metas["one"].num_frames == 1 and metas["odd"].label == 1 and metas["odd"].fps == pytest.approx(25.0)
    for video in first.videos + second.videos:
        n = video.meta.num_snippets
        assert {k: a.shape for k, a in video.features.items()} == {
            "i3d": (n, 1, 1024), "s3d": (n, 1, 1024), "clip": (n, 1, 512)}
    assert first.backbones["clip"].weights.startswith("random (seed 0")
    assert first.backbones["s3d"].preprocessing["crop"] == 32
    assert json.loads((out / "shard-00001.failures.json").read_text())[0]["video_id"] == "zero"

    # A killed run leaves at most a stray temp file and some finished shards: the rerun
    # keeps the finished ones and redoes only the missing one, with identical features.
    kept = (out / "shard-00000.parquet").stat().st_mtime_ns
    lost = read_shard(out / "shard-00001.parquet")
    (out / "shard-00001.parquet").unlink()
    (out / ".shard-00001.parquet.abc.tmp").write_bytes(b"partial")
    run_extract(cfg.extract, videos / "videos.csv", out, torch.device("cpu"), progress=False)
    assert (out / "shard-00000.parquet").stat().st_mtime_ns == kept
    redone = read_shard(out / "shard-00001.parquet")
    for a, b in zip(lost.videos, redone.videos):
        np.testing.assert_array_equal(a.features["s3d"], b.features["s3d"])
    # the shards feed training directly
    bags = load_bags(sorted(out.glob("shard-*.parquet")), ["i3d", "s3d", "clip"], "train")
    assert bags.segments["clip"].shape == (4, 32, 512)

    # a manifest that regroups the videos invalidates the shards it changes
    (videos / "swapped.csv").write_text(
        "video_id,path,split,label,class_name\nodd,odd.mp4,train,1,Abuse\nlong,long.mp4,train,0,Normal\n")
    run_extract(cfg.extract, videos / "swapped.csv", out, torch.device("cpu"), shards=[0], progress=False)
    assert [v.meta.video_id for v in read_shard(out / "shard-00000.parquet").videos] == ["odd", "long"]

    # a different extraction setting invalidates the shards
    ten = extract_config(**{"extract.crops": "ten"})
    run_extract(ten.extract, videos / "videos.csv", out, torch.device("cpu"), shards=[0], progress=False)
    assert read_shard(out / "shard-00000.parquet").videos[0].features["i3d"].shape[1] == 10


def test_a_replaced_video_is_extracted_again(tmp_path):
    """The same path with other content (a broken video replaced by a repaired one) is not the shard's
    video any more: its size and time are recorded, and a rerun re-extracts (issue 21, item 1)."""
    data = {"extract": {"backbones": {"clip": TINY_BACKBONES["clip"]}, "crops": "center", "decode_short_side": 40,
                        "num_workers": 1}}
    cfg = DakdConfig.from_dict(data)
    (tmp_path / "v.mp4").write_bytes(b"broken")
    (tmp_path / "m.csv").write_text("video_id,path,split,label,class_name\nv,v.mp4,train,0,Normal\n")
    failures = run_extract(cfg.extract, tmp_path / "m.csv", tmp_path / "out", torch.device("cpu"), progress=False)
    assert [f["video_id"] for f in failures] == ["v"]
    write_video(tmp_path / "v.mp4", 20)
    assert run_extract(cfg.extract, tmp_path / "m.csv", tmp_path / "out", torch.device("cpu"), progress=False) == []
    assert [v.meta.video_id for v in read_shard(tmp_path / "out" / "shard-00000.parquet").videos] == ["v"]


def test_a_full_disk_is_one_line_and_a_rerun_extracts(videos, small_disk, tmp_path, capsys):
    """Issue 21, item 8, on a real full file system: the shard that does not fit is one line naming
    it and the space; nothing half-written is left, and once there is room a rerun extracts it."""
    import yaml
    from conftest import fill

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(extract_config().to_dict()))
    args = ["extract", "--config", str(config), "--manifest", str(videos / "videos.csv"), "--out-dir",
            str(small_disk / "features"), "--shard", "0", "--no-progress", "--tolerate-failures"]
    filler = fill(small_disk, leave=12_000)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    shard = small_disk / "features" / "shard-00000.parquet"
    assert err.startswith(f"dakd extract: error: {shard}: no space left on the device: writing it needs up to ")
    assert f"free in {small_disk / 'features'}; free some space and rerun" in err and "\n" not in err
    assert sorted(p.name for p in (small_disk / "features").iterdir()) == ["shard-00000.failures.json"]
    filler.unlink()
    assert main(args) == 0
    assert [v.meta.video_id for v in read_shard(shard).videos] == ["long", "odd", "one"]


def test_hanging_decoder_is_killed_by_the_timeout(videos, tmp_path):
    """A FIFO with no writer blocks the decoder forever, like decord's frame-count loop."""
    os.mkfifo(tmp_path / "stuck.mp4")
    write_video(tmp_path / "fine.mp4", 20)
    (tmp_path / "m.csv").write_text("video_id,path,split,label,class_name\n"
                                    "stuck,stuck.mp4,test,0,Normal\nfine,fine.mp4,test,0,Normal\n")
    cfg = extract_config(**{"extract.video_timeout_s": 10})
    failures = run_extract(cfg.extract, tmp_path / "m.csv", tmp_path / "out", torch.device("cpu"), progress=False)
    assert failures == [{"video_id": "stuck", "path": str(tmp_path / "stuck.mp4"),
                         "reason": "decoding stalled: no progress for 10 s"}]
    assert [v.meta.video_id for v in read_shard(tmp_path / "out" / "shard-00000.parquet").videos] == ["fine"]


def test_cli_exit_code_reports_failures(videos, tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(extract_config().to_dict()))
    args = ["extract", "--config", str(cfg), "--manifest", str(videos / "videos.csv"), "--out-dir",
            str(tmp_path / "out"), "--shard", "1", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "zero.mp4: empty file" in err and "2 video(s) failed" in err
    assert main([*args, "--tolerate-failures"]) == 0
    assert main([*args[:-3], "--shard", "7", "--no-progress"]) == 2
    assert "shard 7 out of range" in capsys.readouterr().err


def test_missing_checkpoint_fails_before_decoding(videos, tmp_path):
    cfg = extract_config(**{"extract.backbones.i3d.weights": str(tmp_path / "rgb_imagenet.pt")})
    with pytest.raises(DakdError, match="rgb_imagenet.pt: checkpoint for backbone 'inception_i3d' not found"):
        run_extract(cfg.extract, videos / "videos.csv", tmp_path / "out", torch.device("cpu"), progress=False)
    assert not (tmp_path / "out").exists()


def test_bf16_is_measured_against_fp32_and_only_used_on_cuda():
    from dakd.backbones import build_backbone
    from dakd.config import BackboneConfig
    from dakd.runtime import BF16_TOLERANCE, Precision, bf16_relative_error

    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig("s3d", "random", size=32))
    clips = torch.randn(2, 16, 3, 32, 32)
    error = bf16_relative_error(backbone, clips)  # CPU autocast: the same bf16 rounding as on CUDA
    assert 0.0 < error < 0.1
    cpu = Precision("auto", torch.device("cpu"))
    assert cpu.choose("s3d", backbone, clips) == "fp32" and cpu.record("s3d")["bf16_relative_error"] is None
    cuda = Precision("auto", torch.device("cuda"))
    assert cuda.choose("s3d", backbone, clips) == ("bf16" if error <= BF16_TOLERANCE else "fp32")
    assert cuda.record("s3d")["bf16_relative_error"] == pytest.approx(error)


def test_manifest_splits_come_from_the_caller(tmp_path):
    (tmp_path / "m.csv").write_text("video_id,path,split,label,class_name\nv,v.mp4,val,0,Normal\n")
    cfg = extract_config()
    with pytest.raises(DakdError, match=r"m.csv:2: unknown split 'val' \(allowed: train, test;"):
        run_extract(cfg.extract, tmp_path / "m.csv", tmp_path / "out", torch.device("cpu"), progress=False)
    # accepted with the validation split: the run gets as far as the shard numbers
    with pytest.raises(DakdError, match="shard 3 out of range"):
        run_extract(cfg.extract, tmp_path / "m.csv", tmp_path / "out", torch.device("cpu"), shards=[3],
                    progress=False, splits=("train", "test", "val"))


POOL_THEN_WAIT = """
import sys, time, types
from dakd.video.pool import DecodePool
cfg = types.SimpleNamespace(num_workers=2, snippet_len=4, snippet_stride=4, decode_short_side=None, decoder="decord",
                            batch_snippets=1, videos_per_worker=4, video_timeout_s=600)
pool = DecodePool([sys.argv[1]] * 4, cfg)
pids = [w.process.pid for w in pool.workers]

def blocked_writing(pid):
    try:
        wchan = open(f"/proc/{pid}/wchan").read()  # the kernel function a blocked write sleeps in
        return "send" in wchan or "pipe_write" in wchan  # sock_alloc_send_pskb (a socket pair), pipe_write
    except OSError:
        return False

deadline = time.monotonic() + 120  # nothing reads the pipes: the workers fill them and block
while not all(blocked_writing(p) for p in pids) and time.monotonic() < deadline:
    time.sleep(0.1)
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def _running(pid):
    """True while ``pid`` exists and is not a zombie (an orphan may wait for a reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_decode_workers_die_with_their_parent(tmp_path):
    """A worker blocked writing to its full result pipe must not outlive a SIGKILLed parent."""
    import signal
    import subprocess
    import sys
    import time

    write_video(tmp_path / "long.mp4", 200)
    parent = subprocess.Popen([sys.executable, "-c", POOL_THEN_WAIT, str(tmp_path / "long.mp4")],
                              stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_running(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [p for p in pids if _running(p)]
    for pid in alive:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"decode workers {alive} outlived their parent"
