"""The pieces of scoring that need no model: intervals, operating points, inputs, the online
snippet cutter."""

from __future__ import annotations

import numpy as np
import pytest

from dakd.errors import DakdError
from dakd.operating_points import (
    OperatingPointError,
    behaviour_on,
    best_f1,
    fpr_threshold,
    operating_points,
    resolve_threshold,
)
from dakd.scoring.intervals import alert_intervals
from dakd.scoring.online import snippets
from dakd.scoring.sources import expand_sources, stream_name
from dakd.scoring.stream import Frame
from dakd.video import plan_snippets


def spans(intervals):
    return [(i["start_frame"], i["end_frame"]) for i in intervals]


def test_intervals_merge_short_gaps_and_drop_short_runs():
    scores = np.array([0, 0, 1, 1, 0, 1, 0, 0, 0, 1], np.float32)
    assert spans(alert_intervals(scores, 1.0, 0.5)) == [(2, 4), (5, 6), (9, 10)]
    assert spans(alert_intervals(scores, 1.0, 0.5, min_gap_s=2)) == [(2, 6), (9, 10)]
    assert spans(alert_intervals(scores, 1.0, 0.5, min_gap_s=2, min_duration_s=2)) == [(2, 6)]
    assert spans(alert_intervals(scores, 1.0, 0.5, min_gap_s=3.5)) == [(2, 10)]
    merged = alert_intervals(scores, 2.0, 0.5, min_gap_s=1)  # at 2 fps a 1-frame gap is 0.5 s
    assert spans(merged) == [(2, 6), (9, 10)]
    assert merged[0]["start_s"] == 1.0 and merged[0]["end_s"] == 3.0 and merged[0]["duration_s"] == 2.0
    assert merged[0]["peak"] == 1.0 and merged[0]["mean"] == 0.75
    assert alert_intervals(scores, 1.0, 2.0) == [] and spans(alert_intervals(scores, 1.0, 0.0)) == [(0, 10)]


def test_best_f1_picks_the_threshold_of_highest_f1():
    point = best_f1(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert point["threshold"] == 0.35 and point["f1"] == pytest.approx(0.8)
    assert point["precision"] == pytest.approx(2 / 3) and point["recall"] == 1.0
    # tied scores are on the same side of any threshold
    tied = best_f1(np.array([1, 0, 0, 1]), np.array([0.5, 0.5, 0.5, 0.9]))
    assert tied["threshold"] == 0.9 and tied["f1"] == pytest.approx(2 / 3)
    with pytest.raises(OperatingPointError):
        best_f1(np.zeros(3), np.ones(3))


def test_false_alarm_thresholds_keep_at_most_the_rate_of_normal_frames():
    scores = np.arange(100, dtype=np.float32) / 100
    point = fpr_threshold(scores, 0.05)
    assert point["measured"] == 0.05 and np.count_nonzero(scores >= point["threshold"]) == 5
    assert 0.94 < point["threshold"] <= 0.95
    flat = fpr_threshold(np.full(50, 0.3, np.float32), 0.01)  # ties: nobody above
    assert flat["measured"] == 0.0 and flat["threshold"] > 0.3


def _points():
    return operating_points(np.linspace(0, 1, 200, dtype=np.float32), np.array([0, 1]), np.array([0.2, 0.7]),
                            "made up", "train", {})


def test_thresholds_resolve_by_number_and_name():
    points = _points()
    assert resolve_threshold("0.25", points, "m.pt")[0] == 0.25
    assert resolve_threshold(None, points, "m.pt")[0] == resolve_threshold("f1", points, "m.pt")[0] == 0.7
    assert resolve_threshold("fpr:0.05", points, "m.pt")[0] == points["fpr"][1]["threshold"]
    assert resolve_threshold(None, None, "m.pt") is None
    with pytest.raises(OperatingPointError, match=r"m.pt has operating points f1, fpr:0.01, fpr:0.05$"):
        resolve_threshold("fpr:0.1", points, "m.pt")
    with pytest.raises(OperatingPointError, match="m.pt has no operating points"):
        resolve_threshold("f1", None, "m.pt")
    with pytest.raises(OperatingPointError, match="never chosen on the test split"):
        operating_points(np.ones(3), np.array([0, 1]), np.array([0.2, 0.7]), "x", "test", {})


def test_behaviour_reports_each_point_on_labelled_frames():
    rows = behaviour_on(_points(), np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.8, 0.2, 0.9, 0.3]))
    f1 = rows[0]
    assert f1["name"] == "f1" and f1["false_alarm_rate"] == pytest.approx(1 / 3)
    assert f1["recall"] == 0.5 and f1["precision"] == 0.5


