"""Import and export the per-video ``.npy`` features the VAD community shares.

Layouts (one backbone at a time; several backbones are joined on the video id):

============  ===============================================  =======================
layout        files                                            array per file
============  ===============================================  =======================
``rtfm``      one per video (``Abuse001_x264_i3d.npy``)         (T, crops, D), RTFM
``per_crop``  one per crop (``Abuse001_x264__0.npy`` ..         (T, D), UR-DMU, VadCLIP,
              ``__9``); every ``__N`` sibling is read           PEL4VAD
``center``    one per video                                     (T, D), a single crop
============  ===============================================  =======================

Video lists are those repos' files: a ``.list`` / ``.txt`` with one feature path per line
(labels from the file name by the dataset's naming rule), or a CSV with ``path`` and
``label`` columns (VadCLIP: the label is the class name, ``Normal`` / ``A`` for normal).
The paths in released lists point at their authors' disks, so a feature root can stand
in: the longest tail of the listed path that exists under the root is used.

Ground truth is the released concatenated frame-label vector (``gt-ucf.npy``,
``gt-sh.npy``, XD-Violence ``gt.npy``): the test videos in list order, each covering
T x 16 frames. It is cut into videos by their snippet counts; when the lengths disagree
the import stops (released feature sets differ on whether the last, partial snippet
was kept, so a vector made for one set does not fit another).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations import frame_labels, mask_intervals, read_annotations, write_annotations
from ..datasets.adapters import XD_CLASSES, xd_label
from ..errors import DakdError
from ..io import atomic_path
from ..provenance import provenance
from ..registry import Registry
from .store import BackboneInfo, VideoFeatures, VideoMeta, iter_shard_videos, write_shard

LAYOUTS = ("auto", "rtfm", "per_crop", "center")
CROP_SUFFIX = re.compile(r"__(\d+)$")
# Released files carry the extractor in their name (RTFM: Abuse001_x264_i3d.npy).
FEATURE_TAG = re.compile(r"_(i3d|s3d|c3d|clip|rgb|flow)$", re.IGNORECASE)
NORMAL_CLASS_NAMES = {"normal", "a", "0"}


class FeatureImportError(DakdError):
    """A community feature file, list or ground-truth vector cannot be imported."""


# ---------------------------------------------------------------- labels from names

LabelRule = Callable[[str], tuple[int, str] | None]
LABEL_RULES: Registry[LabelRule] = Registry("naming rule (dataset kind)", FeatureImportError)
register_label_rule = LABEL_RULES.register


@register_label_rule("ucf_crime")
def _ucf_label(video_id: str) -> tuple[int, str] | None:
    """``Normal_Videos_003_x264`` -> normal; ``Abuse001_x264`` -> (1, Abuse)."""
    if "normal" in video_id.lower():
        return 0, "Normal"
    match = re.match(r"([A-Za-z]+?)\d", video_id)
    return (1, match.group(1)) if match else None


@register_label_rule("shanghaitech")
def _shanghaitech_label(video_id: str) -> tuple[int, str] | None:
    """Zhong et al.'s split: the original training videos (``01_001``) are normal, the
    original test videos (``01_0014``) anomalous."""
    if re.fullmatch(r"\d{2}_\d{3}", video_id):
        return 0, "Normal"
    if re.fullmatch(r"\d{2}_\d{4}", video_id):
        return 1, "Anomaly"
    return None


register_label_rule("xd_violence")(xd_label)


def label_from_name(kind: str, video_id: str, where: str) -> tuple[int, str]:
    found = LABEL_RULES.get(kind)(video_id)
    if found is None:
        raise FeatureImportError(f"{where}: cannot read a {kind} label from the name {video_id!r}")
    return found


def label_from_csv(value: str, kind: str) -> tuple[int, str]:
    """A CSV label: a class name (``Normal`` / XD ``A`` are normal) or 0/1."""
    value = value.strip()
    if value.lower() in NORMAL_CLASS_NAMES:
        return 0, "Normal"
    if value == "1":
        return 1, "Anomaly"
    if kind == "xd_violence":
        code = value.split("-")[0]
        return 1, XD_CLASSES.get(code, code)
    return 1, value


# ---------------------------------------------------------------- lists


@dataclass
class ListedVideo:
    """One video of a list: its feature files (one per crop for ``per_crop``) and label."""

    video_id: str
    files: list[Path]
    label: int
    class_name: str
    crops: list[int] = field(default_factory=list)


def video_id_of(path: Path) -> tuple[str, int | None]:
    """(video id, crop index or None) from a feature file name."""
    stem = path.name[:-4] if path.name.endswith(".npy") else path.name
    crop = CROP_SUFFIX.search(stem)
    if crop:
        stem = stem[: crop.start()]
    return FEATURE_TAG.sub("", stem), (int(crop.group(1)) if crop else None)


def resolve(listed: str, list_file: Path, feature_root: Path | None) -> Path:
    """The feature file a list line means: the path itself, or the longest tail of it that
    exists under ``feature_root``. A line without ``.npy`` (a bare video name, as PEL4VAD's
    lists have) means ``<name>.npy`` or, for per-crop files, ``<name>__0.npy``."""
    names = [listed] if listed.endswith(".npy") else [listed + ".npy", listed + "__0.npy", listed]
    for name in names:
        path = Path(name)
        candidates = [path if path.is_absolute() else list_file.parent / path]
        if feature_root is not None:
            parts = path.parts[1:] if path.is_absolute() else path.parts
            candidates += [feature_root.joinpath(*parts[i:]) for i in range(len(parts))]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
    where = f" or under {feature_root}" if feature_root else ""
    raise FeatureImportError(f"{list_file}: feature file {listed!r} not found{where}")


def read_video_list(list_file: str | os.PathLike, kind: str, feature_root: str | os.PathLike | None = None,
                    layout: str = "auto") -> list[ListedVideo]:
    """The videos of a ``.list`` / ``.txt`` / ``.csv`` list, in list order.

    Lines naming crops of one video (``__0`` .. ``__9``) are grouped into one video; with
    the ``per_crop`` layout every ``__N`` sibling on disk is taken, so lists that name only
    ``__0`` work too.
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FeatureImportError(f"{list_file}: video list not found")
    root = Path(feature_root) if feature_root is not None else None
    rows = _csv_rows(list_file) if list_file.suffix.lower() == ".csv" else _list_rows(list_file)
    videos: dict[str, ListedVideo] = {}
    for number, listed, csv_label in rows:
        path = resolve(listed, list_file, root)
        video_id, crop = video_id_of(path)
        where = f"{list_file}:{number}"
        label, class_name = (label_from_csv(csv_label, kind) if csv_label is not None
                             else label_from_name(kind, video_id, where))
        video = videos.setdefault(video_id, ListedVideo(video_id, [], label, class_name))
        if (video.label, video.class_name) != (label, class_name):
            raise FeatureImportError(f"{where}: video {video_id!r} listed again with another label")
        if crop is None and video.files:
            raise FeatureImportError(f"{where}: video {video_id!r} listed twice")
        video.files.append(path)
        if crop is not None:
            video.crops.append(crop)
    if not videos:
        raise FeatureImportError(f"{list_file}: the list names no feature files")
    for video in videos.values():
        if video.crops:
            _complete_crops(video, list_file, layout)
    return list(videos.values())


