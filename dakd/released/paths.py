"""Where a list's paths point on this disk. Released lists name their authors' paths (``/``
or ``\\``, drive letters); a file is looked up as listed, then by the longest tail of its path
under a feature root. Folders are listed once (:class:`FolderIndex`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import FeatureImportError

CROP_SUFFIX = re.compile(r"__(\d+)$")
# ShanghaiTech per-crop files (PEL4VAD): 01_0015_0.npy; only read as a crop from list context.
SINGLE_CROP_SUFFIX = re.compile(r"_(0|[1-9]\d?)$")
# Released files carry the extractor in their name (RTFM: Abuse001_x264_i3d.npy); these tags
# are taken off any file name, a source's own tag (its backbone name, or stated) off its lists'.
KNOWN_TAGS = ("i3d", "s3d", "c3d", "clip", "rgb", "flow")


def feature_tag(*tags: str | None) -> re.Pattern[str]:
    """``_<tag>`` at the end of a file stem, for any of ``tags`` and the known ones (case-insensitive)."""
    names = dict.fromkeys(t for t in (*tags, *KNOWN_TAGS) if t)
    return re.compile("_(" + "|".join(re.escape(t) for t in names) + ")$", re.IGNORECASE)


FEATURE_TAG = feature_tag()
DRIVE = re.compile(r"[A-Za-z]:")


def listed_parts(listed: str) -> tuple[list[str], str]:
    """The components of a listed path written with ``/`` or ``\\``, and its root: ``""``
    (relative), ``"/"`` or a drive (``"G:"``)."""
    root = "/" if listed.startswith(("/", "\\")) else ""
    parts = [p for p in re.split(r"[\\/]+", listed) if p not in ("", ".")]
    if parts and DRIVE.fullmatch(parts[0]):
        root, parts = parts[0], parts[1:]
    return parts, root


def _file_name(listed: str | os.PathLike) -> str:
    parts, _ = listed_parts(os.fspath(listed))
    return parts[-1] if parts else ""


def video_id_of(path: str | os.PathLike) -> tuple[str, int | None]:
    """(video id, crop index or None) from a feature file name; the path may use ``/`` or
    ``\\`` (``G:\\UCF_Train_ten_crop_i3d\\Abuse001_x264_i3d.npy`` -> ``Abuse001_x264``).
    Only ``__N`` is read as a crop here; a single-underscore ``_N`` needs the list's context."""
    name = _file_name(path)
    stem = name[:-4] if name.lower().endswith(".npy") else name
    crop = CROP_SUFFIX.search(stem)
    if crop:
        stem = stem[: crop.start()]
    return FEATURE_TAG.sub("", stem), (int(crop.group(1)) if crop else None)


class FolderIndex:
    """The file names of each folder, listed once (``os.scandir``) however many list lines
    point into it: looking every line up by a listing per video makes an import's time grow
    with the square of the folder size. Paths are handled as strings here: a released list
    has tens of thousands of lines."""

    def __init__(self) -> None:
        self._files: dict[str, frozenset[str]] = {}
        self._crops: dict[tuple[str, str], dict[str, dict[int, str]]] = {}
        self._folders: dict[tuple, list[str]] = {}

    def files(self, folder: str | os.PathLike) -> frozenset[str]:
        key = os.fspath(folder)
        found = self._files.get(key)
        if found is None:
            try:
                with os.scandir(key) as entries:
                    found = frozenset(e.name for e in entries if e.is_file())
            except OSError:  # missing, not a folder, not readable
                found = frozenset()
            self._files[key] = found
        return found

    def is_file(self, path: Path) -> bool:
        return path.name in self.files(path.parent)

    def crops(self, folder: str | os.PathLike, sep: str) -> dict[str, dict[int, str]]:
        """``base -> {crop: file name}`` of the folder's ``<base><sep><N>.npy`` files."""
        key = (os.fspath(folder), sep)
        index = self._crops.get(key)
        if index is None:
            digits = r"(\d+)" if sep == "__" else r"(0|[1-9]\d?)"
            pattern = re.compile(r"(.+?)" + re.escape(sep) + digits + r"\.npy")
            index = {}
            for name in self.files(key[0]):
                if (match := pattern.fullmatch(name)) is not None:
                    index.setdefault(match.group(1), {})[int(match.group(2))] = name
            self._crops[key] = index
        return index

    def candidates(self, folder_parts: tuple[str, ...], root: str, list_dir: str,
                   feature_root: str | None) -> list[str]:
        """The folders a listed file may be in, most specific first: the listed folder (relative
        to the list when the path is relative), then each tail of it under ``feature_root``."""
        key = (folder_parts, root, list_dir, feature_root)
        found = self._folders.get(key)
        if found is None:
            found = []
            if root == "/":
                found.append(os.path.join("/", *folder_parts))
            elif root:  # a drive: only meaningful on Windows
                if os.name == "nt":
                    found.append(os.path.join(root + "\\", *folder_parts))
            else:
                found.append(os.path.join(list_dir, *folder_parts))
            if feature_root is not None:
                found += [os.path.join(feature_root, *folder_parts[i:]) for i in range(len(folder_parts) + 1)
                          if ".." not in folder_parts[i:]]
            self._folders[key] = found
        return found


def resolve(listed: str, list_file: Path, feature_root: Path | None, folders: FolderIndex | None = None) -> Path:
    """The feature file a list line means: the path itself (relative to the list), or the
    longest tail of it that exists under ``feature_root``. Windows paths
    (``G:\\UCF_Train_ten_crop_i3d\\x.npy``) are split like POSIX ones. A line without
    ``.npy`` (a bare video name) means ``<name>.npy`` or, for per-crop files, ``<name>__0.npy``."""
    folders = folders or FolderIndex()
    list_dir = os.path.dirname(os.fspath(list_file)) or "."
    root_dir = None if feature_root is None else os.fspath(feature_root)
    names = [listed] if listed.lower().endswith(".npy") else [listed + ".npy", listed + "__0.npy", listed]
    for name in names:
        found = find_listed(*listed_parts(name), list_dir, root_dir, folders)
        if found is not None:
            return found
    where = (f" or under {feature_root}" if feature_root else
             " (when the list's paths point at another disk, name the folder holding the files: --feature-root / "
             "feature_root)")
    raise FeatureImportError(f"{list_file}: feature file {listed!r} not found{where}")


def find_listed(parts: list[str], root: str, list_dir: str, feature_root: str | None,
                folders: FolderIndex) -> Path | None:
    """The file a listed path's ``parts`` name in the first candidate folder holding it; None if none does."""
    if parts:
        for folder in folders.candidates(tuple(parts[:-1]), root, list_dir, feature_root):
            if parts[-1] in folders.files(folder):
                return Path(folder, parts[-1])
    return None
