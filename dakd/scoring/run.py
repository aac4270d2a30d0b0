"""``dakd score``: a checkpoint plus footage in, per-video scores, intervals and timelines out.

Offline (the default), video files are decoded with the model's recorded extraction
settings (``extract.decoder`` among them) and scored whole, exactly as evaluation scores a
video. Online (``online=True``), each source (a file, a stream URL, a capture device) is
decoded with PyAV and every snippet is scored causally from the last W snippets as it
arrives, with one JSON record per snippet. Either way every source gets
``<name>.scores.parquet``, ``<name>.json`` and ``<name>.png`` in the output folder
(``dakd.scoring.outputs``), and an ``.overlay.mp4`` on request. A source that cannot be
read is reported in one line and the others are still scored.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import torch

from ..config import ExtractConfig
from ..errors import DakdError
from ..operating_points import model_points, resolve_threshold
from ..provenance import provenance
from .intervals import alert_intervals
from .offline import score_files
from .online import score_online
from .outputs import video_report, write_outputs
from .overlay import write_overlay
from .scorer import ScoredVideo, Scorer, load_scorer
from .sources import Source, expand_sources
from .stream import FrameStream, StreamError


@dataclass(frozen=True)
class ScoreOptions:
    """How ``dakd score`` runs (the command's flags; ``score:`` in config.yaml for the workflow).

    ``threshold``: a number, ``f1``, ``fpr:<rate>`` or None (the model's ``f1`` point, or
    no intervals for a model without operating points). ``window``: W, the snippets an
    online score sees. ``jsonl``: where online records go (``-`` for stdout).
    """

    threshold: str | None = None
    min_gap_s: float = 1.0
    min_duration_s: float = 0.0
    overlay: bool = False
    online: bool = False
    window: int = 32
    realtime: bool = False
    jsonl: str = "-"
    input_format: str | None = None
    stream_timeout_s: float = 10.0
    tolerate_failures: bool = False


def _threshold(spec: str | None, scorer: Scorer, warn: Callable[[str], None]) -> dict[str, Any] | None:
    """The resolved threshold record for the outputs, or None (with a warning) without one."""
    points, where = model_points(scorer.path, scorer.payload)
    resolved = resolve_threshold(spec, points, scorer.path)
    if resolved is None:
        warn(f"warning: {scorer.path} has no operating points and no --threshold was given: writing scores "
             "without intervals")
        return None
    value, detail = resolved
    name = detail["kind"] if detail["kind"] != "fpr" else f"fpr:{detail['target']:g}"
    return {"value": value, "name": name if detail["kind"] != "number" else f"{value:g}",
            "from": where if detail["kind"] != "number" else "--threshold", **detail}


@contextmanager
def _records(target: str) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A function writing one JSON line per record to ``target`` (``-``: stdout), flushed at once."""
    handle: IO[str] = sys.stdout if target == "-" else open(target, "w")
    try:
        def emit(record: dict[str, Any]) -> None:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

        yield emit
    finally:
        if handle is not sys.stdout:
            handle.close()


def run_score(model: str | Path, items: list[str], out_dir: str | Path, device: torch.device,
              options: ScoreOptions, requested: ExtractConfig | None = None, seed: int | None = None,
              say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every source; returns ``{"scored": {name: json path}, "failed": [{source, reason}]}``.

    ``requested`` is the user's extract config (the checkpoint's own when None), checked
    against the record. A failed source is one line through ``say`` (stderr by default);
    failures make this a DakdError at the end unless ``options.tolerate_failures``.
    """
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    scorer = load_scorer(model, device, requested, seed)
    threshold = _threshold(options.threshold, scorer, say)
    sources, failed = expand_sources(items, options.input_format if options.online else None)
    if not sources and not failed:
        raise DakdError("nothing to score: give video files, folders, patterns or (with --online) stream URLs")
    settings = {"min_gap_s": options.min_gap_s, "min_duration_s": options.min_duration_s}
    scored: dict[str, str] = {}

    def finish(video: ScoredVideo) -> None:
        intervals = None if threshold is None else alert_intervals(
            video.frame_scores, video.meta.fps, threshold["value"], options.min_gap_s, options.min_duration_s,
            video.seconds(len(video.frame_scores)))
        prov = provenance("score", {"options": asdict(options), "threshold": threshold},
                          checkpoint=str(model), checkpoint_config_digest=scorer.payload["provenance"]["config_digest"],
                          source=video.source.location)
        report = video_report(video, threshold, intervals, settings, scorer.extraction.describe(), prov)
        paths = write_outputs(out_dir, video, report)
        if options.overlay and not video.source.stream:
            write_overlay(video.source.location, paths["overlay"], video.frame_scores, video.meta.fps,
                          None if threshold is None else threshold["value"], intervals)
        alerts = "no threshold" if intervals is None else f"{len(intervals)} interval(s)"
        say(f"scored {video.source.name}: {video.meta.num_snippets} snippets, {alerts} -> {paths['json']}")
        scored[video.source.name] = str(paths["json"])

    if options.online:
        _online(sources, scorer, options, threshold, finish, failed)
    else:
        streams = [s for s in sources if s.stream]
        failed += [{"source": s.location, "reason": f"{s.location}: a stream; score it with --online (the offline "
                    "decoder reads files)"} for s in streams]
        for source, video, reason in score_files([s for s in sources if not s.stream], scorer):
            if video is None:
                failed.append({"source": source.location, "reason": reason})
            else:
                finish(video)
    for failure in failed:
        say(f"failed: {failure['reason']}")
    if failed and not options.tolerate_failures:
        raise DakdError(f"{len(failed)} of {len(failed) + len(scored)} source(s) failed (listed above); "
                        "rerun with --tolerate-failures to accept the others")
    return {"scored": scored, "failed": failed}


def _online(sources: list[Source], scorer: Scorer, options: ScoreOptions, threshold: dict[str, Any] | None,
            finish: Callable[[ScoredVideo], None], failed: list[dict[str, str]]) -> None:
    """Score each source causally in turn; a stream that drops ends with what it scored."""
    with _records(options.jsonl) as emit:
        for source in sources:
            try:
                stream = FrameStream(source.location, scorer.extraction.cfg.decode_short_side, options.realtime,
                                     options.input_format, options.stream_timeout_s)
            except StreamError as exc:
                failed.append({"source": source.location, "reason": str(exc)})
                continue
            try:
                video = score_online(source, stream, stream.fps, scorer, options.window, emit,
                                     None if threshold is None else threshold["value"], lambda: stream.ended)
            except StreamError as exc:
                failed.append({"source": source.location, "reason": str(exc)})
                continue
            finally:
                stream.close()
            if video.meta.num_snippets == 0:
                failed.append({"source": source.location, "reason": f"{source.location}: no frame arrived "
                                                                     f"({video.run['ended']})"})
                continue
            finish(video)

