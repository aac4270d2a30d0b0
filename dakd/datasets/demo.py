"""The embedded demo data set: short synthetic surveillance-like videos, made deterministically.

A few fixed cameras look at textured scenes in which people (dark blobs) walk slowly.
Anomalous videos contain one event: ``panic`` (a crowd rushes through and everyone runs), ``fall`` (a
person drops and lies on the ground for a while) or ``flash`` (a burst of light, as from
an explosion). Training videos carry only their video-level label; test videos carry the
event's frame interval. Nothing in the features is planted: they come from whatever
backbones the extraction stage runs on these videos.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, write_json
from ..config import DemoSpec
from .base import (
    DatasetError,
    DatasetIndex,
    DatasetSources,
    VideoEntry,
    register_dataset,
    register_sources,
    require_file,
)

EVENTS = ("panic", "fall", "flash")


@dataclass
class _Person:
    x: float
    y: float
    vx: float
    w: int
    h: int
    shade: int


def _scene(rng: np.random.Generator, spec: DemoSpec) -> np.ndarray:
    """A fixed camera's static background, (H, W, 3) float."""
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w]
    base_colour = rng.uniform(70, 170, size=3)
    gradient = (xx / w * rng.uniform(-40, 40) + yy / h * rng.uniform(-40, 40))[..., None]
    texture = rng.normal(0, 12, size=(h // 4 + 1, w // 4 + 1, 1)).repeat(4, 0).repeat(4, 1)[:h, :w]
    return np.clip(base_colour + gradient + texture, 0, 255)


def _render(rng: np.random.Generator, spec: DemoSpec, background: np.ndarray, num_frames: int, event: str | None,
            span: tuple[int, int]) -> np.ndarray:
    """(num_frames, H, W, 3) uint8 frames of one video seen by the camera showing ``background``."""
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w]
    people = [_Person(rng.uniform(0, w), rng.uniform(h * 0.35, h * 0.75), rng.choice([-1, 1]) * rng.uniform(0.3, 0.8),
                      int(rng.integers(8, 12)), int(rng.integers(18, 26)), int(rng.integers(10, 50)))
              for _ in range(int(rng.integers(3, 6)))]
    actor = people[0]
    direction = float(rng.choice([-1, 1]))
    crowd = [_Person(w / 2 - direction * (w / 2 + rng.uniform(0, w)), rng.uniform(h * 0.2, h * 0.85), 0.0,
                     int(rng.integers(8, 12)), int(rng.integers(18, 26)), int(rng.choice([25, 235])))
             for _ in range(8)] if event == "panic" else []  # dark and light clothing
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    for t in range(num_frames):
        image = background.copy()
        active = event is not None and span[0] <= t < span[1]
        # a panicking crowd rushes through the scene while the event lasts
        for person in crowd if active else []:
            person.x += 7.0 * direction
            x0, y0 = int(person.x - person.w / 2), int(person.y - person.h / 2)
            image[max(y0, 0) : max(y0 + person.h, 0), max(x0, 0) : max(x0 + person.w, 0)] = person.shade
        for person in people:
            if active and event == "panic":
                person.x += 6.0 * np.sign(person.vx)  # everyone breaks into a run
            elif person is actor and event == "fall" and active:
                # falls and lies on the ground (drawn rotated), gets up when the event ends
                person.y = min(person.y + 2.5, h - 8)
            else:
                person.x += person.vx
            person.x %= w
            pw, ph = (person.h, person.w) if person is actor and event == "fall" and active else (person.w, person.h)
            x0, y0 = int(person.x - pw / 2), int(person.y - ph / 2)
            image[max(y0, 0) : max(y0 + ph, 0), max(x0, 0) : max(x0 + pw, 0)] = person.shade
        if active and event == "flash":
            image = image + 150.0 * (0.6 + 0.4 * np.sin(t * 2.1)) * np.exp(
                -((xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2) / (2 * (w * 0.35) ** 2))[..., None]
        image = image + rng.normal(0, 3, size=image.shape)
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """MPEG-4 Part 2 in an .mp4 (FFmpeg's own encoder, with B-frames): unlike x264 it gives
    byte-identical files on every run, so the demo is reproducible down to the bytes."""
    import av

    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            container.metadata["creation_time"] = "2000-01-01T00:00:00Z"  # not the wall clock
            stream = container.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            stream.options = {"qscale": "3", "bf": "2", "flags": "+bitexact"}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def make_demo(root: str | os.PathLike, spec: DemoSpec | None = None) -> Path:
    """Write the demo videos and ``demo.json`` (labels and test intervals) under ``root``."""
    spec = spec or DemoSpec()
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    plan = ([("train", None)] * spec.train_normal
            + [("train", EVENTS[i % 3]) for i in range(spec.train_anomalous)]
            + [("test", None)] * spec.test_normal
            + [("test", EVENTS[i % 3]) for i in range(spec.test_anomalous)])
    scenes = [_scene(rng, spec) for _ in range(spec.cameras)]
    records = []
    for number, (split, event) in enumerate(plan):
        video_rng = np.random.default_rng(rng.integers(2**63))
        camera = int(video_rng.integers(spec.cameras))
        num_frames = int(video_rng.uniform(spec.min_seconds, spec.max_seconds) * spec.fps)
        length = max(4, int(video_rng.uniform(0.15, 0.3) * num_frames))
        start = int(video_rng.integers(num_frames // 10, num_frames - length - num_frames // 10))
        span = (start, start + length)
        name = f"{split}_{number:03d}_{event or 'normal'}"
        frames = _render(video_rng, spec, scenes[camera], num_frames, event, span)
        _write_mp4(root / "videos" / f"{name}.mp4", frames, spec.fps)
        records.append({"video_id": name, "file": f"videos/{name}.mp4", "split": split, "label": int(event is not None),
                        "class_name": event or "Normal", "num_frames": num_frames,
                        "intervals": [list(span)] if event is not None and split == "test" else []})
    index = root / "demo.json"
    write_json(index, {"spec": asdict(spec), "videos": records})
    return index


@register_dataset("demo")
def demo(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """The demo set written by :func:`make_demo` (``demo.json`` lists videos and intervals)."""
    index_file = require_file(root / "demo.json")
    try:
        records = json.loads(index_file.read_text())["videos"]
    except (ValueError, KeyError) as exc:
        raise DatasetError(f"{index_file}: not a demo index ({exc})") from None
    entries = [VideoEntry(r["video_id"], require_file(root / r["file"]), r["split"], r["label"], r["class_name"])
               for r in records]
    intervals = {r["video_id"]: [tuple(i) for i in r["intervals"]] for r in records if r["split"] == "test"}
    return DatasetIndex(entries, intervals)


@register_sources("demo")
def demo_sources(root: Path, options: dict[str, Any]) -> DatasetSources:
    """The demo's index reads ``demo.json`` only (make_demo writes it after the videos)."""
    return DatasetSources([root / "demo.json"], [])