def _list_rows(list_file: Path) -> list[tuple[int, str, None]]:
    return [(n, line.strip(), None) for n, line in enumerate(list_file.read_text().splitlines(), 1) if line.strip()]


def _csv_rows(list_file: Path) -> list[tuple[int, str, str | None]]:
    with list_file.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if "path" not in (reader.fieldnames or []):
            raise FeatureImportError(f"{list_file}: CSV list needs a 'path' column (and 'label'), "
                                     f"has {reader.fieldnames}")
        has_label = "label" in reader.fieldnames
        return [(n, row["path"].strip(), row["label"] if has_label else None)
                for n, row in enumerate(reader, 2) if row["path"].strip()]


def _complete_crops(video: ListedVideo, list_file: Path, layout: str) -> None:
    """Order a per-crop video's files by crop; take the ``__N`` siblings the list left out."""
    if layout in ("auto", "per_crop"):
        first = video.files[0]
        base = first.name[: CROP_SUFFIX.search(first.name[:-4]).start()]
        pattern = re.compile(re.escape(base) + r"__(\d+)\.npy$")
        found = {int(m.group(1)): p for p in first.parent.iterdir() if (m := pattern.match(p.name))}
        found.update(zip(video.crops, video.files))
    else:
        found = dict(zip(video.crops, video.files))
    crops = sorted(found)
    if crops != list(range(len(crops))):
        raise FeatureImportError(f"{list_file}: video {video.video_id!r} has crops {crops}, "
                                 f"expected __0..__{len(crops) - 1}")
    video.crops, video.files = crops, [found[c] for c in crops]


