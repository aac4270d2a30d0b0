"""What reruns after a change, on real Snakemake runs of a tiny XD-Violence-layout dataset made with
ffmpeg (12 two-second 64x48 clips, 3 shards of 4): an edit to the dataset's files reruns the index,
a replaced video re-extracts its own shard only (issue 21, item 1), and a --config value beats the
dataset's overrides, saying what it replaced (item 2).

The tests run in file order on one workdir; each starts from, and leaves, an up-to-date state.
"""

import csv
import json

import pyarrow.parquet as pq
import pytest
import yaml
from helpers import ffmpeg_clip
from workflow_helpers import REPO, TINY_MODEL, planned_jobs, snakemake

from dakd.annotations import read_annotations
from dakd.checkpoints import load_checkpoint

pytestmark = pytest.mark.slow

TARGET = "results/xd/teacher_auc.json"
TRAIN = ["v=n0__#1_label_A", "v=n1__#1_label_A", "v=n2__#1_label_A", "v=n3__#1_label_A",
         "v=f0__#1_label_B1-0-0", "v=f1__#1_label_B1-0-0", "v=f2__#1_label_B1-0-0", "v=f3__#1_label_B1-0-0"]
TEST = ["v=t0__#1_label_A", "v=t1__#1_label_A", "v=t2__#1_label_B1-0-0", "v=t3__#1_label_B2-0-0"]
BROKEN = "v=n3__#1_label_A"  # a train video that starts out unreadable, and is later repaired


def _config(workdir, root) -> None:
    """The shipped config with one dataset: the tiny XD tree, with the tiny demo's CPU overrides."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    overrides = cfg["datasets"]["demo"]["overrides"]
    for backbone in overrides["extract"]["backbones"].values():
        backbone["size"] = 32
    overrides["extract"].update({"shard_size": 4, "decode_short_side": 48})
    for stage in ("teacher", "student"):
        overrides[stage] = {"model": dict(TINY_MODEL), "optim": {"epochs": 2, "normal_per_batch": 4,
                                                                  "anomalous_per_batch": 4}}
    overrides["evaluate"] = {"metric": "ap"}
    cfg["datasets"] = {"xd": {"kind": "xd_violence", "root": str(root), "overrides": overrides}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The dataset run to the teacher's evaluation once; the broken video is left out of its shard."""
    workdir = tmp_path_factory.mktemp("reruns")
    root = workdir / "XD"
    for split, names in (("train", TRAIN), ("test", TEST)):
        (root / split).mkdir(parents=True)
        for i, name in enumerate(names):
            ffmpeg_clip(root / split / f"{name}.mp4", frames=32, fps=16, source="mandelbrot" if i % 2 else "testsrc")
    (root / "train" / f"{BROKEN}.mp4").write_bytes(b"\0" * 2048)
    (root / "annotations.txt").write_text("v=t2__#1_label_B1-0-0 0 16\nv=t3__#1_label_B2-0-0 8 24\n")
    _config(workdir, root)
    run = snakemake(workdir, "--cores", "2", TARGET)
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def _shards(workdir) -> dict[str, int]:
    """{shard file: its modification time}: a re-extracted shard gets a new one."""
    return {p.name: p.stat().st_mtime_ns for p in sorted((workdir / "results/xd/features").glob("shard-*"))}


def _plan(workdir, *args) -> dict[str, int]:
    run = snakemake(workdir, "-n", TARGET, *args)
    assert run.returncode == 0, run.stderr[-3000:]
    return planned_jobs(run.stdout)


def test_an_annotation_edit_reruns_the_index_and_what_reads_it_not_the_extraction(workdir):
    assert _plan(workdir) == {}
    shards = _shards(workdir)
    before = json.loads((workdir / TARGET).read_text())
    (workdir / "XD" / "annotations.txt").write_text("v=t2__#1_label_B1-0-0 16 32\nv=t3__#1_label_B2-0-0 8 24\n")
    assert {"index_dataset", "train_teacher", "evaluate"} <= set(_plan(workdir))
    run = snakemake(workdir, "--cores", "2", TARGET)
    assert run.returncode == 0, run.stderr[-4000:]
    assert read_annotations(workdir / "results/xd/annotations.parquet")["v=t2__#1_label_B1-0-0"] == [(16, 32)]
    assert _shards(workdir) == shards  # the same videos: nothing re-extracted
    after = json.loads((workdir / TARGET).read_text())
    assert after["provenance"]["created"] != before["provenance"]["created"]
    assert _plan(workdir) == {}