def test_intervals_take_each_frames_time():
    """A variable frame rate (issue 21, item 5): 5 frames at 1 fps, then 5 at 10 fps."""
    times = np.r_[np.arange(6.0), 5 + np.arange(1, 6) / 10]  # (F + 1,)
    scores = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 0], np.float32)
    first, second = alert_intervals(scores, 1.818, 0.5, times=times)
    assert (first["start_s"], first["end_s"], first["duration_s"]) == (2.0, 4.0, 2.0)
    assert (second["start_s"], second["end_s"]) == (pytest.approx(5.1), pytest.approx(5.3))
    assert len(alert_intervals(scores, 1.818, 0.5, min_gap_s=1.5, times=times)) == 1  # 1.1 s apart: merged


def test_frame_times_are_the_presentation_timestamps(tmp_path):
    from helpers import vfr_clip

    from dakd.video.timing import frame_times

    vfr_clip(tmp_path / "vfr.mp4")
    times, stamped = frame_times(tmp_path / "vfr.mp4", 80, 19.5)
    assert stamped and times.shape == (81,)
    np.testing.assert_allclose(times[[0, 19, 20, 21, 79, 80]], [0, 1.9, 2.0, 2.0 + 1 / 30, 4 - 1 / 30, 4.0], atol=1e-5)
    grid, stamped = frame_times(tmp_path / "vfr.mp4", 79, 19.5)  # another count than the packets: the grid
    assert not stamped and grid[19] == 19 / 19.5


def test_inputs_are_files_folders_patterns_and_urls(tmp_path):
    (tmp_path / "cam1").mkdir()
    for name in ("cam1/a.mp4", "cam1/b.MKV", "cam1/notes.txt", "c.avi"):
        (tmp_path / name).write_bytes(b"x")
    sources, failed = expand_sources([str(tmp_path / "cam1"), str(tmp_path / "*.avi"), "rtsp://cam:554/live",
                                      str(tmp_path / "nothing_*.mp4"), str(tmp_path / "cam1" / "a.mp4")])
    assert [(s.name, s.stream) for s in sources] == [("a", False), ("b", False), ("c", False),
                                                     ("cam_554_live", True)]
    assert len(failed) == 1 and "matches no video file" in failed[0]["reason"]
    (tmp_path / "cam2").mkdir()
    (tmp_path / "cam2" / "a.mp4").write_bytes(b"x")
    with pytest.raises(DakdError, match="its outputs would be named 'a'"):
        expand_sources([str(tmp_path / "cam1"), str(tmp_path / "cam2")])
    assert stream_name("http://127.0.0.1:8000/x/y.ts") == "127.0.0.1_8000_x_y.ts"
    assert [s.stream for s in expand_sources(["/dev/video0"], device_format="v4l2")[0]] == [True]


@pytest.mark.parametrize(("num_frames", "length", "stride"), [
    (1, 16, 16), (15, 16, 16), (16, 16, 16), (17, 16, 16), (47, 16, 16), (48, 16, 16), (40, 16, 8), (41, 16, 8),
    (10, 4, 3), (5, 4, 1)])
def test_online_snippets_follow_the_offline_plan(num_frames, length, stride):
    frames = [Frame(np.full((2, 2, 3), i, np.uint8), float(i)) for i in range(num_frames)]
    cut = list(snippets(frames, length, stride))
    plan = plan_snippets(num_frames, length, stride)
    assert len(cut) == plan.num_snippets
    for i, snippet in enumerate(cut):
        assert snippet.index == i and snippet.start == i * stride
        np.testing.assert_array_equal(snippet.frames[:, 0, 0, 0], plan.frames[i])
        assert snippet.arrived == float(min(i * stride + length, num_frames) - 1)  # its last real frame
    assert cut[-1].real_frames == plan.last_snippet_frames