# ---------------------------------------------------------------- arrays


def _open_arrays(video: ListedVideo, layout: str) -> tuple[list[np.ndarray], str]:
    """The video's files as memory maps (nothing is read beyond the headers yet), checked
    against the layout, and the layout they were read as."""
    arrays = []
    for path in video.files:
        try:
            arrays.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise FeatureImportError(f"{path}: not a readable .npy feature file ({exc})") from exc
    if layout == "auto":
        layout = "per_crop" if video.crops else ("rtfm" if arrays[0].ndim == 3 else "center")
    want_ndim = 3 if layout == "rtfm" else 2
    for path, array in zip(video.files, arrays):
        if array.ndim != want_ndim or array.shape[0] == 0:
            shape = "(T, crops, D)" if want_ndim == 3 else "(T, D)"
            raise FeatureImportError(f"{path}: shape {array.shape} is not {shape} for the {layout} layout")
    if layout in ("rtfm", "center") and len(arrays) != 1:
        raise FeatureImportError(f"{video.files[1]}: the {layout} layout has one file per video (per-crop files?)")
    if layout == "per_crop" and len({a.shape for a in arrays}) != 1:
        raise FeatureImportError(f"{video.files[0].parent}: crops of {video.video_id!r} differ in shape "
                                 f"{sorted({a.shape for a in arrays})}")
    return arrays, layout


def video_shape(video: ListedVideo, layout: str) -> tuple[tuple[int, int, int], str]:
    """(T, crops, D) of the video, read from the .npy headers, and the resolved layout."""
    arrays, layout = _open_arrays(video, layout)
    if layout == "rtfm":
        return tuple(arrays[0].shape), layout
    return (arrays[0].shape[0], len(arrays), arrays[0].shape[1]), layout


def load_video_array(video: ListedVideo, layout: str, snippets: int | None = None) -> np.ndarray:
    """The video's (T, crops, D) float32 array, cut to the first ``snippets`` when given."""
    arrays, layout = _open_arrays(video, layout)
    cut = slice(None, snippets)
    if layout == "rtfm":
        return np.ascontiguousarray(arrays[0][cut], dtype=np.float32)
    return np.ascontiguousarray(np.stack([a[cut] for a in arrays], axis=1), dtype=np.float32)


# ---------------------------------------------------------------- ground truth


