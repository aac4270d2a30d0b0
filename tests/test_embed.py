"""Batches that mix videos (dakd.embed.embedded_videos)."""

import numpy as np
import pytest
import torch

from dakd.embed import ExtractTimings, embedded_videos

CPU = torch.device("cpu")


def snippets(video, count, height=6, width=8, first=0):
    """uint8 (count, 2, H, W, 3) whose pixels encode the video and snippet number."""
    out = np.zeros((count, 2, height, width, 3), np.uint8)
    for i in range(count):
        out[i] = 10 * video + first + i
    return out


def events_of(videos, chunk):
    """DecodePool-style events: each video's info, its snippets in chunks, then done."""
    events = []
    for index, frames in enumerate(videos):
        events.append(("info", index, {"num_snippets": len(frames)}))
        for start in range(0, len(frames), chunk):
            events.append(("batch", index, (start, frames[start : start + chunk])))
        events.append(("done", index, None))
    return events


class Recorder:
    def __init__(self):
        self.sizes = []

    def __call__(self, frames):
        self.sizes.append(len(frames))
        return {"b": frames.float().mean(dim=(1, 2, 3, 4)).numpy()[:, None]}  # (b, 1): each snippet's code


def test_short_videos_share_batches_and_keep_their_own_features():
    videos = [snippets(v, n) for v, n in enumerate([1, 2, 1, 3, 1, 5])]
    embed, timings = Recorder(), ExtractTimings()
    out = list(embedded_videos(events_of(videos, chunk=2), embed, batch_snippets=4, device=CPU, timings=timings))
    assert sum(embed.sizes) == 13 and len(embed.sizes) <= 4  # 13 snippets, not one call per chunk (9 chunks)
    assert all(size >= 4 for size in embed.sizes[:-1])
    done = {index: payload for kind, index, payload in out if kind == "done"}
    assert sorted(done) == list(range(6))
    for index, (info, chunks) in done.items():
        features = np.concatenate([f for _, f in sorted(chunks["b"], key=lambda c: c[0])])
        np.testing.assert_array_equal(features[:, 0], 10 * index + np.arange(len(videos[index])))
        assert info == {"num_snippets": len(videos[index])}
    figures = timings.finish()
    assert figures["snippets"] == 13 and figures["frames"] == 26 and figures["batches"] == len(embed.sizes)


def test_frames_of_different_sizes_are_never_batched_together():
    videos = [snippets(0, 2), snippets(1, 2, height=4), snippets(2, 2), snippets(3, 2, height=4)]
    shapes = []

    def embed(frames):
        shapes.append(tuple(frames.shape))
        return {"b": frames.float().mean(dim=(1, 2, 3, 4)).numpy()[:, None]}

    out = list(embedded_videos(events_of(videos, chunk=2), embed, batch_snippets=4, device=CPU))
    assert sorted(shapes) == [(4, 2, 4, 8, 3), (4, 2, 6, 8, 3)]
    assert sorted(index for kind, index, _ in out if kind == "done") == [0, 1, 2, 3]


def test_a_failed_video_is_reported_once_and_its_late_chunks_ignored():
    events = [("info", 0, {}), ("batch", 0, (0, snippets(0, 1))), ("error", 0, "decoding stalled"),
              ("batch", 0, (1, snippets(0, 1))), ("info", 1, {}), ("batch", 1, (0, snippets(1, 3))), ("done", 1, None)]
    out = list(embedded_videos(events, Recorder(), batch_snippets=8, device=CPU))
    assert [(kind, index) for kind, index, _ in out] == [("error", 0), ("done", 1)]
    assert out[0][2] == "decoding stalled"


def test_resizing_on_the_device_is_the_workers_resize():
    """On a GPU the stored-size frames are resized where the backbones run; the result is the
    same embedding as frames the workers resized (here both on the CPU)."""
    from dakd.backbones import build_backbone
    from dakd.config import BackboneConfig
    from dakd.embed import embed_snippets
    from dakd.video import resize_frames

    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig("s3d", "random", size=32)).eval()
    stored = torch.randint(0, 256, (2, 16, 60, 80, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    here = embed_snippets(stored, {"s3d": backbone}, "center", CPU, short_side=40)["s3d"]
    resized = resize_frames(stored.flatten(0, 1), 40).unflatten(0, (2, 16))
    assert resized.shape == (2, 16, 40, 53, 3)
    np.testing.assert_array_equal(here, embed_snippets(resized, {"s3d": backbone}, "center", CPU)["s3d"])


def test_decoding_in_process_gives_the_pools_events(tmp_path):
    """decode_device: cuda decodes with torchcodec in the extracting process; the event stream
    (checked here with torchcodec on the CPU) carries the same frames as the worker pool's."""
    pytest.importorskip("torchcodec.decoders", exc_type=(ImportError, RuntimeError, OSError))
    from helpers import write_video

    from dakd.config import ExtractConfig
    from dakd.video.pool import DecodePool, decode_here

    for name, frames in (("a", 40), ("b", 7)):
        write_video(tmp_path / f"{name}.mp4", frames, width=64, height=48)
    paths = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), str(tmp_path / "missing.mp4")]
    cfg = ExtractConfig(backbones={}, decoder="torchcodec", num_workers=1, batch_snippets=2, decode_short_side=32)

    def collect(events):
        out = {}
        for kind, index, payload in events:
            if kind == "batch":
                out.setdefault(index, []).append((payload[0], np.asarray(payload[1])))
            elif kind == "error":
                out[index] = payload.split(":")[-1].strip()
        return out

    here = collect(decode_here(paths, cfg, "cpu"))
    pool = DecodePool(paths, cfg, resize=False)
    try:
        there = collect(pool.events())
    finally:
        pool.close()
    assert here[2] == there[2] == "video file not found"
    for index in (0, 1):
        assert [s for s, _ in here[index]] == [s for s, _ in sorted(there[index], key=lambda c: c[0])]
        np.testing.assert_array_equal(np.concatenate([f for _, f in here[index]]),
                                      np.concatenate([f for _, f in sorted(there[index], key=lambda c: c[0])]))
    assert here[0][0][1].shape == (2, 16, 48, 64, 3)  # stored size: the resize happens on the device


def test_gpu_decoding_is_checked_where_it_is_configured(tmp_path):
    from dakd.config import ConfigError, DakdConfig
    from dakd.errors import DakdError
    from dakd.extract import run_extract
    from dakd.video import DecodeError, open_reader

    with pytest.raises(ConfigError, match=r"^extract.decode_device: cuda needs decoder torchcodec \(NVDEC\), got "
                                          r"decoder 'decord'$"):
        DakdConfig.from_dict({"extract": {"decode_device": "cuda", "decoder": "decord"}})
    cfg = DakdConfig.from_dict({"extract": {"decode_device": "cuda", "decoder": "torchcodec",
                                            "backbones": {"s3d": {"arch": "s3d", "weights": "random"}}}}).extract
    (tmp_path / "m.csv").write_text("video_id,path,split,label,class_name\na,a.mp4,train,0,Normal\n")
    with pytest.raises(DakdError, match="extract.decode_device: cuda decodes on the GPU .NVDEC., but extraction "
                                        "runs on cpu"):
        run_extract(cfg, tmp_path / "m.csv", tmp_path / "out", CPU)
    with pytest.raises(DecodeError, match="decoder pyav decodes on the CPU only"):
        open_reader("pyav", __file__, "cuda")
