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


# ---------------------------------------------------------------- rotation and odd files


def write_frames(path, frames, rotation_ccw=None, fps=25):
    """Lossless H.264 (yuv444p) of uint8 (H, W, 3) ``frames``; ``rotation_ccw`` sets the display
    matrix through PyAV (counter-clockwise degrees, as ``VideoFrame.rotation`` reads it back)."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        stream.options = {"bf": "2", "qp": "0"}
        if rotation_ccw is not None:
            if not hasattr(stream, "set_display_rotation"):
                pytest.skip("this PyAV cannot write a display matrix (needs PyAV >= 15)")
            stream.set_display_rotation(rotation_ccw)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def gradient_frames(num_frames, width, height):
    """Grey frames whose level rises 2:3 along x:y (no symmetry survives a wrong turn or a
    transpose) and by 4 per frame (tells the frames apart)."""
    y, x = np.mgrid[0:height, 0:width]
    return [np.repeat(((2 * x + 3 * y) // 2 + 4 * i).astype(np.uint8)[..., None], 3, axis=2)
            for i in range(num_frames)]


def decoded_frames(decoder, batch_snippets=2):
    """Every frame of the video, in order, from the decoder's snippets."""
    batches = list(decoder.batches(batch_snippets))
    frames = np.concatenate([f for _, f in batches]).reshape(-1, decoder.height, decoder.width, 3)
    order = decoder.plan.frames.reshape(-1)
    return np.stack([frames[np.flatnonzero(order == i)[0]] for i in range(decoder.info.num_frames)])


@pytest.mark.parametrize("ccw, clockwise", [(90, 270), (-90, 90), (180, 180), (0, 0)])
def test_rotated_video_decodes_upright(tmp_path, ccw, clockwise):
    """A player turns the stored picture by the display matrix; so does the decoder."""
    import av

    stored = gradient_frames(20, 64, 40)
    path = tmp_path / f"rot{ccw}.mp4"
    write_frames(path, stored, rotation_ccw=ccw)
    with av.open(str(path)) as container:  # the matrix is in the file as FFmpeg reads it
        assert next(container.decode(video=0)).rotation == (ccw if ccw != 180 else -180)
    shown = np.stack([np.rot90(f, k=ccw // 90) for f in stored])  # np.rot90 turns counter-clockwise
    decoder = VideoDecoder(path, length=8, short_side=None)
    assert decoder.info.rotation == clockwise and decoder.info.num_frames == 20
    assert (decoder.info.width, decoder.info.height) == (shown.shape[2], shown.shape[1])
    frames = decoded_frames(decoder)
    assert frames.shape == shown.shape
    assert np.abs(frames.astype(int) - shown).max() <= 3

    # the resize to short_side applies to the displayed size
    small = VideoDecoder(path, length=8, short_side=20)
    expected_size = (20, 32) if clockwise in (90, 270) else (32, 20)
    assert (small.width, small.height) == expected_size
    halved = shown.reshape(20, shown.shape[1] // 2, 2, shown.shape[2] // 2, 2, 3).mean(axis=(2, 4))
    assert np.abs(decoded_frames(small).astype(float) - halved).mean() < 3


def test_rotation_convention_matches_a_clockwise_turn(tmp_path):
    """A 90-degree clockwise display turn moves the stored top-left corner to the top right."""
    stored = [np.zeros((40, 64, 3), np.uint8) for _ in range(3)]
    for frame in stored:
        frame[:8, :16] = 255
    path = tmp_path / "cw.mp4"
    write_frames(path, stored, rotation_ccw=-90)
    decoder = VideoDecoder(path, length=4, short_side=None)
    assert decoder.info.rotation == 90
    bright = np.argwhere(decoded_frames(decoder)[0, :, :, 0] > 128)
    assert bright.min(axis=0).tolist() == [0, 32] and bright.max(axis=0).tolist() == [15, 39]


@pytest.mark.parametrize("width, height, ccw", [(64, 48, 90), (48, 36, None), (72, 40, None)])
def test_widths_decord_misshapes_decode(tmp_path, width, height, ccw):
    """decord 0.6 returns 48- or 72-pixel-wide frames with 4 'channels' and then fails as if
    the file were truncated (a 64x48 phone video turned upright is 48 wide): such videos are
    read with PyAV, which gives the same frames as decord does for other widths."""
    from dakd.video.readers import PyAVReader

    stored = gradient_frames(12, width, height)
    path = tmp_path / "narrow.mp4"
    write_frames(path, stored, rotation_ccw=ccw)
    shown = np.stack([np.rot90(f, k=(ccw or 0) // 90) for f in stored])
    decoder = VideoDecoder(path, length=8, short_side=None, decoder="decord")
    assert isinstance(decoder.reader, PyAVReader)
    frames = decoded_frames(decoder)
    assert frames.shape == shown.shape and decoder.info.num_frames == 12
    assert np.abs(frames.astype(int) - shown).max() <= 3


def test_decord_width_check():
    from dakd.video.readers import decord_width_is_safe

    assert not any(decord_width_is_safe(w) for w in (16, 24, 32, 48, 72, 96, 144))  # 32, 96, 144: AVX-512
    assert all(decord_width_is_safe(w) for w in (40, 53, 64, 128, 256, 320, *range(192, 2000)))


def write_audio(path, codec="aac", seconds=1, rate=16000):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        samples = np.sin(np.arange(seconds * rate) / 10.0).astype(np.float32)[None, :] * 0.1
        for i in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i : i + 1024]), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize("name", ["song.m4a", "audio.mp4"])
def test_audio_only_file_is_a_clear_error(tmp_path, name):
    path = tmp_path / name
    write_audio(path)
    with pytest.raises(DecodeError) as info:
        VideoDecoder(path)
    assert str(info.value) == f"{path}: no video stream (audio only?)"


def test_audio_only_is_recognised_from_decord_too(tmp_path, monkeypatch):
    """Where PyAV cannot open a file, decord's 'cannot find video stream' check says the same."""
    from dakd.video import readers

    path = tmp_path / "song.m4a"
    write_audio(path)
    monkeypatch.setattr(readers, "probe_container", lambda path: None)
    with pytest.raises(DecodeError) as info:
        probe_video(path, "decord")
    assert str(info.value) == f"{path}: no video stream (audio only?)"


def test_a_turn_decord_did_not_apply_is_an_error(tmp_path, monkeypatch):
    """Should decord ever leave a quarter-turned picture sideways, the video fails clearly."""
    from dakd.video import readers

    path = tmp_path / "plain.mp4"
    write_video(path, 3, width=64, height=40)
    monkeypatch.setattr(readers, "probe_container", lambda path: (90, (64, 40)))
    with pytest.raises(DecodeError, match="plain.mp4: the 64x40 picture is shown turned 90 degrees but decord "
                                          "decodes it unturned"):
        probe_video(path, "decord")
