"""Every decoder (extract.decoder) yields the same frames: equal counts, equal pixels."""

import re

import numpy as np
import pytest
import torch
from helpers import write_video

from dakd.video import READERS, DecodeError, VideoDecoder, open_reader, resize_frames


def torchcodec_missing() -> str:
    try:
        import torchcodec.decoders  # noqa: F401  (loads FFmpeg's shared libraries)
    except (ImportError, RuntimeError, OSError) as exc:
        return f"torchcodec cannot load here ({type(exc).__name__}); install FFmpeg's libraries (CI does)"
    return ""


DECODERS = [pytest.param(name, marks=pytest.mark.skipif(bool(torchcodec_missing()), reason=torchcodec_missing()))
            if name == "torchcodec" else name for name in ("decord", "pyav", "torchcodec")]


def test_every_configurable_decoder_is_registered():
    from typing import get_args

    from dakd.config.choices import Decoder

    assert READERS.names() == sorted(get_args(Decoder))
    with pytest.raises(DecodeError, match="unknown decoder 'ffms2'"):
        open_reader("ffms2", __file__)


def encode(path, frames, codec="libx264", pix_fmt="yuv420p", options=None, container_options=None, fps=25):
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def textured(num_frames, width, height, seed=0):
    """Moving colour ramps under noise: chroma and motion that a wrong decode cannot hide."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(num_frames):
        image = np.stack([(3 * x + 5 * i) % 256, (2 * y + 7 * i) % 256, (x + y + 11 * i) % 256], axis=-1)
        frames.append(np.clip(image + rng.integers(-24, 24, image.shape), 0, 255).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoders")
    encode(root / "h264_bframes.mp4", textured(45, 320, 240), options={"bf": "3", "g": "12"})
    encode(root / "vp9.webm", textured(30, 160, 120), codec="libvpx-vp9", options={"deadline": "realtime"})
    encode(root / "odd_size.mp4", textured(20, 177, 99), pix_fmt="yuv444p", options={"bf": "2"})
    encode(root / "narrow_for_decord.mp4", textured(12, 48, 36), options={"bf": "2"})
    write_video(root / "one_frame.mp4", 1, width=64, height=48)
    encode(root / "full.mp4", textured(60, 64, 48), options={"bf": "2"}, container_options={"movflags": "faststart"})
    data = (root / "full.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])  # header claims 60 frames, half the data
    return root


GOOD = ["h264_bframes.mp4", "vp9.webm", "odd_size.mp4", "narrow_for_decord.mp4", "one_frame.mp4"]


def every_frame(name, path):
    reader = open_reader(name, path)
    try:
        frames = reader.read(list(range(reader.num_frames)))
        return (reader.num_frames, reader.fps, reader.width, reader.height), np.asarray(frames)
    finally:
        reader.close()


@pytest.mark.parametrize("video", GOOD)
@pytest.mark.parametrize("decoder", DECODERS[1:])
def test_decoders_give_decords_frames(videos, video, decoder):
    (count, fps, width, height), frames = every_frame(decoder, videos / video)
    (ref_count, ref_fps, ref_width, ref_height), reference = every_frame("decord", videos / video)
    assert (count, width, height) == (ref_count, ref_width, ref_height)
    assert fps == pytest.approx(ref_fps)
    np.testing.assert_array_equal(frames, reference)  # bit-exact: same FFmpeg YUV -> RGB conversion


@pytest.mark.parametrize("decoder", DECODERS)
def test_snippets_after_the_resize_are_equal(videos, decoder):
    """The resize is one function for every decoder, so the snippets match exactly too."""
    path = videos / "h264_bframes.mp4"
    reference = np.concatenate([f for _, f in VideoDecoder(path, 16, 8, 112, "decord").batches(2)])
    got = VideoDecoder(path, 16, 8, 112, decoder)
    assert (got.width, got.height) == (149, 112)
    np.testing.assert_array_equal(np.concatenate([f for _, f in got.batches(2)]), reference)


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_truncated_file_is_an_error_naming_it(videos, decoder):
    path = videos / "truncated.mp4"
    with pytest.raises(DecodeError) as info:
        list(VideoDecoder(path, 16, 16, None, decoder).batches(4))
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    (lambda p: p.write_text("not a video"), "cannot open video"),
])
def test_bad_files_are_the_same_error_for_every_decoder(tmp_path, decoder, make, problem):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(DecodeError, match=re.escape(problem)) as info:
        VideoDecoder(path, decoder=decoder)
    assert str(info.value).startswith(f"{path}: ")


def test_pyav_serves_overlapping_and_earlier_frames(videos):
    """Overlapping snippets ask for frames behind the last one decoded; far-back ones restart."""
    _, reference = every_frame("decord", videos / "h264_bframes.mp4")
    reader = open_reader("pyav", videos / "h264_bframes.mp4")
    for indices in ([0, 1, 2, 20, 30], [25, 26, 31], [3, 44], [0]):
        np.testing.assert_array_equal(reader.read(indices), reference[indices])
    reader.close()


def test_resize_frames_keeps_shape_dtype_and_the_short_side():
    frames = torch.randint(0, 256, (3, 240, 320, 3), dtype=torch.uint8)
    out = resize_frames(frames, 256)
    assert out.shape == (3, 256, 341, 3) and out.dtype == torch.uint8
    assert resize_frames(frames, None) is frames and resize_frames(frames, 240) is frames
    flat = torch.full((1, 30, 40, 3), 77, dtype=torch.uint8)
    assert (resize_frames(flat, 15) == 77).all()  # a flat picture stays flat: no ringing, no offset


def test_a_decoder_that_cannot_run_stops_the_extraction_once_before_any_video(monkeypatch, tmp_path):
    import sys

    from dakd import extract
    from dakd.config import ExtractConfig
    from dakd.video.readers import check_decoder

    monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # import torchcodec.decoders raises ImportError
    with pytest.raises(DecodeError, match=r"^decoder torchcodec is unavailable \(.*\); install torchcodec"):
        check_decoder("torchcodec")
    check_decoder("pyav")
    manifest = tmp_path / "videos.csv"
    manifest.write_text("video_id,path,split,label,class_name\nv,v.mp4,train,0,Normal\n")

    def no_backbones(*args, **kwargs):
        raise AssertionError("backbones were built although no video can be decoded")

    monkeypatch.setattr(extract, "build_backbones", no_backbones)
    with pytest.raises(DecodeError, match="decoder torchcodec is unavailable"):
        extract.run_extract(ExtractConfig(decoder="torchcodec"), manifest, tmp_path / "out", torch.device("cpu"))
