"""The workflow's scoring target on the tiny demo: results/demo/scored/<video>.json for every
video of a folder, scored by the teacher (three backbones from one decode pass), equal to
what the DAG's own evaluation scored for the same videos."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from workflow_helpers import planned_jobs, snakemake, tiny_demo_config

pytestmark = pytest.mark.slow

SCORE = ["--config", "score={input_dir: footage, model: teacher, min_gap_s: 0.5}"]


@pytest.fixture(scope="module")
def scored_run(tiny_demo):
    """The demo's teacher and its evaluation, then two test videos (a normal and an anomalous one)
    copied to footage/ and scored (each job builds three backbones: a minute on a busy 2-core machine)."""
    run = snakemake(tiny_demo, "--cores", "2", "results/demo/teacher_auc.json")
    assert run.returncode == 0, run.stderr[-4000:]
    footage = tiny_demo / "footage"
    footage.mkdir(exist_ok=True)
    videos = sorted((tiny_demo / "results/demo/data/videos").glob("test_*.mp4"))
    for video in (videos[0], videos[-1]):
        shutil.copy(video, footage / video.name)
    plan = planned_jobs(snakemake(tiny_demo, "-n", "results/demo/scored.json", *SCORE).stdout)
    assert plan == {"score_video": 2, "score_folder": 1}
    run = snakemake(tiny_demo, "--cores", "2", "results/demo/scored.json", *SCORE)
    assert run.returncode == 0, run.stderr[-4000:]
    return tiny_demo


def test_every_video_of_the_folder_is_scored_as_evaluation_scored_it(scored_run):
    results = scored_run / "results" / "demo"
    table = pq.read_table(results / "teacher_scores.parquet").to_pylist()
    evaluated = {r["video_id"]: r["snippet_scores"] for r in table}
    footage = sorted(p.stem for p in (scored_run / "footage").glob("*.mp4"))
    summary = json.loads((results / "scored.json").read_text())
    assert sorted(v["video"] for v in summary["videos"]) == footage and summary["total"]["videos"] == 2
    assert sorted(name.endswith("_normal") for name in footage) == [False, True]
    for name in footage:
        expected = evaluated[name]
        report = json.loads((results / "scored" / f"{name}.json").read_text())
        np.testing.assert_allclose(report["snippet_scores"], expected, rtol=0, atol=1e-5)
        assert sorted(report["extraction"]["backbones"]) == ["clip", "i3d", "s3d"]
        assert report["threshold"]["name"] == "f1" and report["interval_settings"]["min_gap_s"] == 0.5
        for suffix in (".png", ".scores.parquet"):
            assert (results / "scored" / f"{name}{suffix}").is_file()
        assert (results / "logs" / "score" / f"{name}.log").is_file()


def test_a_new_threshold_rescores_without_retraining(scored_run):
    assert planned_jobs(snakemake(scored_run, "-n", "results/demo/scored.json", *SCORE).stdout) == {}
    other = ["--config", "score={input_dir: footage, model: teacher, min_gap_s: 0.5, threshold: 'fpr:0.05'}"]
    assert planned_jobs(snakemake(scored_run, "-n", "results/demo/scored.json", *other).stdout) == {
        "score_video": 2, "score_folder": 1}


def test_a_missing_footage_folder_stops_the_plan_with_one_line(tmp_path):
    tiny_demo_config(tmp_path)
    run = snakemake(tmp_path, "-n", "results/demo/scored.json", "--config", "score={input_dir: nowhere}")
    assert run.returncode != 0
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if "score.input_dir" in line]
    assert lines == ["dakd: dataset 'demo': score.input_dir nowhere not found"], run.stderr[-2000:]
