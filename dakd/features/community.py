"""Import and export the per-video ``.npy`` features the VAD community shares.

Layouts (one backbone at a time; several backbones are joined on the video id):

============  ===============================================  =======================
layout        files                                            array per file
============  ===============================================  =======================
``rtfm``      one per video (``Abuse001_x264_i3d.npy``)         (T, crops, D), RTFM
``per_crop``  one per crop: ``Abuse001_x264__0.npy`` ..         (T, D), UR-DMU, VadCLIP,
              ``__9`` (PEL4VAD: crop 0 without a suffix,        PEL4VAD
              ShanghaiTech ``01_0015_0.npy`` .. ``_9``)
``center``    one per video                                     (T, D), a single crop
============  ===============================================  =======================

Video lists are those repos' files: a ``.list`` / ``.txt`` with one feature path per line
(labels from the file name by the dataset's naming rule, or from a second column ``0`` /
``1`` as PEL4VAD's ShanghaiTech lists have), or a CSV with ``path`` and ``label`` columns
(VadCLIP: the label is the class name, ``Normal`` / ``A`` for normal). Paths may use ``/``
or ``\\`` and a drive letter; they point at their authors' disks, so a feature root can
stand in: the longest tail of the listed path that exists under the root is used.

Crops are the ones the list names (VadCLIP's test list names only ``__5``); a source with
``crops: all`` takes every ``__N`` sibling on disk instead. Lines of one video that differ
only in a trailing ``__N`` (or, when every line of the list has one, ``_N``) are its
crops; which lines are crops is read from the list as a whole, so that ShanghaiTech ids
such as ``01_0015`` are not taken for crops.

Ground truth is either the released concatenated frame-label vector (``gt-ucf.npy``,
``gt-sh.npy``, XD-Violence ``gt.npy``: the test videos in list order, each covering
T x 16 frames), cut into videos by their snippet counts, or a folder of per-video files
(PEL4VAD ``single_gt/<video>__9_gt.npy``, ShanghaiTech ``test_frame_mask/<video>.npy``)
matched by video id. Either is checked against the video labels: an anomalous test video
needs an anomalous frame and a normal one may have none.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import numbers
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations import frame_labels, mask_intervals, read_annotations, write_annotations
from ..atomic import atomic_path, read_text
from ..datasets.adapters import XD_CLASSES, shanghaitech_label, ucf_label, xd_label
from ..errors import DakdError
from ..ids import check_split, check_video_id
from ..provenance import provenance
from ..registry import Registry
from .store import BackboneInfo, VideoFeatures, VideoMeta, iter_shard_videos, write_shard

LAYOUTS = ("auto", "rtfm", "per_crop", "center")
CROP_MODES = ("listed", "all")
CROP_SUFFIX = re.compile(r"__(\d+)$")
# ShanghaiTech per-crop files (PEL4VAD): 01_0015_0.npy; only read as a crop from list context.
SINGLE_CROP_SUFFIX = re.compile(r"_(0|[1-9]\d?)$")
# Released files carry the extractor in their name (RTFM: Abuse001_x264_i3d.npy).
FEATURE_TAG = re.compile(r"_(i3d|s3d|c3d|clip|rgb|flow)$", re.IGNORECASE)
GT_SUFFIX = re.compile(r"_gt$", re.IGNORECASE)
DRIVE = re.compile(r"[A-Za-z]:")
NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")
# The files an import writes into its output folder (and removes when a rerun does not write them).
SHARD_FILE = re.compile(r"shard-\d+\.(parquet|failures\.json)")
BACKBONE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
NORMAL_CLASS_NAMES = {"normal", "a", "0"}

log = logging.getLogger("dakd")


class FeatureImportError(DakdError):
    """A community feature file, list or ground-truth vector cannot be imported."""


# ---------------------------------------------------------------- labels from names

LabelRule = Callable[[str], tuple[int, str] | None]
LABEL_RULES: Registry[LabelRule] = Registry("naming rule (dataset kind)", FeatureImportError)
register_label_rule = LABEL_RULES.register


register_label_rule("ucf_crime")(ucf_label)
register_label_rule("shanghaitech")(shanghaitech_label)
register_label_rule("xd_violence")(xd_label)


def label_from_name(kind: str, video_id: str, where: str) -> tuple[int, str]:
    found = LABEL_RULES.get(kind)(video_id)
    if found is None:
        raise FeatureImportError(f"{where}: cannot read a {kind} label from the name {video_id!r}")
    return found


def _numeric_label(value: str, where: str) -> int | None:
    """0 / 1 from ``0``, ``1``, ``0.0``, ``1.0``; None when ``value`` is not a number."""
    if not NUMBER.fullmatch(value):
        return None
    number = float(value)
    if number not in (0.0, 1.0):
        raise FeatureImportError(f"{where}: label {value!r} is neither 0 (normal) nor 1 (anomalous)")
    return int(number)


def label_from_csv(value: str, kind: str, where: str = "list") -> tuple[int, str]:
    """A CSV label: a class name (``Normal`` / XD ``A`` are normal) or 0/1."""
    value = value.strip()
    number = _numeric_label(value, where)
    if number is not None:
        return (0, "Normal") if number == 0 else (1, "Anomaly")
    if value.lower() in NORMAL_CLASS_NAMES:
        return 0, "Normal"
    if kind == "xd_violence":
        code = value.split("-")[0]
        return 1, XD_CLASSES.get(code, code)
    return 1, value


def _label_of(kind: str, video_id: str, value: str | None, where: str) -> tuple[int, str]:
    """The label a list line gives: its CSV / label column, else the naming rule. A numeric
    column (PEL4VAD's ``1.0``) keeps the class the naming rule reads when the two agree."""
    if value is None:
        return label_from_name(kind, video_id, where)
    label, class_name = label_from_csv(value, kind, where)
    if _numeric_label(value.strip(), where) is not None and label == 1:
        named = LABEL_RULES.get(kind)(video_id)
        if named is not None and named[0] == 1:
            class_name = named[1]
    return label, class_name


# ---------------------------------------------------------------- paths


def _listed_parts(listed: str) -> tuple[list[str], str]:
    """The components of a listed path written with ``/`` or ``\\``, and its root: ``""``
    (relative), ``"/"`` or a drive (``"G:"``)."""
    root = "/" if listed.startswith(("/", "\\")) else ""
    parts = [p for p in re.split(r"[\\/]+", listed) if p not in ("", ".")]
    if parts and DRIVE.fullmatch(parts[0]):
        root, parts = parts[0], parts[1:]
    return parts, root


def _file_name(listed: str | os.PathLike) -> str:
    parts, _ = _listed_parts(os.fspath(listed))
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
        found = _find(*_listed_parts(name), list_dir, root_dir, folders)
        if found is not None:
            return found
    where = (f" or under {feature_root}" if feature_root else
             " (when the list's paths point at another disk, name the folder holding the files: --feature-root / "
             "feature_root)")
    raise FeatureImportError(f"{list_file}: feature file {listed!r} not found{where}")


def _find(parts: list[str], root: str, list_dir: str, feature_root: str | None, folders: FolderIndex) -> Path | None:
    if parts:
        for folder in folders.candidates(tuple(parts[:-1]), root, list_dir, feature_root):
            if parts[-1] in folders.files(folder):
                return Path(folder, parts[-1])
    return None


# ---------------------------------------------------------------- lists


@dataclass
class ListedVideo:
    """One video of a list: its feature files (one per crop for ``per_crop``) and label."""

    video_id: str
    files: list[Path]
    label: int
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


def _format_crops(crops: Sequence[int], sep: str = "__") -> str:
    crops = sorted(crops)
    if len(crops) > 2 and crops == list(range(crops[0], crops[-1] + 1)):
        return f"{sep}{crops[0]}..{sep}{crops[-1]}"
    return "[" + ", ".join(f"{sep}{c}" for c in crops) + "]"


def read_video_list(list_file: str | os.PathLike, kind: str, feature_root: str | os.PathLike | None = None,
                    layout: str = "auto", crops: str = "listed",
                    folders: FolderIndex | None = None) -> list[ListedVideo]:
    """The videos of a ``.list`` / ``.txt`` / ``.csv`` list, in list order.

    Lines naming crops of one video are grouped into one video, its files ordered by crop.
    With ``crops="listed"`` exactly the listed crops are taken (a warning says when the
    disk holds more); with ``crops="all"`` every crop file on disk beside the listed ones.
    Every video of a list must have the same crops. ``layout`` is checked later, when the
    files are opened (:func:`video_shape`); it is accepted here for compatibility.
    """
    list_file = Path(list_file)
    if crops not in CROP_MODES:
        raise FeatureImportError(f"{list_file}: unknown crops mode {crops!r}; choose from {list(CROP_MODES)}")
    if not list_file.is_file():
        raise FeatureImportError(f"{list_file}: video list not found")
    folders = folders or FolderIndex()
    root = Path(feature_root) if feature_root is not None else None
    list_dir, root_dir = os.path.dirname(os.fspath(list_file)) or ".", None if root is None else os.fspath(root)
    is_csv = list_file.suffix.lower() == ".csv"
    rows = _csv_rows(list_file) if is_csv else _list_rows(list_file)
    if not rows:
        raise FeatureImportError(f"{list_file}: the list names no feature files")
    _read_crops(rows, list_file)

    groups: dict[str, list[tuple[_Row, Path]]] = {}
    labels: dict[str, tuple[int, str, int]] = {}
    for row in rows:
        where = f"{list_file}:{row.number}"
        video_id = check_video_id(FEATURE_TAG.sub("", row.base), where)
        found = None if row.bare else _find(row.parts, row.root, list_dir, root_dir, folders)
        found = found or resolve(row.listed, list_file, root, folders)
        label = _label_of(kind, video_id, row.label, where)
        known = labels.setdefault(video_id, (*label, row.number))
        if known[:2] != label:
            raise FeatureImportError(f"{where}: video {video_id!r} listed again with another label "
                                     f"({label[1]}; line {known[2]}: {known[1]})")
        entries = groups.setdefault(video_id, [])
        for other, _ in entries:
            if other.crop is None or row.crop is None or other.crop == row.crop:
                what = "" if row.crop is None or other.crop is None else f"crop {row.sep}{row.crop} of "
                raise FeatureImportError(f"{where}: {what}video {video_id!r} listed twice (also on line "
                                         f"{other.number})")
        entries.append((row, found))

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
                    "on disk)", list_file, len(extra), len(videos), video_id, _format_crops(listed),
                    _format_crops(on_disk))
    return videos


