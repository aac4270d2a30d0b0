"""Feature shards -> one backbone in the RTFM layout (``dakd export-features``): a (T, crops, D)
``.npy`` per video, a list per split and the test ground truth, for the field's own code."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations import frame_labels, read_annotations
from ..atomic import atomic_path
from ..features.store import VideoMeta, iter_shard_videos, read_metadata
from ..ids import check_split, check_video_id
from .errors import FeatureImportError

BACKBONE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


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
