"""Released features -> feature shards (``dakd import-features``).

Videos are matched across backbones by id and split. Everything is read from the ``.npy``
headers and checked (shapes, snippet counts, the ground truth) before anything is written;
the shards then replace the folder's shards as a whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..annotations import mask_intervals, write_annotations
from ..features.store import (
    BackboneInfo,
    VideoFeatures,
    VideoMeta,
    is_shard_output,
    shard_file_name,
    write_shard,
)
from ..provenance import provenance
from .errors import FeatureImportError
from .labels import CLASS_OF, ListOrder
from .lists import ListedVideo, read_video_list
from .npy import load_video_array, video_shape
from .paths import FolderIndex
from .sources import FeatureSource, ImportSettings
from .truth import GroundTruthVideo, VideoTruth, read_ground_truth
from .truth_diff import describe_difference

log = logging.getLogger("dakd")

_Key = tuple[str, str]  # (backbone, split)
_Order = list[tuple[str, ListedVideo]]  # (split, video) of the first source, in list order


def import_features(sources: Sequence[FeatureSource], settings: ImportSettings, out_dir: str | os.PathLike,
                    gt_file: str | os.PathLike | None = None, annotations_out: str | os.PathLike | None = None,
                    progress: bool = True, compare_gt: str | os.PathLike | None = None) -> list[Path]:
    """Convert released features into shards ``out_dir/shard-NNNNN.parquet``; returns their paths.

    Videos are matched across backbones by id and split; a shard holds one split, and its
    metadata the crop count of that split (VadCLIP: 10 training crops, 1 test crop). With
    ``gt_file`` (a concatenated vector or a folder of per-video files) the test split's
    frame labels are written to ``annotations_out`` (checked against the first source's
    snippet counts). ``compare_gt``, a second ground truth of the same videos, is read the same
    way and how it differs from ``gt_file`` is logged and recorded in the shards' provenance
    (:func:`dakd.released.truth_diff.describe_difference`); only ``gt_file`` is written.
    Everything is checked before anything is written; the shards replace the folder's
    shards as a whole (stale ``shard-*`` files of an earlier run are removed).
    """
    if not sources:
        raise FeatureImportError("no feature sources given")
    splits = _common_splits(sources)
    order, by_id = _read_lists(sources, splits, settings)
    _check_labelled(order, sources[0], gt_file)
    # Pass 1 reads only the .npy headers: every shape, count and the ground truth are
    # checked before anything is written, and memory stays at one shard in pass 2.
    infos, counts_of = _check_shapes(sources, order, by_id, settings.trim_to_shortest)
    truth: dict[str, VideoTruth] = {}
    difference = None
    if gt_file is not None:
        truth = _read_truth(gt_file, annotations_out, splits, order, counts_of, sources[0].backbone,
                            settings.snippet_len)
        _labels_from_truth(order, truth, by_id)
        if compare_gt is not None:
            other = _read_truth(compare_gt, annotations_out, splits, order, counts_of, sources[0].backbone,
                                settings.snippet_len)
            difference = describe_difference(truth, other, str(gt_file), str(compare_gt))
            log.warning("%s", difference)
    elif compare_gt is not None:
        raise FeatureImportError(f"{compare_gt}: a ground truth to compare with, but no ground truth to import")
    log.info("labels: %s", "; ".join(_label_summary(order, split) for split in splits))
    metas = _video_metas(order, counts_of, truth, sources[0].backbone, settings)
    out_dir = Path(out_dir)
    chunks = [(split, chunk) for split in splits
              for chunk in _chunks([m for m in metas if m.split == split], settings.shard_size)]
    if out_dir.exists() and not out_dir.is_dir():
        raise FeatureImportError(f"{out_dir}: output folder is a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    try:
        prov = _provenance(sources, settings, gt_file, difference)
        names = _write_shards(staging, chunks, sources, by_id, infos, prov, len(metas), progress)
        if gt_file is not None:
            write_annotations(annotations_out, {vid: mask_intervals(t.labels) for vid, t in truth.items()},
                              num_frames={vid: t.num_frames for vid, t in truth.items() if t.num_frames is not None})
        for name in names:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(out_dir, names)
    return [out_dir / name for name in names]


def _common_splits(sources: Sequence[FeatureSource]) -> list[str]:
    """The splits every source has lists for (the first source's, in its order)."""
    splits = list(sources[0].lists)
    for source in sources[1:]:
        if list(source.lists) != splits:
            raise FeatureImportError(f"backbone {source.backbone!r} has lists for {list(source.lists)}, "
                                     f"backbone {sources[0].backbone!r} for {splits}")
    return splits


def _read_lists(sources: Sequence[FeatureSource], splits: Sequence[str],
                settings: ImportSettings) -> tuple[_Order, dict[_Key, dict[str, ListedVideo]]]:
    """Every source's lists read: the videos in the first source's order, and each list's
    videos by id. A video in two splits, or backbones listing other videos, is an error."""
    unknown = sorted(set(settings.anomalous_first) - set(splits))
    if unknown:
        raise FeatureImportError(f"anomalous_first: no {unknown[0]!r} list to read it for (the lists are "
                                 f"{', '.join(splits)})")
    orders = {split: ListOrder(n, f"anomalous_first.{split}") for split, n in settings.anomalous_first.items()}
    folders = FolderIndex()
    listed = {(s.backbone, split): read_video_list(s.lists[split], settings.kind, s.feature_root, s.layout, s.crops,
                                                   folders, s.file_tag, orders.get(split))
              for s in sources for split in splits}
    for source in sources:
        _check_disjoint_splits(source, splits, listed)
    order = [(split, v) for split in splits for v in listed[(sources[0].backbone, split)]]
    by_id = {(s.backbone, split): {v.video_id: v for v in listed[(s.backbone, split)]}
             for s in sources for split in splits}
    _check_same_videos(sources, splits, by_id)
    return order, by_id


def _check_labelled(order: _Order, first: FeatureSource, gt_file: str | os.PathLike | None) -> None:
    """Every video needs a label from its list, except test videos when a ground truth will give them."""
    for split, video in order:
        if video.label is None and (split != "test" or gt_file is None):
            source = "a ground truth (--gt / ground_truth), " if split == "test" else ""
            raise FeatureImportError(f"{first.lists[split]}: no label for video {video.video_id!r}: the list has no "
                                     f"label column; give {source}the order (anomalous_first: {{{split}: N}}, the "
                                     f"first N videos anomalous) or a naming rule (naming / --kind)")


def _labels_from_truth(order: _Order, truth: dict[str, VideoTruth],
                       by_id: dict[_Key, dict[str, ListedVideo]]) -> None:
    """Test videos the lists do not label are anomalous when their frame labels hold an anomalous frame."""
    for split, video in order:
        if video.label is None:
            label = int(truth[video.video_id].labels.any())
            for (_, listed_split), videos in by_id.items():
                if listed_split == split:
                    videos[video.video_id].label, videos[video.video_id].class_name = label, CLASS_OF[label]


def _label_summary(order: _Order, split: str) -> str:
    videos = [v for sp, v in order if sp == split]
    anomalous = sum(v.label for v in videos)
    return f"{split} {anomalous} anomalous, {len(videos) - anomalous} normal"


def _check_shapes(sources: Sequence[FeatureSource], order: _Order, by_id: dict[_Key, dict[str, ListedVideo]],
                  trim_to_shortest: bool) -> tuple[dict[_Key, BackboneInfo], dict[str, dict[str, int]]]:
    """Each backbone's info per split and each video's snippet count per backbone, read from
    the headers; a backbone's dimension and a split's crop count must not change."""
    infos: dict[_Key, BackboneInfo] = {}
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
        if len(set(counts.values())) > 1 and not trim_to_shortest:
            raise FeatureImportError(f"video {video.video_id!r}: snippet counts differ between backbones {counts} "
                                     "(pass trim_to_shortest / --trim-to-shortest to cut them to the shortest)")
        counts_of[video.video_id] = counts
    return infos, counts_of


def _read_truth(gt_file: str | os.PathLike, annotations_out: str | os.PathLike | None, splits: Sequence[str],
                order: _Order, counts_of: dict[str, dict[str, int]], first: str,
                snippet_len: int) -> dict[str, VideoTruth]:
    """The test videos' frame labels, checked against the first backbone's snippet counts."""
    if "test" not in splits:
        raise FeatureImportError(f"{gt_file}: ground truth given but no test list")
    if annotations_out is None:
        raise FeatureImportError(f"{gt_file}: ground truth given without an annotations output path")
    test = [GroundTruthVideo(v.video_id, counts_of[v.video_id][first], v.label) for split, v in order
            if split == "test"]
    return read_ground_truth(gt_file, test, snippet_len)


def _video_metas(order: _Order, counts_of: dict[str, dict[str, int]], truth: dict[str, VideoTruth], first: str,
                 settings: ImportSettings) -> list[VideoMeta]:
    """Each video's shard row: its frames from the ground truth when a per-video file gave
    them, else the first backbone's snippets x snippet_len; snippets the shortest backbone's."""
    s = settings.snippet_len
    metas: list[VideoMeta] = []
    for split, video in order:
        counts = counts_of[video.video_id]
        snippets = min(counts.values())
        labelled = truth.get(video.video_id)
        num_frames = counts[first] * s
        if labelled is not None and labelled.num_frames is not None:
            num_frames = labelled.num_frames
        covered = min(num_frames, snippets * s)
        metas.append(VideoMeta(video.video_id, split, video.label, video.class_name, num_frames, settings.fps,
                               s, s, snippets, covered - (snippets - 1) * s))
    return metas


def _provenance(sources: Sequence[FeatureSource], settings: ImportSettings,
                gt_file: str | os.PathLike | None, difference: str | None) -> dict:
    return provenance("import-features", {"kind": settings.kind, "anomalous_first": settings.anomalous_first,
                                          "snippet_len": settings.snippet_len, "fps": settings.fps,
                                          "trim_to_shortest": settings.trim_to_shortest},
                      sources={src.backbone: {"lists": {k: str(v) for k, v in src.lists.items()},
                                              "feature_root": str(src.feature_root), "layout": src.layout,
                                              "crops": src.crops, "tag": src.file_tag}
                               for src in sources},
                      ground_truth=None if gt_file is None else str(gt_file), ground_truth_difference=difference)


def _write_shards(staging: Path, chunks: list[tuple[str, list[VideoMeta]]], sources: Sequence[FeatureSource],
                  by_id: dict[_Key, dict[str, ListedVideo]], infos: dict[_Key, BackboneInfo], prov: dict,
                  total: int, progress: bool) -> list[str]:
    """Pass 2: read each chunk's arrays and write it as a shard into ``staging``; the names written."""
    from tqdm.auto import tqdm

    names = []
    with tqdm(total=total, desc="import", unit="video", disable=not progress) as bar:
        for number, (split, chunk) in enumerate(chunks):
            rows = []
            for meta in chunk:
                features = {src.backbone: load_video_array(by_id[(src.backbone, split)][meta.video_id],
                                                           src.layout, meta.num_snippets) for src in sources}
                rows.append(VideoFeatures(meta, features))
                bar.update()
            name = shard_file_name(number)
            write_shard(staging / name, rows, [infos[(src.backbone, split)] for src in sources], prov)
            names.append(name)
    return names


def _remove_stale(out_dir: Path, names: Sequence[str]) -> None:
    """Remove the shard files (and failure manifests) of an earlier run that this one did not write."""
    stale = [p for p in out_dir.iterdir() if is_shard_output(p.name) and p.name not in names and p.is_file()]
    for path in stale:
        path.unlink()
    if stale:
        log.warning("%s: removed %d stale shard file(s) that an earlier import or extraction left (e.g. %s)",
                    out_dir, len(stale), sorted(p.name for p in stale)[0])


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
            for video_id, video in by_id[(source.backbone, split)].items():
                known = by_id[(reference.backbone, split)][video_id].label
                if video.label != known:
                    raise FeatureImportError(f"{source.lists[split]}: video {video_id!r} is labelled {video.label}, "
                                             f"but {known} in {reference.lists[split]}")
