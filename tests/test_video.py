import re

import numpy as np
import pytest
from helpers import write_video

from dakd.video import DecodeError, VideoDecoder, plan_snippets, probe_video


def test_snippet_plan_exact_frames_and_padding():
    plan = plan_snippets(50, 16)
    assert plan.num_snippets == 4 and plan.last_snippet_frames == 2
    assert plan.frames[0].tolist() == list(range(16))
    assert plan.frames[3].tolist() == [48, 49] + [49] * 14


def test_snippet_plan_exact_multiple_has_no_padding():
    plan = plan_snippets(64, 16)
    assert plan.num_snippets == 4 and plan.last_snippet_frames == 16
    assert plan.frames[-1].tolist() == list(range(48, 64))


def test_snippet_plan_short_and_single_frame_videos():
    one = plan_snippets(1, 16)
    assert one.num_snippets == 1 and one.last_snippet_frames == 1 and one.frames.tolist() == [[0] * 16]
    short = plan_snippets(10, 16)
    assert short.frames.tolist() == [list(range(10)) + [9] * 6] and short.last_snippet_frames == 10


def test_snippet_plan_with_overlapping_stride():
    plan = plan_snippets(40, 16, stride=8)
    assert [row[0] for row in plan.frames.tolist()] == [0, 8, 16, 24]
    assert plan.frames[-1].tolist() == list(range(24, 40)) and plan.last_snippet_frames == 16
    with pytest.raises(ValueError):
        plan_snippets(0, 16)


def test_decoder_returns_the_planned_frames_resized(tmp_path):
    path = tmp_path / "odd.mp4"
    write_video(path, 37, width=65, height=49, step=6)
    decoder = VideoDecoder(path, length=16, short_side=24)
    assert decoder.info.num_frames == 37 and decoder.info.fps == pytest.approx(25.0)
    assert (decoder.width, decoder.height) == (32, 24)
    batches = list(decoder.batches(batch_snippets=2))
    assert [start for start, _ in batches] == [0, 2]
    frames = np.concatenate([f for _, f in batches])
    assert frames.shape == (3, 16, 24, 32, 3) and frames.dtype == np.uint8
    levels = frames[:, :, 12, 16, 0].astype(int)
    expected = decoder.plan.frames * 6
    assert np.abs(levels - expected).max() <= 2  # lossless up to colour conversion


def test_single_frame_video(tmp_path):
    path = tmp_path / "one.mp4"
    write_video(path, 1)
    decoder = VideoDecoder(path, short_side=None)
    (_, frames), = decoder.batches(8)
    assert frames.shape == (1, 16, 48, 64, 3)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    (lambda p: p.write_text("this is not a video"), "cannot open video"),
    (lambda p: None, "video file not found"),
])
def test_bad_files_are_clear_errors(tmp_path, make, message):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(DecodeError, match=re.escape(message)) as info:
        probe_video(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_file_is_a_clear_error(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, 60)
    bad = tmp_path / "truncated.mp4"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="truncated.mp4"):
        list(VideoDecoder(bad).batches(4))
