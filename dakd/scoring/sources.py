"""What ``dakd score`` reads: video files, folders of videos, glob patterns, and (online)
stream URLs or capture devices, each with the name its outputs are written under."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DakdError
from ..ids import check_video_id
from ..videofiles import VIDEO_EXTENSIONS, list_videos

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Source:
    """One thing to score: ``location`` (a path or URL), ``name`` (output file stem) and
    ``stream`` (a URL or device that only PyAV can open)."""

    location: str
    name: str
    stream: bool = False


def expand_sources(items: list[str], device_format: str | None = None) -> tuple[list[Source], list[dict[str, str]]]:
    """Sources in the order given, and a failure for each item that names nothing.

    A folder gives the video files under it (recursively, sorted); a pattern with ``*``,
    ``?`` or ``[`` gives what it matches (``**`` recurses); a URL (``rtsp://``,
    ``http://``, ...) or any item when ``device_format`` is set (a capture device such as
    ``/dev/video0`` with ``v4l2``) is a stream; anything else is a video file, which the
    decoder reports if it is missing or unreadable. Output names are the file stems (a
    stream's is made from its URL): a source whose name is not a safe file name
    (:func:`dakd.ids.check_video_id`) is a failure of its own, and two sources of one name stop
    the run (their outputs would overwrite each other).
    """
    sources: list[Source] = []
    failures: list[dict[str, str]] = []
    for item in items:
        if device_format is not None or URL.match(item):
            sources.append(Source(item, stream_name(item), stream=True))
        elif Path(item).is_dir():
            found = _videos_in(Path(item))
            if not found:
                failures.append({"source": item, "reason": f"{item}: folder holds no video files "
                                                            f"({', '.join(VIDEO_EXTENSIONS)})"})
            sources.extend(Source(str(p), p.stem) for p in found)
        elif GLOB_CHARS.search(item) and not Path(item).exists():
            matched = sorted(glob.glob(item, recursive=True))
            files = [Path(m) for m in matched if Path(m).is_file()]
            files += [p for m in matched if Path(m).is_dir() for p in _videos_in(Path(m))]
            if not files:
                failures.append({"source": item, "reason": f"{item}: the pattern matches no video file"})
            sources.extend(Source(str(p), p.stem) for p in files)
        else:
            sources.append(Source(item, Path(item).stem))
    safe = []
    for source in _unique(sources):
        try:
            safe.append(Source(source.location, check_video_id(source.name, printable(source.location)), source.stream))
        except DakdError as exc:
            failures.append({"source": source.location, "reason": str(exc)})
    check_names(safe)
    return safe, failures


def _videos_in(folder: Path) -> list[Path]:
    return list_videos(folder).videos


def printable(location: str) -> str:
    """``location`` as a message can show it on one line: quoted with escapes when it holds a
    line break or another control character."""
    return location if location.isprintable() else repr(location)


def stream_name(location: str) -> str:
    """A file-name-safe name for a stream URL or device: ``rtsp://cam1:554/live`` -> ``cam1_554_live``."""
    body = URL.sub("", location)
    name = re.sub(r"[^\w.-]+", "_", body).strip("._-")
    return name[:120] or "stream"


def check_names(sources: list[Source]) -> None:
    """Output names must be safe file names and distinct (two ``a.mp4`` in different folders
    would overwrite each other's outputs)."""
    seen: dict[str, str] = {}
    for source in sources:
        check_video_id(source.name, source.location)
        if source.name in seen and os.path.realpath(seen[source.name]) != os.path.realpath(source.location):
            raise DakdError(f"{source.location}: its outputs would be named {source.name!r}, like those of "
                            f"{seen[source.name]}; score them into different --out folders")
        seen[source.name] = source.location


def _unique(sources: list[Source]) -> list[Source]:
    """``sources`` without repeats of the same file (given twice, or by a folder and a pattern)."""
    out, seen = [], set()
    for source in sources:
        key = source.location if source.stream else os.path.realpath(source.location)
        if key not in seen:
            seen.add(key)
            out.append(source)
    return out