def _say_crops(crops: Sequence[int]) -> str:
    return f"crops {_format_crops(crops)}" if crops else "one file (no crops)"


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
    parts, root = _listed_parts(listed)
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
    if mode == "all":
        on_disk = {c: first.parent / n for c, n in disk_names.items()}
        return _complete(video_id, {**on_disk, **listed}, where, row.sep), None
    crops = sorted(listed)
    video = ListedVideo(video_id, [listed[c] for c in crops], 0, "", crops)
    return video, (sorted(set(disk_names) | set(listed)) if set(disk_names) - set(listed) else None)


def _complete(video_id: str, found: dict[int, Path], where: str, sep: str) -> ListedVideo:
    crops = sorted(found)
    if not crops or crops != list(range(len(crops))):
        raise FeatureImportError(f"{where}: video {video_id!r} has crop files {_format_crops(crops, sep)} on disk, "
                                 f"expected crops numbered from {sep}0 without gaps")
    return ListedVideo(video_id, [found[c] for c in crops], 0, "", crops)


# ---------------------------------------------------------------- arrays


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` file's header says: shape, dtype, order and where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int


_HEADERS: dict[bytes, tuple[tuple[int, ...], bool, np.dtype]] = {}


def read_npy_header(path: Path) -> NpyHeader:
    """The header of a ``.npy`` file, checked against the file's size (a truncated download
    stops here, before anything is written). Parsed headers are cached by their bytes: the
    crops of a video, and most videos, share one."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(10)
            if len(start) < 10 or start[:6] != b"\x93NUMPY":
                raise ValueError("no .npy magic string")
            if start[6] not in (1, 2, 3):
                raise ValueError(f"unknown .npy format version {start[6]}")
            length = start[8:10] if start[6] == 1 else start[8:10] + fh.read(2)
            raw = fh.read(int.from_bytes(length, "little"))
            size = os.fstat(fh.fileno()).st_size
        parsed = _HEADERS.get(raw)
        if parsed is None:
            read = np.lib.format.read_array_header_1_0 if start[6] == 1 else np.lib.format.read_array_header_2_0
            parsed = read(io.BytesIO(length + raw))
            if len(_HEADERS) < 100_000:
                _HEADERS[raw] = parsed
    except (OSError, ValueError) as exc:
        raise FeatureImportError(f"{path}: not a readable .npy feature file ({exc})") from exc
    shape, fortran, dtype = parsed
    header = NpyHeader(tuple(shape), dtype, fortran, 8 + len(length) + len(raw))
    expected = header.offset + math.prod(shape) * dtype.itemsize
    if dtype.hasobject or dtype.kind not in "fiu":
        raise FeatureImportError(f"{path}: dtype {dtype} is not a number type")
    if size != expected:
        raise FeatureImportError(f"{path}: {size} bytes, but its header {tuple(shape)} {dtype} needs {expected} "
                                 "(a truncated or damaged file)")
    return header


def _read_array(path: Path, header: NpyHeader, snippets: int | None) -> np.ndarray:
    """The first ``snippets`` rows (all when None) of a checked ``.npy`` file."""
    rows = header.shape[0] if snippets is None else min(snippets, header.shape[0])
    if header.fortran:
        return np.load(path, mmap_mode="r", allow_pickle=False)[:rows]
    per_row = math.prod(header.shape[1:]) * header.dtype.itemsize
    with open(path, "rb") as fh:
        fh.seek(header.offset)
        data = fh.read(rows * per_row)
    if len(data) != rows * per_row:
        raise FeatureImportError(f"{path}: the file changed while it was imported (shorter than its header says)")
    return np.frombuffer(data, header.dtype).reshape((rows, *header.shape[1:]))


def _open_headers(video: ListedVideo, layout: str) -> tuple[list[NpyHeader], str]:
    """The video's file headers (no data is read), checked against the layout, and the
    layout they were read as."""
    headers = [read_npy_header(path) for path in video.files]
    if layout == "auto":
        layout = "per_crop" if video.crops else ("rtfm" if len(headers[0].shape) == 3 else "center")
    want_ndim = 3 if layout == "rtfm" else 2
    for path, header in zip(video.files, headers):
        if len(header.shape) != want_ndim or header.shape[0] == 0:
            shape = "(T, crops, D)" if want_ndim == 3 else "(T, D)"
            raise FeatureImportError(f"{path}: shape {header.shape} is not {shape} for the {layout} layout")
    if layout in ("rtfm", "center") and len(headers) != 1:
        raise FeatureImportError(f"{video.files[1]}: the {layout} layout has one file per video (per-crop files?)")
    if layout == "per_crop" and len({h.shape for h in headers}) != 1:
        raise FeatureImportError(f"{video.files[0].parent}: crops of {video.video_id!r} differ in shape "
                                 f"{sorted({h.shape for h in headers})}")
    return headers, layout


def video_shape(video: ListedVideo, layout: str) -> tuple[tuple[int, int, int], str]:
    """(T, crops, D) of the video, read from the .npy headers, and the resolved layout."""
    headers, layout = _open_headers(video, layout)
    shape = headers[0].shape
    if layout == "rtfm":
        return (shape[0], shape[1], shape[2]), layout
    return (shape[0], len(headers), shape[1]), layout


def _finite(array: np.ndarray, path: Path, crop: int | None) -> np.ndarray:
    """``array`` as float32; a NaN or infinity (which would make every trained weight NaN)
    stops the import naming the file and where the first one is."""
    out = np.asarray(array, dtype=np.float32)
    if not np.isfinite(out).all():
        index = np.argwhere(~np.isfinite(out))[0]
        at = f"snippet {index[0]}"
        if out.ndim == 3:
            at += f", crop {index[1]}"
        elif crop is not None:
            at += f" (crop {crop})"
        raise FeatureImportError(f"{path}: non-finite value {out[tuple(index)]} at {at}; "
                                 "the file is damaged or was written from a failed extraction")
    return out


def load_video_array(video: ListedVideo, layout: str, snippets: int | None = None) -> np.ndarray:
    """The video's (T, crops, D) float32 array, cut to the first ``snippets`` when given;
    every value is checked to be finite."""
    headers, layout = _open_headers(video, layout)
    if layout == "rtfm":
        return np.ascontiguousarray(_finite(_read_array(video.files[0], headers[0], snippets), video.files[0], None))
    crops = video.crops or [None] * len(headers)
    return np.ascontiguousarray(np.stack([_finite(_read_array(p, h, snippets), p, c)
                                          for p, h, c in zip(video.files, headers, crops)], axis=1))


# ---------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class GroundTruthVideo:
    """A test video as the ground truth is checked against it: id, snippet count, label."""

    video_id: str
    snippets: int
    label: int


@dataclass
class VideoTruth:
    """One video's frame labels; ``num_frames`` is the labelled frame count when a
    per-video file gave it (None: the labels are the features' T x snippet_len frames)."""

    labels: np.ndarray
    num_frames: int | None = None


def _load_labels(path: Path, what: str) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False).ravel()
    except (OSError, ValueError) as exc:
        raise FeatureImportError(f"{path}: not a readable .npy {what} ({exc})") from exc
    if not np.isin(values, (0, 1)).all():
        bad = values[~np.isin(values, (0, 1))][0]
        raise FeatureImportError(f"{path}: frame labels must be 0 or 1, found {bad}")
    return values.astype(np.uint8)


def _contradictions(videos: Sequence[GroundTruthVideo], labels: dict[str, np.ndarray]) -> list[str]:
    """``'<id>' (anomalous, no anomalous frame)`` / ``(normal, N anomalous frames)`` for each
    video whose labels contradict its video-level label."""
    out = []
    for video in videos:
        count = int(labels[video.video_id].sum())
        if video.label == 1 and count == 0:
            out.append(f"{video.video_id!r} (anomalous, no anomalous frame)")
        elif video.label == 0 and count > 0:
            out.append(f"{video.video_id!r} (normal, {count} anomalous frames)")
    return out


def _contradiction_error(source: Path, bad: list[str], why: str) -> FeatureImportError:
    return FeatureImportError(f"{source}: the frame labels contradict the video labels of {len(bad)} test video(s), "
                              f"e.g. {', '.join(bad[:3])}; {why}")


def split_ground_truth(gt_file: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                       snippet_len: int) -> dict[str, np.ndarray]:
    """Cut a concatenated frame-label vector into ``video_id -> (T * snippet_len,)`` labels.

    ``videos`` are the test videos in the order of the list the vector was made for. A
    length that does not fit, or a cut that gives an anomalous video no anomalous frame (or
    a normal one any), is an error: the vector was made for other features or another order.
    """
    gt_file = Path(gt_file)
    gt = _load_labels(gt_file, "frame-label vector")
    expected = sum(v.snippets for v in videos) * snippet_len
    cut, start = {}, 0
    for video in videos:
        end = start + video.snippets * snippet_len
        cut[video.video_id] = gt[start:end]
        start = end
    if gt.size != expected:
        diff = gt.size - expected
        if diff % snippet_len == 0:
            hint = (f"{abs(diff) // snippet_len} snippet(s) {'more' if diff > 0 else 'fewer'} than the features: "
                    "one of them keeps a partial last snippet of each video, the other drops it, so this ground "
                    "truth was made for another extraction")
        else:
            hint = f"{abs(diff)} frames {'more' if diff > 0 else 'fewer'}, not a whole number of snippets"
        bad = _contradictions(videos, cut)
        if bad:
            hint += f"; cut from the start it first contradicts the video labels at {bad[0]}"
        raise FeatureImportError(f"{gt_file}: {gt.size} frame labels, but the {len(videos)} test videos cover "
                                 f"{expected} frames at {snippet_len} frames per snippet ({hint}); use the ground "
                                 "truth made for these very features, or a folder of per-video files")
    bad = _contradictions(videos, cut)
    if bad:
        raise _contradiction_error(gt_file, bad, "the vector is in another video order than the test list "
                                   "(sorted by name?) or belongs to other features")
    return cut


def _gt_video_id(name: str) -> str:
    """The video id of a per-video ground-truth file: ``Abuse028_x264__9_gt.npy``,
    ``<video>__0.npy`` (XD-Violence) and ``01_0015.npy`` all name their video."""
    stem = GT_SUFFIX.sub("", name[:-4])
    crop = CROP_SUFFIX.search(stem)
    if crop:
        stem = stem[: crop.start()]
    return FEATURE_TAG.sub("", stem)


def read_ground_truth_folder(folder: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                             snippet_len: int) -> dict[str, VideoTruth]:
    """Per-video frame-label files matched by video id.

    A file of L frames fits features of T snippets when L == T x snippet_len; when the
    features kept a partial last snippet (``ceil(L / snippet_len) == T``) the labels are
    the video's L frames (zeros beyond); when they dropped it (T x snippet_len < L, less
    than two snippets short) the labels are cut. Anything else, an anomalous video without
    a file, or labels contradicting the video label stop the import. A normal video
    without a file is all-normal.
    """
    folder = Path(folder)
    found: dict[str, list[str]] = {}
    for name in FolderIndex().files(folder):
        if name.lower().endswith(".npy"):
            found.setdefault(_gt_video_id(name), []).append(name)
    out: dict[str, VideoTruth] = {}
    missing, wrong = [], []
    for video in videos:
        names = sorted(found.get(video.video_id, []))
        covered = video.snippets * snippet_len
        if len(names) > 1:
            raise FeatureImportError(f"{folder}: {len(names)} ground-truth files for video {video.video_id!r} "
                                     f"({', '.join(names[:3])})")
        if not names:
            if video.label == 1:
                missing.append(video.video_id)
            out[video.video_id] = VideoTruth(np.zeros(covered, np.uint8))
            continue
        labels = _load_labels(folder / names[0], "frame-label file")
        length = labels.size
        if not (covered - snippet_len < length < covered + 2 * snippet_len):
            wrong.append(f"{names[0]} has {length} frames, the features {video.snippets} snippets x {snippet_len} "
                         f"= {covered}")
        out[video.video_id] = VideoTruth(labels, length)
    if missing:
        raise FeatureImportError(f"{folder}: no ground-truth file for {len(missing)} anomalous test video(s), e.g. "
                                 f"{missing[:3]} (files are matched by video id: <video>.npy, <video>__N.npy, "
                                 "<video>__N_gt.npy)")
    if wrong:
        raise FeatureImportError(f"{folder}: {len(wrong)} test video(s) have ground truth of another length than "
                                 f"their features, e.g. {'; '.join(wrong[:3])} (a partial last snippet kept or "
                                 "dropped is accepted; this ground truth was made for another extraction)")
    bad = _contradictions(videos, {v.video_id: out[v.video_id].labels[: v.snippets * snippet_len] for v in videos})
    if bad:
        raise _contradiction_error(folder, bad, "the files do not belong to these videos")
    return out


def read_ground_truth(gt: str | os.PathLike, videos: Sequence[GroundTruthVideo],
                      snippet_len: int) -> dict[str, VideoTruth]:
    """A concatenated vector (file) or per-video files (folder), checked against ``videos``."""
    gt = Path(gt)
    if gt.is_dir():
        return read_ground_truth_folder(gt, videos, snippet_len)
    if not gt.is_file():
        raise FeatureImportError(f"{gt}: ground truth not found (a .npy frame-label vector or a folder of "
                                 "per-video .npy files)")
    return {vid: VideoTruth(labels) for vid, labels in split_ground_truth(gt, videos, snippet_len).items()}


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class FeatureSource:
    """One backbone's released features: its lists per split, where the files are, the
    layout and which crops to take (``listed``: those the list names; ``all``: every crop
    file on disk)."""

    backbone: str
    lists: dict[str, Path]
    feature_root: Path | None = None
    layout: str = "auto"
    crops: str = "listed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lists", {split: Path(p) for split, p in self.lists.items()})
        if self.feature_root is not None:
            object.__setattr__(self, "feature_root", Path(self.feature_root))


@dataclass(frozen=True)
class ImportSettings:
    kind: str
    snippet_len: int = 16
    fps: float = 30.0
    shard_size: int = 16
    trim_to_shortest: bool = False

    def __post_init__(self) -> None:
        for name in ("snippet_len", "shard_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise FeatureImportError(f"options: {name} must be a whole number >= 1, got {value!r}")
        if (isinstance(self.fps, bool) or not isinstance(self.fps, numbers.Real) or not math.isfinite(self.fps)
                or self.fps <= 0):
            raise FeatureImportError(f"options: fps must be a finite number > 0, got {self.fps!r}")
        if not isinstance(self.trim_to_shortest, bool):
            raise FeatureImportError(f"options: trim_to_shortest must be true or false, got {self.trim_to_shortest!r}")
        LABEL_RULES.get(self.kind)


SOURCE_KEYS = ("train", "test", "feature_root", "layout", "crops")


def sources_from_mapping(spec: dict[str, Any], where: Any) -> tuple[list[FeatureSource], ImportSettings, Path | None]:
    """Sources, settings and ground truth from a ``features`` dataset entry of config.yaml::

        naming: ucf_crime              # label rule for .list files
        root: data/ucf                 # relative paths below are taken from here
        sources: {i3d: {train: a.list, test: b.list, feature_root: feats, layout: rtfm, crops: listed}}
        ground_truth: gt-ucf.npy       # or a folder of per-video files
        options: {snippet_len: 16, fps: 30, shard_size: 16, trim_to_shortest: false}
    """
    base = Path(spec.get("root") or ".")

    def path(value: Any) -> Path | None:
        return None if value in (None, "") else base / Path(value)

    if spec.get("naming") is None:
        raise FeatureImportError(f"{where}: say which naming rule labels the videos ('naming' / --kind: "
                                 f"one of {LABEL_RULES.names()})")
    sources_spec = spec.get("sources") or {}
    if not sources_spec:
        raise FeatureImportError(f"{where}: no feature sources (backbone -> train/test lists)")
    sources = []
    for backbone, entry in sources_spec.items():
        unknown = set(entry) - set(SOURCE_KEYS)
        if unknown:
            raise FeatureImportError(f"{where}: source {backbone!r} has unknown key(s) {sorted(unknown)} "
                                     f"(known: {', '.join(SOURCE_KEYS)})")
        lists = {split: path(entry[split]) for split in ("train", "test") if entry.get(split)}
        if not lists:
            raise FeatureImportError(f"{where}: source {backbone!r} names no train or test list")
        for key, allowed in (("layout", LAYOUTS), ("crops", CROP_MODES)):
            if entry.get(key) not in (None, "", *allowed):
                raise FeatureImportError(f"{where}: source {backbone!r}: {key} {entry[key]!r} is not one of "
                                         f"{', '.join(allowed)}")
        sources.append(FeatureSource(backbone, lists, path(entry.get("feature_root")), entry.get("layout") or "auto",
                                     entry.get("crops") or "listed"))
    options = dict(spec.get("options") or {})
    known = [f.name for f in fields(ImportSettings) if f.name != "kind"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise FeatureImportError(f"{where}: options: unknown key(s) {unknown} (known: {', '.join(known)})")
    try:
        settings = ImportSettings(kind=spec["naming"], **options)
    except FeatureImportError as exc:
        raise FeatureImportError(f"{where}: {exc}") from None
    return sources, settings, path(spec.get("ground_truth"))


def import_features(sources: Sequence[FeatureSource], settings: ImportSettings, out_dir: str | os.PathLike,
                    gt_file: str | os.PathLike | None = None, annotations_out: str | os.PathLike | None = None,
                    progress: bool = True) -> list[Path]:
    """Convert released features into shards ``out_dir/shard-NNNNN.parquet``; returns their paths.

    Videos are matched across backbones by id and split; a shard holds one split, and its
    metadata the crop count of that split (VadCLIP: 10 training crops, 1 test crop). With
    ``gt_file`` (a concatenated vector or a folder of per-video files) the test split's
    frame labels are written to ``annotations_out`` (checked against the first source's
    snippet counts). Everything is checked before anything is written; the shards replace
    the folder's shards as a whole (stale ``shard-*`` files of an earlier run are removed).
    """
    from tqdm.auto import tqdm

    if not sources:
        raise FeatureImportError("no feature sources given")
    for source in sources:
        if source.layout not in LAYOUTS:
            raise FeatureImportError(f"unknown layout {source.layout!r} for {source.backbone}; "
                                     f"choose from {list(LAYOUTS)}")
        if source.crops not in CROP_MODES:
            raise FeatureImportError(f"unknown crops mode {source.crops!r} for {source.backbone}; "
                                     f"choose from {list(CROP_MODES)}")
    splits = list(sources[0].lists)
    for source in sources[1:]:
        if list(source.lists) != splits:
            raise FeatureImportError(f"backbone {source.backbone!r} has lists for {list(source.lists)}, "
                                     f"backbone {sources[0].backbone!r} for {splits}")
    folders = FolderIndex()
    listed = {(s.backbone, split): read_video_list(s.lists[split], settings.kind, s.feature_root, s.layout,
                                                   s.crops, folders)
              for s in sources for split in splits}
    for source in sources:
        _check_disjoint_splits(source, splits, listed)
    order = [(split, v) for split in splits for v in listed[(sources[0].backbone, split)]]
    by_id = {(s.backbone, split): {v.video_id: v for v in listed[(s.backbone, split)]}
             for s in sources for split in splits}
    _check_same_videos(sources, splits, by_id)

    # Pass 1 reads only the .npy headers: every shape, count and the ground truth are
    # checked before anything is written, and memory stays at one shard in pass 2.
    infos: dict[tuple[str, str], BackboneInfo] = {}
    dims: dict[str, tuple[int, Path]] = {}
    counts_of: dict[str, dict[str, int]] = {}
    for split, video in order:
        counts = {}
        for source in sources:
            entry = by_id[(source.backbone, split)][video.video_id]
            (snippets, crops, dim), layout = video_shape(entry, source.layout)
            known_dim = dims.setdefault(source.backbone, (int(dim), entry.files[0]))
            if known_dim[0] != dim:
                raise FeatureImportError(f"{entry.files[0]}: {source.backbone} features are {dim}-d, but "
                                         f"{known_dim[1]} is {known_dim[0]}-d")
            info = BackboneInfo(source.backbone, int(dim), int(crops),
                                f"imported ({layout} layout from {source.lists[split].name})",
                                {"imported_from": {sp: str(p) for sp, p in source.lists.items()}, "layout": layout,
                                 "crop_indices": list(entry.crops) if entry.crops else None})
            known = infos.setdefault((source.backbone, split), info)
            if known.crops != info.crops:
                raise FeatureImportError(f"{entry.files[0]}: {source.backbone} {split} features have {crops} crop(s), "
                                         f"earlier {split} videos {known.crops}")
            counts[source.backbone] = int(snippets)
        if len(set(counts.values())) > 1 and not settings.trim_to_shortest:
            raise FeatureImportError(f"video {video.video_id!r}: snippet counts differ between backbones {counts} "
                                     "(pass trim_to_shortest / --trim-to-shortest to cut them to the shortest)")
        counts_of[video.video_id] = counts

    truth: dict[str, VideoTruth] = {}
    if gt_file is not None:
        if "test" not in splits:
            raise FeatureImportError(f"{gt_file}: ground truth given but no test list")
        if annotations_out is None:
            raise FeatureImportError(f"{gt_file}: ground truth given without an annotations output path")
        test = [GroundTruthVideo(v.video_id, counts_of[v.video_id][sources[0].backbone], v.label)
                for split, v in order if split == "test"]
        truth = read_ground_truth(gt_file, test, settings.snippet_len)

    s = settings.snippet_len
    metas: list[VideoMeta] = []
    for split, video in order:
        counts = counts_of[video.video_id]
        snippets = min(counts.values())
        labelled = truth.get(video.video_id)
        num_frames = counts[sources[0].backbone] * s
        if labelled is not None and labelled.num_frames is not None:
            num_frames = labelled.num_frames
        covered = min(num_frames, snippets * s)
        metas.append(VideoMeta(video.video_id, split, video.label, video.class_name, num_frames, settings.fps,
                               s, s, snippets, covered - (snippets - 1) * s))

    out_dir = Path(out_dir)
    prov = provenance("import-features", {"kind": settings.kind, "snippet_len": settings.snippet_len,
                                          "fps": settings.fps, "trim_to_shortest": settings.trim_to_shortest},
                      sources={src.backbone: {"lists": {k: str(v) for k, v in src.lists.items()},
                                              "feature_root": str(src.feature_root), "layout": src.layout,
                                              "crops": src.crops}
                               for src in sources},
                      ground_truth=None if gt_file is None else str(gt_file))
    chunks = [(split, chunk) for split in splits
              for chunk in _chunks([m for m in metas if m.split == split], settings.shard_size)]
    if out_dir.exists() and not out_dir.is_dir():
        raise FeatureImportError(f"{out_dir}: output folder is a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    names = []
    try:
        with tqdm(total=len(metas), desc="import", unit="video", disable=not progress) as bar:
            for number, (split, chunk) in enumerate(chunks):
                rows = []
                for meta in chunk:
                    features = {src.backbone: load_video_array(by_id[(src.backbone, split)][meta.video_id],
                                                               src.layout, meta.num_snippets) for src in sources}
                    rows.append(VideoFeatures(meta, features))
                    bar.update()
                name = f"shard-{number:05d}.parquet"
                write_shard(staging / name, rows, [infos[(src.backbone, split)] for src in sources], prov)
                names.append(name)
        if gt_file is not None:
            write_annotations(annotations_out, {vid: mask_intervals(t.labels) for vid, t in truth.items()},
                              num_frames={vid: t.num_frames for vid, t in truth.items() if t.num_frames is not None})
        for name in names:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    stale = [p for p in out_dir.iterdir() if SHARD_FILE.fullmatch(p.name) and p.name not in names and p.is_file()]
    for path in stale:
        path.unlink()
    if stale:
        log.warning("%s: removed %d stale shard file(s) that an earlier import or extraction left (e.g. %s)",
                    out_dir, len(stale), sorted(p.name for p in stale)[0])
    return [out_dir / name for name in names]


def _chunks(items: list[VideoMeta], size: int) -> list[list[VideoMeta]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _check_disjoint_splits(source: FeatureSource, splits: Sequence[str],
                           listed: dict[tuple[str, str], list[ListedVideo]]) -> None:
    seen: dict[str, str] = {}
    for split in splits:
        for video in listed[(source.backbone, split)]:
            if video.video_id in seen:
                other = seen[video.video_id]
                raise FeatureImportError(f"{source.lists[split]}: video {video.video_id!r} is listed for {split} "
                                         f"and for {other} ({source.lists[other]}); a video belongs to one split")
            seen[video.video_id] = split


def _check_same_videos(sources: Sequence[FeatureSource], splits: Sequence[str],
                       by_id: dict[tuple[str, str], dict[str, ListedVideo]]) -> None:
    reference = sources[0]
    for source in sources[1:]:
        for split in splits:
            ref, other = set(by_id[(reference.backbone, split)]), set(by_id[(source.backbone, split)])
            if ref != other:
                missing = sorted(ref - other)[:3] or sorted(other - ref)[:3]
                raise FeatureImportError(f"{source.lists[split]}: {split} videos differ from {reference.lists[split]} "
                                         f"({len(ref ^ other)} not in both, e.g. {missing})")


# ---------------------------------------------------------------- export


def export_features(shards: Sequence[str | os.PathLike], backbone: str, out_dir: str | os.PathLike,
                    annotations: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write one backbone in the RTFM layout: ``out_dir/<split>/<video>_<backbone>.npy`` of shape
    (T, crops, D), a list per split ``<backbone>-<split>.list`` (training videos anomalous first, as
    RTFM's loader expects; other splits in shard order), and with ``annotations`` the test ground
    truth ``gt-test.npy`` (T x snippet_len frames per video, list order). Returns the files written.
    Video ids and split names are checked to be safe file names before anything is written
    under ``out_dir``."""
    out_dir = Path(out_dir)
    if not BACKBONE_NAME.fullmatch(backbone):
        raise FeatureImportError(f"backbone {backbone!r} is not a safe file name (letters, digits, _ . + -)")
    labels = read_annotations(annotations) if annotations is not None else None
    root = out_dir.resolve()
    targets = _export_targets(shards, backbone, root, out_dir)
    listed: dict[str, list[tuple[Path, VideoMeta]]] = {}
    for shard in shards:
        for video in iter_shard_videos(shard, [backbone]):
            meta = video.meta
            path = targets[meta.video_id]
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, video.features[backbone])
            listed.setdefault(meta.split, []).append((path, meta))
    if not listed:
        raise FeatureImportError(f"no videos in {len(shards)} shard(s)")
    lists = {}
    for split, entries in listed.items():
        if split == "train":  # RTFM's loader takes the first block as anomalous; stable sort
            entries.sort(key=lambda e: -e[1].label)
        list_path = out_dir / f"{backbone}-{split}.list"
        with atomic_path(list_path) as tmp:
            tmp.write_text("".join(f"{p}\n" for p, _ in entries))
        lists[split] = str(list_path)
    result: dict[str, Any] = {"lists": lists}
    if labels is not None:
        test = listed.get("test")
        if not test:
            raise FeatureImportError("annotations given but the shards hold no test videos")
        missing = [m.video_id for _, m in test if m.video_id not in labels]
        if missing:
            raise FeatureImportError(f"{annotations}: no frame labels for test video(s) {missing[:3]}")
        gt = np.concatenate([frame_labels(labels[m.video_id], m.num_snippets * m.snippet_len) for _, m in test])
        gt_path = out_dir / "gt-test.npy"
        with atomic_path(gt_path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, gt.astype(np.float32))
        result["ground_truth"] = str(gt_path)
    return result


def _export_targets(shards: Sequence[str | os.PathLike], backbone: str, root: Path, out_dir: Path) -> dict[str, Path]:
    """``video_id -> output file`` of every video, read from the id and split columns only:
    an unsafe id or split (``../x``, ``/tmp/x``) or a video in two shards stops the export
    before a file is written, and no file may land outside ``out_dir``."""
    import pyarrow.parquet as pq

    from .store import read_metadata

    targets: dict[str, Path] = {}
    seen: dict[str, str] = {}
    for shard in shards:
        read_metadata(shard)  # a FeatureStoreError naming a file that is not a shard
        table = pq.read_table(shard, columns=["video_id", "split"])
        for video_id, split in zip(table.column("video_id").to_pylist(), table.column("split").to_pylist()):
            check_video_id(video_id, f"{shard}")
            check_split(split, f"{shard}: video {video_id!r}", (split,))
            if video_id in seen:
                raise FeatureImportError(f"{shard}: video {video_id!r} is also in {seen[video_id]}")
            seen[video_id] = str(shard)
            path = (root / split / f"{video_id}_{backbone}.npy").resolve()
            if not path.is_relative_to(root):
                raise FeatureImportError(f"{shard}: video {video_id!r} would be written outside {out_dir}")
            targets[video_id] = path
    return targets