def test_a_repaired_video_re_extracts_its_own_shard_only(workdir):
    shards = _shards(workdir)
    with open(workdir / "results/xd/videos.csv") as fh:
        number = [row["video_id"] for row in csv.DictReader(fh)].index(BROKEN) // 4
    failures = workdir / f"results/xd/features/shard-{number:05d}.failures.json"
    assert [f["video_id"] for f in json.loads(failures.read_text())] == [BROKEN]
    ffmpeg_clip(workdir / "XD" / "train" / f"{BROKEN}.mp4", frames=32, fps=16)
    assert _plan(workdir) == {"extract_shard": 1, "train_teacher": 1, "evaluate": 1}
    run = snakemake(workdir, "--cores", "2", TARGET)
    assert run.returncode == 0, run.stderr[-4000:]
    changed = {name for name, mtime in _shards(workdir).items() if shards[name] != mtime}
    assert changed == {f"shard-{number:05d}.parquet", f"shard-{number:05d}.failures.json"}
    assert json.loads(failures.read_text()) == []
    shard = pq.read_table(workdir / f"results/xd/features/shard-{number:05d}.parquet", columns=["video_id"])
    assert BROKEN in shard.column("video_id").to_pylist()
    assert _plan(workdir) == {}


def test_a_video_added_or_removed_reruns_the_index(workdir):
    added = workdir / "XD" / "train" / "v=n4__#1_label_A.mp4"
    ffmpeg_clip(added, frames=32, fps=16)
    assert "index_dataset" in _plan(workdir)
    added.unlink()
    assert _plan(workdir) == {}
    (workdir / "XD" / "train" / "._v=n0__#1_label_A.mp4").write_bytes(b"\0" * 4096)  # skipped: changes nothing
    assert _plan(workdir) == {}


def test_a_command_line_value_wins_over_the_dataset_overrides(workdir):
    """Issue 21, item 2: the dataset's overrides set teacher.optim.epochs (2 here), and --config
    'teacher={optim: {epochs: 7}}' was "Nothing to be done". Now it reruns the teacher, runs with 7,
    and says in one line what it replaced; the per-dataset and the dotted forms are the same run."""
    override = ["--config", "teacher={optim: {epochs: 7}}"]
    run = snakemake(workdir, "-n", TARGET, *override)
    assert planned_jobs(run.stdout) == {"train_teacher": 1, "evaluate": 1}, run.stdout[-3000:]
    said = [line for line in (run.stdout + run.stderr).splitlines() if "replaces" in line]
    assert said == ["dakd: --config teacher.optim.epochs=7 replaces 2 from datasets.xd.overrides"]
    run = snakemake(workdir, "--cores", "2", TARGET, *override)
    assert run.returncode == 0, run.stderr[-4000:]
    checkpoint = load_checkpoint(workdir / "results/xd/teacher.pt")
    assert checkpoint["config"]["teacher"]["optim"]["epochs"] == 7
    assert _plan(workdir, "--config", "datasets={xd: {overrides: {teacher: {optim: {epochs: 7}}}}}") == {}
    # the dotted form (item 7): Snakemake refuses --config teacher.optim.epochs=7, dakd takes set=...
    assert _plan(workdir, "--config", "set=teacher.optim.epochs=7") == {}
    assert _plan(workdir, "--config", "set=[datasets.xd.overrides.teacher.optim.epochs=7]") == {}
    assert _plan(workdir) == {"train_teacher": 1, "evaluate": 1}  # config.yaml alone: 2 epochs again
    run = snakemake(workdir, "--cores", "2", TARGET)
    assert run.returncode == 0, run.stderr[-4000:]
