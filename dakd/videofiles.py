"""Which files in a folder are videos: the one list of container extensions dakd looks for (the
dataset indexes and ``dakd score`` alike), and why every other file is skipped.

A folder of footage holds more than videos: notes, subtitles, macOS's AppleDouble files
(``._clip.mp4``: 4 KB of metadata under a video's name) and ``.DS_Store``, hidden temporary
files. Each is skipped for a reason that is counted, so an index can say in one line what it
left out instead of dropping files without a word.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Containers FFmpeg demuxes, which every decoder dakd uses (PyAV, torchcodec, decord) is built
# on; tests/test_videofiles.py writes a clip in each and decodes it. A file named explicitly
# (dakd score a.bin) may have any extension: this list is what a folder search looks for.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg",
                    ".vob", ".flv", ".wmv", ".asf", ".3gp", ".3g2", ".ogv")

NOT_VIDEO = "not a video"
MACOS = "macOS metadata"
HIDDEN = "hidden"
SAME_FILE = "another path to a listed video"
# How each reason reads in the count: "2 not videos", "1 macOS metadata".
PLURALS = {NOT_VIDEO: "not videos", MACOS: MACOS, HIDDEN: HIDDEN, SAME_FILE: "other paths to listed videos"}
# Folders macOS writes beside the files it copies or zips; their files are metadata too.
MACOS_FOLDERS = ("__MACOSX", ".AppleDouble")


def skip_reason(name: str) -> str | None:
    """Why the file ``name`` is not a video to index (None when it is one): AppleDouble
    (``._*``) and ``.DS_Store`` are macOS metadata, other dot files are hidden (temporary or
    system files), and an extension outside :data:`VIDEO_EXTENSIONS` is not a video."""
    if name.startswith("._") or name == ".DS_Store":
        return MACOS
    if name.startswith("."):
        return HIDDEN
    if os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
        return NOT_VIDEO
    return None


def skipped_line(skipped: Counter) -> str | None:
    """``skipped 3 files: 2 not videos, 1 macOS metadata`` (``skipped``: reason -> count), or
    None when nothing was skipped."""
    total = sum(skipped.values())
    if not total:
        return None
    parts = [f"{n} {PLURALS[reason] if n > 1 else reason}" for reason, n in skipped.most_common()]
    return f"skipped {total} file{'s' * (total != 1)}: {', '.join(parts)}"


def _folder_reason(parts: tuple[str, ...]) -> str | None:
    """Why every file in the folder ``parts`` (below the searched root) is skipped, if it is: a
    hidden folder holds what a video file's name alone would not say is not footage (a trash
    folder's deleted copies, a tool's cache)."""
    if any(part in MACOS_FOLDERS for part in parts):
        return MACOS
    if any(part.startswith(".") for part in parts):
        return HIDDEN
    return None


@dataclass
class Listing:
    """The video files under some folders (``videos``: sorted, each real file once) and how
    many other files were skipped for each reason."""

    videos: list[Path] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def by_name(self) -> dict[str, list[Path]]:
        """Every file name with the paths that carry it (more than one when a name recurs)."""
        names: dict[str, list[Path]] = {}
        for path in self.videos:
            names.setdefault(path.name, []).append(path)
        return names

    def skipped_line(self) -> str | None:
        return skipped_line(self.skipped)

    def digest(self) -> str:
        """A digest of the video paths: it changes when a video is added, removed or renamed."""
        return hashlib.sha256("\n".join(map(str, self.videos)).encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def update(self, other: Listing) -> None:
        self.videos = sorted(self.videos + other.videos)
        self.skipped.update(other.skipped)


def list_videos(root: str | os.PathLike) -> Listing:
    """The video files under ``root``, searched recursively (:func:`skip_reason` decides; every
    file in a hidden folder below ``root`` is hidden too).

    Symlinked folders are followed (datasets are often assembled from links to shared
    storage); each real directory is searched once, so a link back to an ancestor cannot
    loop, and a real file reached by two paths under the same name is listed once (the first
    in sorted order; a link under another name is a video of its own).
    A missing ``root`` lists nothing.
    """
    listing = Listing()
    visited = {os.path.realpath(root)}
    seen: set[tuple[str, str]] = set()
    candidates = []
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        keep = []
        for name in sorted(dirnames):
            real = os.path.realpath(os.path.join(folder, name))
            if real not in visited:  # pruned in place: a directory reached by another path (links, loops)
                visited.add(real)
                keep.append(name)
        dirnames[:] = keep
        inside = _folder_reason(Path(folder).relative_to(root).parts)
        for name in filenames:
            reason = inside or skip_reason(name)
            if reason is None:
                candidates.append(Path(folder) / name)
            else:
                listing.skipped[reason] += 1
    for path in sorted(candidates):
        key = (path.name, os.path.realpath(path))
        if not path.is_file():
            listing.skipped[NOT_VIDEO] += 1  # a broken link or a device node
        elif key in seen:
            listing.skipped[SAME_FILE] += 1
        else:
            seen.add(key)
            listing.videos.append(path)
    return listing