def split_ground_truth(gt_file: str | os.PathLike, videos: Sequence[tuple[str, int]],
                       snippet_len: int) -> dict[str, np.ndarray]:
    """Cut a concatenated frame-label vector into ``video_id -> (T * snippet_len,)`` labels.

    ``videos`` are the test videos as (video id, snippet count T) in the order of the list
    the vector was made for.
    """
    gt_file = Path(gt_file)
    try:
        gt = np.load(gt_file, allow_pickle=False).ravel()
    except (OSError, ValueError) as exc:
        raise FeatureImportError(f"{gt_file}: not a readable .npy frame-label vector ({exc})") from exc
    expected = sum(t for _, t in videos) * snippet_len
    if gt.size != expected:
        diff = gt.size - expected
        hint = ""
        if diff % snippet_len == 0:
            hint = (f" ({abs(diff) // snippet_len} snippet(s) {'more' if diff > 0 else 'fewer'} than the features; "
                    "released feature sets differ on keeping the last snippet when a video's frame count is "
                    "divisible by 16, so use the ground truth made for these very features)")
        raise FeatureImportError(f"{gt_file}: {gt.size} frame labels, but the {len(videos)} test videos cover "
                                 f"{expected} frames at {snippet_len} frames per snippet{hint}")
    if not np.isin(gt, (0, 1)).all():
        raise FeatureImportError(f"{gt_file}: frame labels must be 0 or 1")
    out, start = {}, 0
    for video_id, snippets in videos:
        end = start + snippets * snippet_len
        out[video_id] = gt[start:end].astype(np.uint8)
        start = end
    return out


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class FeatureSource:
    """One backbone's released features: its lists per split, where the files are, the layout."""

    backbone: str
    lists: dict[str, Path]
    feature_root: Path | None = None
    layout: str = "auto"

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


