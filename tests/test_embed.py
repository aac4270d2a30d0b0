"""Batches that mix videos (dakd.embed.embedded_videos)."""

import numpy as np
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
