"""Video lists as the field releases them (RTFM / UR-DMU ``.list``, PEL4VAD ``.list`` with a label
column, VadCLIP CSV) read into videos: the feature files of each, in crop order, and its label.

Lines of one video that differ only in a trailing ``__N`` (or, when every line of the list
has one, ``_N``) are its crops; which lines are crops is read from the list as a whole, so
that ShanghaiTech ids such as ``01_0015`` are not taken for crops.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import read_text
from ..ids import check_video_id
from .errors import FeatureImportError
from .labels import NUMBER, ListOrder, label_of
from .paths import CROP_SUFFIX, SINGLE_CROP_SUFFIX, FolderIndex, feature_tag, find_listed, listed_parts, resolve

log = logging.getLogger("dakd")


@dataclass
class ListedVideo:
    """One video of a list: its feature files (one per crop for ``per_crop``) and label (None:
    the list does not say; a test video then takes it from the ground truth)."""

    video_id: str
    files: list[Path]
    label: int | None
    class_name: str
    crops: list[int] = field(default_factory=list)


@dataclass
class _Row:
    """One line of a list, with its crop read from the list's context."""

    number: int
    listed: str
    label: str | None
    stem: str                # file name without .npy
    bare: bool               # no .npy: a video name, not a file
    parts: list[str]         # the listed path's components
    root: str                # "", "/" or a drive
    base: str = ""           # stem without the crop suffix (still with a feature tag)
    crop: int | None = None
    sep: str = ""            # "__" or "_" before the crop index
    plain_zero: bool = False  # crop 0 named without a suffix (PEL4VAD UCF-Crime)


_Groups = dict[str, list[tuple[_Row, Path]]]
_Labels = dict[str, tuple[int | None, str, int]]


def format_crops(crops: Sequence[int], sep: str = "__") -> str:
    crops = sorted(crops)
    if len(crops) > 2 and crops == list(range(crops[0], crops[-1] + 1)):
        return f"{sep}{crops[0]}..{sep}{crops[-1]}"
    return "[" + ", ".join(f"{sep}{c}" for c in crops) + "]"