def sources_from_mapping(spec: dict[str, Any], where: Any) -> tuple[list[FeatureSource], ImportSettings, Path | None]:
    """Sources, settings and ground truth from a ``features`` dataset entry of config.yaml::

        naming: ucf_crime              # label rule for .list files
        root: data/ucf                 # relative paths below are taken from here
        sources: {i3d: {train: a.list, test: b.list, feature_root: feats, layout: rtfm}}
        ground_truth: gt-ucf.npy
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
        unknown = set(entry) - {"train", "test", "feature_root", "layout"}
        if unknown:
            raise FeatureImportError(f"{where}: source {backbone!r} has unknown key(s) {sorted(unknown)}")
        lists = {split: path(entry[split]) for split in ("train", "test") if entry.get(split)}
        if not lists:
            raise FeatureImportError(f"{where}: source {backbone!r} names no train or test list")
        sources.append(FeatureSource(backbone, lists, path(entry.get("feature_root")), entry.get("layout") or "auto"))
    try:
        settings = ImportSettings(kind=spec["naming"], **(spec.get("options") or {}))
    except TypeError as exc:
        raise FeatureImportError(f"{where}: options: {exc}") from None
    return sources, settings, path(spec.get("ground_truth"))


def import_features(sources: Sequence[FeatureSource], settings: ImportSettings, out_dir: str | os.PathLike,
                    gt_file: str | os.PathLike | None = None, annotations_out: str | os.PathLike | None = None,
                    progress: bool = True) -> list[Path]:
    """Convert released features into shards ``out_dir/shard-NNNNN.parquet``; returns their paths.

    Videos are matched across backbones by id and split. With ``gt_file`` the test split's
    frame labels are written to ``annotations_out`` (cut by the first source's snippet counts).
    """
    from tqdm.auto import tqdm

    if not sources:
        raise FeatureImportError("no feature sources given")
    for source in sources:
        if source.layout not in LAYOUTS:
            raise FeatureImportError(f"unknown layout {source.layout!r} for {source.backbone}; "
                                     f"choose from {list(LAYOUTS)}")
    splits = list(sources[0].lists)
    for source in sources[1:]:
        if list(source.lists) != splits:
            raise FeatureImportError(f"backbone {source.backbone!r} has lists for {list(source.lists)}, "
                                     f"backbone {sources[0].backbone!r} for {splits}")
    listed = {(s.backbone, split): read_video_list(s.lists[split], settings.kind, s.feature_root, s.layout)
              for s in sources for split in splits}
    order = [(split, v) for split in splits for v in listed[(sources[0].backbone, split)]]
    by_id = {(s.backbone, split): {v.video_id: v for v in listed[(s.backbone, split)]}
             for s in sources for split in splits}
    _check_same_videos(sources, splits, by_id)

    # Pass 1 reads only the .npy headers: every shape, count and the ground truth are
    # checked before anything is written, and memory stays at one shard in pass 2.
    infos: dict[str, BackboneInfo] = {}
    metas: list[VideoMeta] = []
    first_counts: dict[str, int] = {}
    for split, video in order:
        counts = {}
        for source in sources:
            entry = by_id[(source.backbone, split)][video.video_id]
            (snippets, crops, dim), layout = video_shape(entry, source.layout)
            info = BackboneInfo(source.backbone, int(dim), int(crops),
                                f"imported ({layout} layout from {source.lists[split].name})",
                                {"imported_from": {sp: str(p) for sp, p in source.lists.items()}, "layout": layout})
            known = infos.setdefault(source.backbone, info)
            if (known.dim, known.crops) != (info.dim, info.crops):
                raise FeatureImportError(f"{entry.files[0]}: {source.backbone} features are {crops}x{dim} "
                                         f"(crops x dim), earlier videos {known.crops}x{known.dim}")
            counts[source.backbone] = int(snippets)
        if len(set(counts.values())) > 1 and not settings.trim_to_shortest:
            raise FeatureImportError(f"video {video.video_id!r}: snippet counts differ between backbones {counts} "
                                     "(pass trim_to_shortest / --trim-to-shortest to cut them to the shortest)")
        first_counts[video.video_id] = counts[sources[0].backbone]
        metas.append(VideoMeta(video.video_id, split, video.label, video.class_name,
                               first_counts[video.video_id] * settings.snippet_len, settings.fps,
                               settings.snippet_len, settings.snippet_len, min(counts.values()),
                               settings.snippet_len))

    if gt_file is not None:
        if "test" not in splits:
            raise FeatureImportError(f"{gt_file}: ground truth given but no test list")
        if annotations_out is None:
            raise FeatureImportError(f"{gt_file}: ground truth given without an annotations output path")
        test = [(v.video_id, first_counts[v.video_id]) for split, v in order if split == "test"]
        labels = split_ground_truth(gt_file, test, settings.snippet_len)

    out_dir = Path(out_dir)
    prov = provenance("import-features", {"kind": settings.kind, "snippet_len": settings.snippet_len,
                                          "fps": settings.fps, "trim_to_shortest": settings.trim_to_shortest},
                      sources={s.backbone: {"lists": {k: str(v) for k, v in s.lists.items()},
                                            "feature_root": str(s.feature_root), "layout": s.layout}
                               for s in sources},
                      ground_truth=None if gt_file is None else str(gt_file))
    written = []
    with tqdm(total=len(metas), desc="import", unit="video", disable=not progress) as bar:
        for number, start in enumerate(range(0, len(metas), settings.shard_size)):
            rows = []
            for meta in metas[start : start + settings.shard_size]:
                features = {s.backbone: load_video_array(by_id[(s.backbone, meta.split)][meta.video_id], s.layout,
                                                         meta.num_snippets) for s in sources}
                rows.append(VideoFeatures(meta, features))
                bar.update()
            path = out_dir / f"shard-{number:05d}.parquet"
            write_shard(path, rows, infos.values(), prov)
            written.append(path)
    if gt_file is not None:
        write_annotations(annotations_out, {vid: mask_intervals(lab) for vid, lab in labels.items()})
    return written


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
    truth ``gt-test.npy`` (T x snippet_len frames per video, list order). Returns the files written."""
    out_dir = Path(out_dir)
    labels = read_annotations(annotations) if annotations is not None else None
    listed: dict[str, list[tuple[Path, VideoMeta]]] = {}
    for shard in shards:
        for video in iter_shard_videos(shard, [backbone]):
            meta = video.meta
            path = out_dir / meta.split / f"{meta.video_id}_{backbone}.npy"
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, video.features[backbone])
            listed.setdefault(meta.split, []).append((path.resolve(), meta))
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
