"""Parsers for UCF-Crime, ShanghaiTech (Zhong et al.'s weakly-supervised split) and XD-Violence."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations import mask_intervals
from ..atomic import read_text
from ..videofiles import list_videos
from .base import (
    DatasetError,
    DatasetIndex,
    DatasetSources,
    VideoEntry,
    locate,
    register_dataset,
    register_sources,
    require_file,
)
from .naming import shanghaitech_label, ucf_label, xd_label


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line of a UTF-8 text file (a BOM is skipped)."""
    text = read_text(require_file(path))
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


@register_dataset("ucf_crime")
def ucf_crime(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """UCF-Crime: ``Anomaly_Train.txt`` (``Class/Name_x264.mp4`` per line; normal videos have
    ``Normal`` in their name) and the temporal annotation of the test videos in any of the
    three dialects the field uses, line by line:

    - Sultani's ``Temporal_Anomaly_Annotation_for_Testing_Videos.txt``: ``Name_x264.mp4  Class  s1  e1  s2  e2``
    - VadCLIP's copy: the same without ``.mp4``
    - UR-DMU's ``UCF_Annotation.txt``: ``Class/Name_x264.mp4 frames Class s1 e1 s2 e2``

    -1 marks a missing interval. Frame numbers are read as inclusive 0-based indices, so
    ``[s, e]`` becomes ``[s, e + 1)``."""
    train_list, test_annotations = _ucf_files(root, options)
    train_lines, test_lines = _lines(train_list), _lines(test_annotations)
    listing = list_videos(root)
    videos = listing.by_name()
    entries, intervals = [], {}
    for number, line in train_lines:
        where = f"{train_list}:{number}"
        listed = _listed_path(line.split()[0], where)
        name = listed.rsplit("/", 1)[-1]
        normal = "normal" in name.lower()
        parts = listed.split("/")
        class_name = "Normal" if normal else (parts[0] if len(parts) > 1 else (ucf_label(name) or (1, "Anomaly"))[1])
        path = locate(videos, listed, where)
        entries.append(VideoEntry(Path(name).stem, path, "train", int(not normal), class_name))
    for number, line in test_lines:
        where = f"{test_annotations}:{number}"
        listed, class_name, spans = _ucf_annotation(line.split(), where)
        name = listed.rsplit("/", 1)[-1]
        label = int(class_name.lower() != "normal")
        if label and not spans:
            raise DatasetError(f"{where}: anomalous video {name!r} has no interval")
        if not label and spans:
            raise DatasetError(f"{where}: normal video {name!r} has an anomalous interval {spans}")
        video_id = Path(name).stem
        entries.append(VideoEntry(video_id, locate(videos, listed, where), "test", label,
                                  "Normal" if not label else class_name))
        intervals[video_id] = spans
    return DatasetIndex(entries, intervals, skipped=listing.skipped)


def _ucf_files(root: Path, options: dict[str, Any]) -> tuple[Path, Path]:
    return (root / options.get("train_list", "Anomaly_Train.txt"),
            root / options.get("test_annotations", "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"))


@register_sources("ucf_crime")
def ucf_sources(root: Path, options: dict[str, Any]) -> DatasetSources:
    return DatasetSources(list(_ucf_files(root, options)), [root])


def _video_file_name(listed: str, where: str) -> str:
    """The file name of a listed video (``Abuse/Abuse001_x264.mp4`` -> ``Abuse001_x264.mp4``;
    a bare ``Abuse028_x264`` gets ``.mp4``), whichever path separator the list uses."""
    name = listed.replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise DatasetError(f"{where}: no video name in {listed!r}")
    return name if Path(name).suffix else f"{name}.mp4"


def _listed_path(listed: str, where: str) -> str:
    """The listed path with ``/`` separators and the file name :func:`_video_file_name` gives."""
    folders = listed.replace("\\", "/").split("/")[:-1]
    return "/".join(folders + [_video_file_name(listed, where)])


def _ucf_annotation(fields: list[str], where: str) -> tuple[str, str, list[tuple[int, int]]]:
    """(video file name, class, [start, end) intervals) of one test annotation line."""
    if len(fields) == 7:  # UR-DMU: path, frame count, class, two intervals
        listed, _, class_name, *bounds = fields
    elif len(fields) == 6:  # Sultani / VadCLIP
        listed, class_name, *bounds = fields
    else:
        raise DatasetError(f"{where}: expected 6 fields (video class s1 e1 s2 e2) or UR-DMU's 7 "
                           f"(path frames class s1 e1 s2 e2), got {len(fields)}")
    try:
        s1, e1, s2, e2 = (int(b) for b in bounds)
    except ValueError:
        raise DatasetError(f"{where}: frame numbers must be integers, got {bounds}") from None
    spans = []
    for start, end in ((s1, e1), (s2, e2)):
        if (start < 0) != (end < 0):
            raise DatasetError(f"{where}: interval ({start}, {end}) has only one end (-1 marks a missing interval)")
        if start >= 0:
            if end < start:
                raise DatasetError(f"{where}: interval ({start}, {end}) ends before it starts")
            spans.append((start, end + 1))
    return _listed_path(listed, where), class_name, spans


@register_dataset("shanghaitech")
def shanghaitech(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """ShanghaiTech in Zhong et al.'s weakly supervised split: a train and a test list with one
    video per line, either ``<video> <label>`` (label 0 normal, 1 anomalous) or the bare name
    as in RTFM's ``SH_Train.txt`` / ``SH_Test.txt`` (the label then comes from the name: the
    original training videos ``01_001`` are normal, the original test videos ``01_0014``
    anomalous), and a frame mask per anomalous test video in ``test_frame_mask/<video>.npy``
    (1 = anomalous frame; a normal test video's mask is optional). Videos are files named
    ``<video>.<ext>`` anywhere under the root."""
    train_list, test_list, mask_dir = _shanghaitech_files(root, options)
    found = list_videos(root)
    by_stem = _by_stem(found.videos)
    entries, intervals, num_frames = [], {}, {}
    for split, listing in (("train", train_list), ("test", test_list)):
        for number, line in _lines(listing):
            fields = line.split()
            if len(fields) == 1 and (named := shanghaitech_label(Path(fields[0]).stem)) is not None:
                fields.append(str(named[0]))
            if len(fields) != 2 or fields[1] not in ("0", "1"):
                raise DatasetError(f"{listing}:{number}: expected '<video> <0|1>' or a video name such as "
                                   f"01_001 / 01_0014, got {line!r}")
            stem, label = Path(fields[0]).stem, int(fields[1])
            path = locate(by_stem, stem, f"{listing}:{number}")
            entries.append(VideoEntry(stem, path, split, label, "Anomaly" if label else "Normal"))
            if split == "test":
                mask_file = mask_dir / f"{stem}.npy"
                if not mask_file.is_file() and not label:
                    continue  # Zhong's normal test videos come from the original training set: no mask
                mask = _read_mask(require_file(mask_file))
                intervals[stem], num_frames[stem] = mask_intervals(mask), int(mask.size)
                if bool(label) != bool(mask.any()):
                    raise DatasetError(f"{mask_file}: frame mask disagrees with label {label} in {listing}")
    return DatasetIndex(entries, intervals, num_frames, skipped=found.skipped)


def _shanghaitech_files(root: Path, options: dict[str, Any]) -> tuple[Path, Path, Path]:
    """The train list, the test list and the frame-mask folder."""
    return (_first_present(root, options.get("train_list"), ("SH_Train_new.txt", "SH_Train.txt")),
            _first_present(root, options.get("test_list"), ("SH_Test_NEW.txt", "SH_Test.txt")),
            root / options.get("test_frame_masks", "test_frame_mask"))


@register_sources("shanghaitech")
def shanghaitech_sources(root: Path, options: dict[str, Any]) -> DatasetSources:
    train_list, test_list, mask_dir = _shanghaitech_files(root, options)
    return DatasetSources([train_list, test_list, *sorted(mask_dir.glob("*.npy"))], [root])


def _read_mask(path: Path) -> np.ndarray:
    """A per-frame 0/1 mask from a ``.npy`` file."""
    try:
        mask = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy frame mask ({exc})") from None
    if mask.size == 0 or not np.isin(mask, (0, 1)).all():
        raise DatasetError(f"{path}: a frame mask must be a non-empty array of 0 and 1")
    return mask.astype(bool).ravel()


def _first_present(root: Path, chosen: str | None, defaults: tuple[str, ...]) -> Path:
    """``root / chosen``, or the first default file name that exists (else the first one,
    whose absence is then reported)."""
    if chosen:
        return root / chosen
    return next((root / name for name in defaults if (root / name).is_file()), root / defaults[0])


@register_dataset("xd_violence")
def xd_violence(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """XD-Violence: labels from file names (``..._label_A.mp4`` normal, ``..._label_B1-0-0.mp4``
    etc. violent; the first code names the class), videos under ``train_dir`` / ``test_dir``,
    and ``annotations.txt`` with ``<video> s1 e1 [s2 e2 ...]`` frame intervals for the
    violent test videos (end exclusive, as the dataset's own evaluation code reads them)."""
    splits, annotation_file = _xd_files(root, options)
    spans: dict[str, list[tuple[int, int]]] = {}
    for number, line in _lines(annotation_file):
        name, *bounds = line.split()
        if len(bounds) % 2 or not bounds:
            raise DatasetError(f"{annotation_file}:{number}: expected '<video> start end [start end ...]'")
        try:
            values = [int(b) for b in bounds]
        except ValueError:
            raise DatasetError(f"{annotation_file}:{number}: frame numbers must be integers, got {bounds}") from None
        if any(end <= start or start < 0 for start, end in zip(values[::2], values[1::2])):
            raise DatasetError(f"{annotation_file}:{number}: every interval needs 0 <= start < end, got {bounds}")
        spans[Path(name).stem if name.endswith(".mp4") else name] = list(zip(values[::2], values[1::2]))
    entries, intervals = [], {}
    skipped: Counter = Counter()
    for split, folder in splits.items():
        if not folder.is_dir():
            raise DatasetError(f"{folder}: {split} video directory not found")
        found = list_videos(folder)
        skipped.update(found.skipped)
        for video_id, paths in _by_stem(found.videos).items():
            if len(paths) > 1:
                raise DatasetError(f"{folder}: {paths[0]} and {paths[1]} are both video {video_id!r}; "
                                   "keep one (the video id is the file name without its extension)")
            label, class_name = _xd_label(paths[0])
            entries.append(VideoEntry(video_id, paths[0], split, label, class_name))
            if split == "test":
                if label and video_id not in spans:
                    raise DatasetError(f"{annotation_file}: no intervals for violent test video {video_id!r}")
                intervals[video_id] = spans.get(video_id, [])
    return DatasetIndex(entries, intervals, skipped=skipped)


def _xd_files(root: Path, options: dict[str, Any]) -> tuple[dict[str, Path], Path]:
    """The video folder of each split and the test annotation file."""
    return ({"train": root / options.get("train_dir", "train"), "test": root / options.get("test_dir", "test")},
            root / options.get("test_annotations", "annotations.txt"))


@register_sources("xd_violence")
def xd_sources(root: Path, options: dict[str, Any]) -> DatasetSources:
    splits, annotation_file = _xd_files(root, options)
    return DatasetSources([annotation_file], list(splits.values()))


def _by_stem(paths: list[Path]) -> dict[str, list[Path]]:
    """Paths grouped by file name without extension (a video id), in the listing's order."""
    stems: dict[str, list[Path]] = {}
    for path in paths:
        stems.setdefault(path.stem, []).append(path)
    return stems


def _xd_label(path: Path) -> tuple[int, str]:
    found = xd_label(path.name)
    if found is None:
        raise DatasetError(f"{path}: file name carries no XD-Violence label (label_A, label_B1, ...)")
    return found
