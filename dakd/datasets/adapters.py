"""Parsers for UCF-Crime, ShanghaiTech (Zhong et al.'s weakly-supervised split) and XD-Violence."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations import mask_intervals
from .base import DatasetError, DatasetIndex, VideoEntry, find_videos, locate, register_dataset, require_file


def _lines(path: Path) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(require_file(path).read_text().splitlines(), 1) if line.strip()]


@register_dataset("ucf_crime")
def ucf_crime(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """UCF-Crime: ``Anomaly_Train.txt`` (``Class/Name_x264.mp4`` per line; normal videos have
    ``Normal`` in their name) and ``Temporal_Anomaly_Annotation_for_Testing_Videos.txt``
    (``Name_x264.mp4  Class  s1  e1  s2  e2``, -1 for no interval). The annotation's frame
    numbers are read as inclusive 0-based indices, so ``[s, e]`` becomes ``[s, e + 1)``."""
    train_list = root / options.get("train_list", "Anomaly_Train.txt")
    test_annotations = root / options.get("test_annotations", "Temporal_Anomaly_Annotation_for_Testing_Videos.txt")
    train_lines, test_lines = _lines(train_list), _lines(test_annotations)
    videos = find_videos(root)
    entries, intervals = [], {}
    for _, line in train_lines:
        name = Path(line).name
        normal = "normal" in name.lower()
        class_name = "Normal" if normal else Path(line).parts[0]
        entries.append(VideoEntry(Path(name).stem, locate(videos, name, train_list), "train", int(not normal),
                                  class_name))
    for number, line in test_lines:
        fields = line.split()
        if len(fields) != 6:
            raise DatasetError(f"{test_annotations}:{number}: expected 6 fields "
                               f"(video class s1 e1 s2 e2), got {len(fields)}")
        name, class_name, *bounds = fields
        try:
            s1, e1, s2, e2 = (int(b) for b in bounds)
        except ValueError:
            raise DatasetError(f"{test_annotations}:{number}: frame numbers must be integers") from None
        spans = [(s, e + 1) for s, e in ((s1, e1), (s2, e2)) if s >= 0 and e >= 0]
        label = int(class_name.lower() != "normal")
        if label and not spans:
            raise DatasetError(f"{test_annotations}:{number}: anomalous video {name!r} has no interval")
        video_id = Path(name).stem
        entries.append(VideoEntry(video_id, locate(videos, name, test_annotations), "test", label,
                                  "Normal" if not label else class_name))
        intervals[video_id] = spans
    return DatasetIndex(entries, intervals)


@register_dataset("shanghaitech")
def shanghaitech(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """ShanghaiTech in Zhong et al.'s split: ``SH_Train_new.txt`` / ``SH_Test_NEW.txt`` with one
    ``<video> <label>`` per line (label 0 normal, 1 anomalous) and a frame mask per test video
    in ``test_frame_mask/<video>.npy`` (1 = anomalous frame). Videos are files named
    ``<video>.<ext>`` anywhere under the root."""
    train_list = root / options.get("train_list", "SH_Train_new.txt")
    test_list = root / options.get("test_list", "SH_Test_NEW.txt")
    mask_dir = root / options.get("test_frame_masks", "test_frame_mask")
    by_stem = {Path(name).stem: path for name, path in find_videos(root).items()}
    entries, intervals = [], {}
    for split, listing in (("train", train_list), ("test", test_list)):
        for number, line in _lines(listing):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ("0", "1"):
                raise DatasetError(f"{listing}:{number}: expected '<video> <0|1>', got {line!r}")
            stem, label = Path(fields[0]).stem, int(fields[1])
            if stem not in by_stem:
                raise DatasetError(f"{listing}: video {stem!r} is listed but not found under the dataset root")
            entries.append(VideoEntry(stem, by_stem[stem], split, label, "Anomaly" if label else "Normal"))
            if split == "test":
                mask = np.load(require_file(mask_dir / f"{stem}.npy")).astype(bool).ravel()
                intervals[stem] = mask_intervals(mask)
                if bool(label) != bool(mask.any()):
                    raise DatasetError(f"{mask_dir / f'{stem}.npy'}: frame mask disagrees with label {label} "
                                       f"in {listing}")
    return DatasetIndex(entries, intervals)


XD_CLASSES = {"A": "Normal", "B1": "Fighting", "B2": "Shooting", "B4": "Riot", "B5": "Abuse",
              "B6": "Car accident", "G": "Explosion"}
XD_LABEL = re.compile(r"label_([A-Z]\d?)")


def xd_label(name: str) -> tuple[int, str] | None:
    """(label, class) from an XD-Violence name: ``..._label_A`` normal, ``..._label_B1-0-0``
    violent with the class of the first code; None when the name carries no label."""
    match = XD_LABEL.search(name)
    if match is None:
        return None
    code = match.group(1)
    return int(code != "A"), XD_CLASSES.get(code, code)


@register_dataset("xd_violence")
def xd_violence(root: Path, options: dict[str, Any]) -> DatasetIndex:
    """XD-Violence: labels from file names (``..._label_A.mp4`` normal, ``..._label_B1-0-0.mp4``
    etc. violent; the first code names the class), videos under ``train_dir`` / ``test_dir``,
    and ``annotations.txt`` with ``<video> s1 e1 [s2 e2 ...]`` frame intervals for the
    violent test videos (end exclusive, as the dataset's own evaluation code reads them)."""
    splits = {"train": root / options.get("train_dir", "train"), "test": root / options.get("test_dir", "test")}
    annotation_file = root / options.get("test_annotations", "annotations.txt")
    spans: dict[str, list[tuple[int, int]]] = {}
    for number, line in _lines(annotation_file):
        name, *bounds = line.split()
        if len(bounds) % 2 or not bounds:
            raise DatasetError(f"{annotation_file}:{number}: expected '<video> start end [start end ...]'")
        values = [int(b) for b in bounds]
        spans[Path(name).stem if name.endswith(".mp4") else name] = list(zip(values[::2], values[1::2]))
    entries, intervals = [], {}
    for split, folder in splits.items():
        if not folder.is_dir():
            raise DatasetError(f"{folder}: {split} video directory not found")
        for name, path in find_videos(folder).items():
            found = xd_label(name)
            if found is None:
                raise DatasetError(f"{path}: file name carries no XD-Violence label (label_A, label_B1, ...)")
            label, class_name = found
            video_id = Path(name).stem
            entries.append(VideoEntry(video_id, path, split, label, class_name))
            if split == "test":
                if label and video_id not in spans:
                    raise DatasetError(f"{annotation_file}: no intervals for violent test video {video_id!r}")
                intervals[video_id] = spans.get(video_id, [])
    return DatasetIndex(entries, intervals)