def read_video_list(list_file: str | os.PathLike, kind: str | None, feature_root: str | os.PathLike | None = None,
                    layout: str = "auto", crops: str = "listed", folders: FolderIndex | None = None,
                    tag: str | None = None, order: ListOrder | None = None) -> list[ListedVideo]:
    """The videos of a ``.list`` / ``.txt`` / ``.csv`` list, in list order.

    A video's id is its file name without the crop suffix and the extractor tag ``_<tag>``
    (or a known one: ``_i3d``, ``_clip``, ..). Its label comes from the list's label column,
    ``order`` (the first N videos anomalous) or the naming rule ``kind``, which must agree
    where more than one speaks (:func:`dakd.released.labels.label_of`); None when none does.
    Lines naming crops of one video are grouped into one video, its files ordered by crop.
    With ``crops="listed"`` exactly the listed crops are taken (a warning says when the
    disk holds more); with ``crops="all"`` every crop file on disk beside the listed ones.
    Every video of a list must have the same crops. ``layout`` is checked later, when the
    files are opened (:func:`dakd.released.npy.video_shape`); it is accepted here for compatibility.
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FeatureImportError(f"{list_file}: video list not found")
    folders = folders or FolderIndex()
    root = Path(feature_root) if feature_root is not None else None
    is_csv = list_file.suffix.lower() == ".csv"
    rows = _csv_rows(list_file) if is_csv else _list_rows(list_file)
    if not rows:
        raise FeatureImportError(f"{list_file}: the list names no feature files")
    _read_crops(rows, list_file)
    groups, labels = _group_rows(rows, list_file, kind, root, folders, feature_tag(tag), order)
    return _listed_videos(groups, labels, crops, folders, list_file)


def _group_rows(rows: list[_Row], list_file: Path, kind: str | None, root: Path | None, folders: FolderIndex,
                tag: re.Pattern[str], order: ListOrder | None) -> tuple[_Groups, _Labels]:
    """The rows of each video with the files they name, and each video's label (and the line
    it was first read from); a video listed twice or with two labels is an error."""
    list_dir, root_dir = os.path.dirname(os.fspath(list_file)) or ".", None if root is None else os.fspath(root)
    groups: _Groups = {}
    labels: _Labels = {}
    position: dict[str, int] = {}  # a video's place in the list, for ``order``
    for row in rows:
        where = f"{list_file}:{row.number}"
        video_id = check_video_id(tag.sub("", row.base), where)
        found = None if row.bare else find_listed(row.parts, row.root, list_dir, root_dir, folders)
        found = found or resolve(row.listed, list_file, root, folders)
        index = position.setdefault(video_id, len(position))
        label = label_of(kind, video_id, row.label, where, order, index) or (None, "")
        known = labels.setdefault(video_id, (*label, row.number))
        if known[:2] != label:
            raise FeatureImportError(f"{where}: video {video_id!r} listed again with another label "
                                     f"({label[1]}; line {known[2]}: {known[1]})")
        entries = groups.setdefault(video_id, [])
        for other, _ in entries:
            if other.crop is None or row.crop is None or other.crop == row.crop:
                what = "" if row.crop is None or other.crop is None else f"crop {row.sep}{row.crop} of "
                raise FeatureImportError(f"{where}: {what}video {video_id!r} listed twice (also on line "
                                         f"{other.number}{_tag_note(other, row, video_id)})")
        entries.append((row, found))
    if order is not None and order.count > len(labels):
        raise FeatureImportError(f"{list_file}: {order.key} is {order.count}, but the list names only "
                                 f"{len(labels)} video(s)")
    return groups, labels


def _tag_note(first: _Row, second: _Row, video_id: str) -> str:
    """Why two differently named lines are one video: the extractor tag taken off their names."""
    if first.base == second.base:
        return ""
    return (f": {first.base!r} and {second.base!r} are one video id {video_id!r} once the extractor tag is "
            "taken off; state the source's tag")


def _listed_videos(groups: _Groups, labels: _Labels, crops: str, folders: FolderIndex,
                   list_file: Path) -> list[ListedVideo]:
    """The grouped videos with their crop files; every video of a list needs the same crops."""
    videos, extra, reference = [], [], None
    for video_id, entries in groups.items():
        label, class_name, _ = labels[video_id]
        video, on_disk = _video_files(video_id, entries, crops, folders, list_file)
        video.label, video.class_name = label, class_name
        if on_disk is not None:
            extra.append((video_id, video.crops, on_disk))
        if reference is None:
            reference = video
        elif video.crops != reference.crops:
            raise FeatureImportError(f"{list_file}: video {video_id!r} has {_say_crops(video.crops)}, but "
                                     f"{reference.video_id!r} has {_say_crops(reference.crops)}; every video of a "
                                     "list needs the same crops")
        videos.append(video)
    if extra:
        video_id, listed, on_disk = extra[0]
        log.warning("%s: %d of %d videos have more crop files on disk than the list names (e.g. %r: listed %s, "
                    "on disk %s); importing the listed crops only (crops: all / --all-crops takes every crop "
                    "on disk)", list_file, len(extra), len(videos), video_id, format_crops(listed),
                    format_crops(on_disk))
    return videos


def _say_crops(crops: Sequence[int]) -> str:
    return f"crops {format_crops(crops)}" if crops else "one file (no crops)"


def _list_rows(list_file: Path) -> list[_Row]:
    """Lines of a ``.list``: a path, optionally followed by a numeric label column."""
    rows = []
    for number, line in enumerate(read_text(list_file).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        path, label = line, None
        split = re.fullmatch(r"(.*?\S)\s+(\S+)", line)
        if split and NUMBER.fullmatch(split.group(2)):  # PEL4VAD ShanghaiTech: "train/01_0014_0.npy 1.0"
            path, label = split.group(1), split.group(2)
        rows.append(_row(number, path, label))
    return rows


def _csv_rows(list_file: Path) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(read_text(list_file), newline=""))
    try:
        if "path" not in (reader.fieldnames or []):
            raise FeatureImportError(f"{list_file}: CSV list needs a 'path' column (and 'label'), "
                                     f"has {reader.fieldnames}")
        has_label = "label" in reader.fieldnames
        return [_row(reader.line_num, (row["path"] or "").strip(), row["label"] if has_label else None)
                for row in reader if (row["path"] or "").strip()]
    except csv.Error as exc:
        raise FeatureImportError(f"{list_file}:{reader.line_num}: not a well-formed CSV row ({exc})") from None


def _row(number: int, listed: str, label: str | None) -> _Row:
    parts, root = listed_parts(listed)
    name = parts[-1] if parts else ""
    bare = not name.lower().endswith(".npy")
    stem = name if bare else name[:-4]
    row = _Row(number, listed, label, stem, bare, parts, root, base=stem)
    if (match := CROP_SUFFIX.search(stem)) is not None:
        row.base, row.crop, row.sep = stem[: match.start()], int(match.group(1)), "__"
    return row


def _read_crops(rows: list[_Row], list_file: Path) -> None:
    """Crops that only the list as a whole reveals.

    PEL4VAD's UCF-Crime lists name crop 0 without a suffix (``Abuse001_x264.npy``, then
    ``Abuse001_x264__1.npy`` ..): a line whose name is the base of other lines' ``__N``
    is their crop 0. Its ShanghaiTech lists use one underscore (``01_0015_0.npy`` ..
    ``_9``): read as crops only when every line of the list ends in ``_N`` and the lines of
    each base number their crops 0..K-1 with K >= 2 (so ``01_0015`` stays a video id).
    """
    double: dict[str, dict[int, int]] = {}
    for row in rows:
        if row.sep == "__":
            double.setdefault(row.base, {})[row.crop] = row.number
    for row in rows:
        if row.sep == "" and not row.bare and row.stem in double:
            if 0 in double[row.stem]:
                raise FeatureImportError(f"{list_file}:{row.number}: video {row.stem!r} listed twice, as "
                                         f"{row.stem}.npy and as {row.stem}__0.npy (line {double[row.stem][0]})")
            row.crop, row.sep, row.plain_zero = 0, "__", True
    if double:
        return
    single: dict[str, list[int]] = {}
    for row in rows:
        match = None if row.bare else SINGLE_CROP_SUFFIX.search(row.stem)
        if match is None:
            return
        single.setdefault(row.stem[: match.start()], []).append(int(match.group(1)))
    if all(len(c) >= 2 and sorted(c) == list(range(len(c))) for c in single.values()):
        for row in rows:
            match = SINGLE_CROP_SUFFIX.search(row.stem)
            row.base, row.crop, row.sep = row.stem[: match.start()], int(match.group(1)), "_"


def _video_files(video_id: str, entries: list[tuple[_Row, Path]], mode: str, folders: FolderIndex,
                 list_file: Path) -> tuple[ListedVideo, list[int] | None]:
    """The video's files in crop order, and the crops on disk when they are more than the
    listed ones (None otherwise)."""
    row, first = entries[0]
    where = f"{list_file}:{row.number}"
    if row.bare and first.name == f"{row.stem}__0.npy":
        # a bare video name found as <name>__0.npy: the list names the video, so every crop file
        on_disk = {c: first.parent / n for c, n in folders.crops(first.parent, "__").get(row.stem, {}).items()}
        return _complete(video_id, on_disk, where, "__"), None
    if row.crop is None:
        return ListedVideo(video_id, [first], 0, ""), None
    listed = {r.crop: path for r, path in entries}
    folder = os.path.dirname(first)
    disk_names = dict(folders.crops(folder, row.sep).get(row.base, {}))
    if row.sep == "__" and any(r.plain_zero for r, _ in entries) and f"{row.base}.npy" in folders.files(folder):
        disk_names.setdefault(0, f"{row.base}.npy")
    on_disk = {c: first.parent / n for c, n in disk_names.items()}
    return CROP_SELECTORS[mode](video_id, listed, on_disk, where, row.sep)


def _listed_crops(video_id: str, listed: dict[int, Path], on_disk: dict[int, Path], where: str,
                  sep: str) -> tuple[ListedVideo, list[int] | None]:
    """``crops: listed``: the crops the list names (and all on disk when there are more)."""
    crops = sorted(listed)
    video = ListedVideo(video_id, [listed[c] for c in crops], 0, "", crops)
    return video, (sorted(set(on_disk) | set(listed)) if set(on_disk) - set(listed) else None)


def _all_crops(video_id: str, listed: dict[int, Path], on_disk: dict[int, Path], where: str,
               sep: str) -> tuple[ListedVideo, list[int] | None]:
    """``crops: all``: every crop file on disk beside the listed ones, numbered from 0."""
    return _complete(video_id, {**on_disk, **listed}, where, sep), None


# The crop modes (dakd.released.layouts.CROP_MODES) and how each picks a video's crop files.
CROP_SELECTORS = {"listed": _listed_crops, "all": _all_crops}


def _complete(video_id: str, found: dict[int, Path], where: str, sep: str) -> ListedVideo:
    crops = sorted(found)
    if not crops or crops != list(range(len(crops))):
        raise FeatureImportError(f"{where}: video {video_id!r} has crop files {format_crops(crops, sep)} on disk, "
                                 f"expected crops numbered from {sep}0 without gaps")
    return ListedVideo(video_id, [found[c] for c in crops], 0, "", crops)
