"""What scoring writes per video, each file atomically:

- ``<video>.scores.parquet``: ``frame`` (int64), ``time_s`` (float64: when the frame is shown,
  its presentation timestamp), ``score`` (float32), one row per frame the snippets cover; the
  file metadata key ``dakd`` holds the provenance.
- ``<video>.json``: fps, frames, snippet scores, the threshold and where it came from, the
  anomalous intervals (start/end in seconds and frames, peak and mean score), how it was
  scored and the provenance.
- ``<video>.png``: the score over time with the threshold and the intervals shaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ..atomic import atomic_path, write_json  # noqa: E402
from .scorer import ScoredVideo  # noqa: E402


def output_paths(out_dir: str | Path, name: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    return {"scores": out_dir / f"{name}.scores.parquet", "json": out_dir / f"{name}.json",
            "png": out_dir / f"{name}.png", "overlay": out_dir / f"{name}.overlay.mp4"}


def video_report(video: ScoredVideo, threshold: dict[str, Any] | None, intervals: list[dict[str, Any]] | None,
                 settings: dict[str, Any], extraction: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    """The ``<video>.json`` record (see the module docstring)."""
    meta = video.meta
    return {
        "video": video.source.name,
        "source": video.source.location,
        "fps": meta.fps,
        "frames": meta.num_frames,
        "duration_s": float(video.seconds(meta.num_frames)[-1]),
        "snippet_len": meta.snippet_len,
        "snippet_stride": meta.snippet_stride,
        "snippets": meta.num_snippets,
        "snippet_scores": [float(s) for s in video.snippet_scores],
        "threshold": threshold,
        "intervals": intervals,
        "interval_settings": settings,
        "run": video.run,
        "extraction": extraction,
        "provenance": provenance,
    }


def write_scores_table(path: Path, video: ScoredVideo, provenance: dict[str, Any]) -> None:
    """One row per covered frame: its index, the time it is shown in seconds and its score."""
    scores = video.frame_scores
    frames = np.arange(len(scores), dtype=np.int64)
    table = pa.table({"frame": frames, "time_s": video.seconds(len(scores))[:-1], "score": scores.astype(np.float32)})
    table = table.replace_schema_metadata({b"dakd": json.dumps({"provenance": provenance}, default=str)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def plot_timeline(path: Path, video: ScoredVideo, threshold: dict[str, Any] | None,
                  intervals: list[dict[str, Any]] | None) -> None:
    """The score over seconds, the threshold as a dashed line, intervals shaded red."""
    scores = video.frame_scores
    seconds = video.seconds(len(scores))
    fig, ax = plt.subplots(figsize=(10, 2.8))
    for interval in intervals or []:
        ax.axvspan(interval["start_s"], interval["end_s"], color="tab:red", alpha=0.25, lw=0)
    if len(scores):
        ax.stairs(scores, seconds, color="tab:blue", lw=1.2, baseline=None)
    if threshold is not None:
        ax.axhline(threshold["value"], color="tab:red", ls="--", lw=1, label=f"threshold {threshold['name']}")
        ax.legend(loc="upper right", fontsize=8)
    count = "no threshold" if intervals is None else f"{len(intervals)} interval{'s' * (len(intervals) != 1)}"
    ax.set(xlim=(0, max(seconds[-1], 1e-6)), ylim=(0, 1.02), xlabel="seconds", ylabel="anomaly score",
           title=f"{video.source.name}: {count}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_outputs(out_dir: str | Path, video: ScoredVideo, report: dict[str, Any]) -> dict[str, Path]:
    """Write the three files of one video; returns their paths."""
    paths = output_paths(out_dir, video.source.name)
    write_scores_table(paths["scores"], video, report["provenance"])
    plot_timeline(paths["png"], video, report["threshold"], report["intervals"])
    write_json(paths["json"], report)
    return paths


def summarise(reports: list[str | Path], out: str | Path) -> dict[str, Any]:
    """One JSON over many ``<video>.json``: per video its duration, intervals, alert seconds and
    peak score, and the totals (the workflow's ``results/<dataset>/scored.json``)."""
    videos = []
    for path in reports:
        report = json.loads(Path(path).read_text())
        intervals = report["intervals"]
        videos.append({"video": report["video"], "report": str(path), "duration_s": report["duration_s"],
                       "threshold": None if report["threshold"] is None else report["threshold"]["value"],
                       "intervals": None if intervals is None else len(intervals),
                       "alert_s": None if intervals is None else sum(i["duration_s"] for i in intervals),
                       "peak": max(report["snippet_scores"])})
    summary = {"videos": videos, "total": {
        "videos": len(videos), "duration_s": sum(v["duration_s"] for v in videos),
        "intervals": sum(v["intervals"] or 0 for v in videos),
        "alert_s": sum(v["alert_s"] or 0.0 for v in videos),
        "with_alerts": sum(bool(v["intervals"]) for v in videos)}}
    write_json(out, summary)
    return summary
