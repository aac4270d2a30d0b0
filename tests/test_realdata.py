"""Importing with the field's real list, annotation and ground-truth files.

The lists of RTFM, PEL4VAD, UR-DMU and VadCLIP (UCF-Crime, ShanghaiTech), PEL4VAD's
per-video UCF-Crime ground truth, RTFM's and PEL4VAD's ShanghaiTech ground truths and
frame masks are read from a folder beside the repository; the features they name are
not public in any small form, so tiny ones (dim 4) are written at the real snippet
counts in the layout and under the exact names each list uses. Skipped when the folder
is absent (a clone of the repository alone).
"""

import io
import logging
import math
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from dakd.annotations import mask_intervals, read_annotation_table
from dakd.features import read_metadata, read_shard
from dakd.released.errors import FeatureImportError
from dakd.released.importer import import_features
from dakd.released.lists import read_video_list
from dakd.released.sources import FeatureSource, ImportSettings
from dakd.released.truth import GroundTruthVideo, split_ground_truth

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason="the field's released list and ground-truth files "
                                "are not checked out beside this repository")
UCF, SH = REALDATA / "ucf", REALDATA / "shanghaitech"
DIM = 4
TRAIN_SNIPPETS = 2  # only the test videos' counts matter for the ground truth
_HEADERS: dict[tuple, bytes] = {}
_FOLDERS: set[Path] = set()


def _folder(path: Path) -> Path:
    if path.parent not in _FOLDERS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _FOLDERS.add(path.parent)
    return path


def _save(path: Path, array: np.ndarray) -> None:
    """np.save without its per-call cost."""
    if array.shape not in _HEADERS:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
        _HEADERS[array.shape] = buf.getvalue()
    _folder(path).write_bytes(_HEADERS[array.shape] + np.ascontiguousarray(array, np.float32).tobytes())


class _Tree:
    """Feature files under the names a list gives them. Creating files is the slow part (tens
    of thousands per list), so only the files whose values a test reads are written: the
    first crop of each test video (at its real snippet count), every crop of the videos in
    ``distinct`` and the crops in ``crops``; other crops of a video are hard links to its
    first one, and every training video's files link to one small file (only test videos'
    snippet counts matter)."""

    def __init__(self, root: Path, counts: dict[str, int], make, distinct: set[str] = frozenset(),
                 crops: tuple[int, ...] = ()):
        self.root, self.counts, self.make, self.distinct, self.crops = root, counts, make, distinct, crops
        self.first: dict[str, Path] = {}
        self.template = root.parent / f"{root.name}-train.npy"
        _save(self.template, make("train", TRAIN_SNIPPETS, 0))

    def add(self, tail: Path, video_id: str, crop: int = 0) -> None:
        path = self.root / tail
        if video_id in self.counts and (video_id in self.distinct or crop in self.crops or video_id not in self.first):
            _save(path, self.make(video_id, self.counts[video_id], crop))
            self.first.setdefault(video_id, path)
        else:
            os.link(self.first.get(video_id, self.template), _folder(path))


def _crop(video_id: str, snippets: int, crop: int) -> np.ndarray:
    """Deterministic (T, DIM) float32 features of one crop of a video."""
    base = zlib.crc32(video_id.encode()) % 1000
    return (np.arange(snippets * DIM, dtype=np.float32).reshape(snippets, DIM) / 64 + base + 1000 * crop)


def _ten_crop(video_id: str, snippets: int, crop: int = 0) -> np.ndarray:
    return np.stack([_crop(video_id, snippets, c) for c in range(10)], axis=1)


def _crop_of(stem: str, sep: str) -> tuple[str, int]:
    """(video id, crop) of a per-crop file stem; crop 0 may have no suffix (PEL4VAD)."""
    base, found, crop = stem.rpartition(sep)
    return (base, int(crop)) if found and crop.isdigit() else (stem, 0)


def _tail(line: str, drop: int) -> Path:
    """The last components of a listed path (either separator), ``drop`` leading ones removed."""
    parts = [p for p in line.replace("\\", "/").split("/") if p]
    return Path(*parts[drop:])


def _ids(listed) -> list[str]:
    return [v.video_id for v in listed]


def _labels(listed) -> tuple[int, int]:
    return sum(v.label for v in listed), len(listed)


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    """UCF-Crime features at the real test snippet counts (PEL4VAD single_gt: T = frames / 16)
    in the RTFM, PEL4VAD and UR-DMU / VadCLIP layouts."""
    root = tmp_path_factory.mktemp("ucf")
    gt_files = {p.name[: -len("__9_gt.npy")]: p for p in (UCF / "pel4vad" / "single_gt").glob("*__9_gt.npy")}
    counts = {vid: np.load(p, mmap_mode="r").size // 16 for vid, p in gt_files.items()}

    rtfm = _Tree(root / "rtfm", counts, _ten_crop)
    for name in ("ucf-i3d.list", "ucf-i3d-test.list"):  # G:\\UCF_Train_ten_crop_i3d\\Abuse001_x264_i3d.npy
        for line in _lines(UCF / "rtfm" / name):
            path = _tail(line, 1)
            rtfm.add(path, path.name[: -len("_i3d.npy")])
    # UR-DMU (dataset/Abuse/Abuse001_x264__0.npy) and VadCLIP (.../UCFClipFeatures/Abuse/..__0.npy) name the
    # same class folders and files: one tree serves both (crop 5 written: VadCLIP's test list names it)
    for tree, drop, lists in (
            (_Tree(root / "pel4vad", counts, _crop, {"Abuse028_x264"}), 0, ("pel4vad/train.list", "pel4vad/test.list")),
            (_Tree(root / "crops", counts, _crop, {"Abuse028_x264"}, crops=(5,)), 1,
             ("urdmu/UCF_Train.list", "urdmu/UCF_Test.list"))):
        for name in lists:
            for line in _lines(UCF / name):  # train/Abuse001_x264.npy (crop 0), train/Abuse001_x264__1.npy ..
                path = _tail(line, drop)
                tree.add(path, *_crop_of(path.name[:-4], "__"))
    return root, counts


def test_ucf_rtfm_windows_lists_and_per_video_ground_truth_give_exact_labels(ucf, tmp_path):
    root, counts = ucf
    source = FeatureSource("i3d", {"train": UCF / "rtfm" / "ucf-i3d.list", "test": UCF / "rtfm" / "ucf-i3d-test.list"},
                           root / "rtfm", "rtfm")
    gt = UCF / "pel4vad" / "single_gt"
    shards = import_features([source], ImportSettings("ucf_crime", shard_size=256), tmp_path / "out", gt,
                             tmp_path / "ann.parquet", progress=False)
    metas = [v.meta for s in shards for v in read_shard(s).videos]
    train = [m for m in metas if m.split == "train"]
    test = [m for m in metas if m.split == "test"]
    assert (sum(m.label for m in train), len(train)) == (810, 1610)
    assert (sum(m.label for m in test), len(test)) == (140, 290)
    assert sum(m.num_snippets for m in test) * 16 == 1_109_680
    assert read_metadata(shards[0])[0]["i3d"].crops == 10
    table = read_annotation_table(tmp_path / "ann.parquet")
    assert len(table) == 290
    for meta in test:
        labels = np.load(gt / f"{meta.video_id}__9_gt.npy")
        assert table[meta.video_id] == (mask_intervals(labels), labels.size)
        assert meta.num_frames == labels.size == meta.num_snippets * 16
    video = next(v for s in shards for v in read_shard(s).videos if v.meta.video_id == "Burglary005_x264")
    np.testing.assert_array_equal(video.features["i3d"], _ten_crop("Burglary005_x264", counts["Burglary005_x264"]))

    # the same labels concatenated in list order cut exactly; sorted by name, they are refused
    order = [m.video_id for m in test]
    videos = [GroundTruthVideo(m.video_id, m.num_snippets, m.label) for m in test]
    np.save(tmp_path / "gt-ucf.npy", np.concatenate([np.load(gt / f"{v}__9_gt.npy") for v in order]))
    cut = split_ground_truth(tmp_path / "gt-ucf.npy", videos, 16)
    assert all(mask_intervals(cut[v]) == table[v][0] for v in order)
    np.save(tmp_path / "gt-sorted.npy", np.concatenate([np.load(gt / f"{v}__9_gt.npy") for v in sorted(order)]))
    with pytest.raises(FeatureImportError, match=r"gt-sorted\.npy: the frame labels contradict the video labels "
                                                 r"of 96 test video\(s\), e\.g\. 'RoadAccidents001_x264' \(anomalous"):
        split_ground_truth(tmp_path / "gt-sorted.npy", videos, 16)


def test_ucf_pel4vad_lists_crop_zero_without_suffix(ucf, tmp_path):
    root, counts = ucf
    train = read_video_list(UCF / "pel4vad" / "train.list", "ucf_crime", root / "pel4vad")
    assert _labels(train) == (810, 1610)
    assert {tuple(v.crops) for v in train} == {tuple(range(10))}
    assert train[0].files[0].name == "Abuse001_x264.npy" and train[0].files[9].name == "Abuse001_x264__9.npy"
    source = FeatureSource("i3d", {"test": UCF / "pel4vad" / "test.list"}, root / "pel4vad")
    shards = import_features([source], ImportSettings("ucf_crime", shard_size=300), tmp_path / "out",
                             UCF / "pel4vad" / "single_gt", tmp_path / "ann.parquet", progress=False)
    videos = {v.meta.video_id: v for s in shards for v in read_shard(s).videos}
    assert (sum(v.meta.label for v in videos.values()), len(videos)) == (140, 290)
    np.testing.assert_array_equal(videos["Abuse028_x264"].features["i3d"],
                                  _ten_crop("Abuse028_x264", counts["Abuse028_x264"]))
    assert _ids(train) == _ids(read_video_list(UCF / "rtfm" / "ucf-i3d.list", "ucf_crime", root / "rtfm"))


def test_ucf_vadclip_test_list_takes_exactly_crop_5(ucf, tmp_path, caplog):
    root, counts = ucf
    source = FeatureSource("clip", {"test": UCF / "vadclip" / "ucf_CLIP_rgbtest.csv"}, root / "crops")
    with caplog.at_level(logging.WARNING, logger="dakd"):
        shards = import_features([source], ImportSettings("ucf_crime", shard_size=300), tmp_path / "out",
                                 progress=False)
    warned = [r.getMessage() for r in caplog.records if "more crop files on disk" in r.getMessage()]
    assert len(warned) == 1 and "290 of 290 videos" in warned[0]
    assert read_metadata(shards[0])[0]["clip"].crops == 1
    videos = {v.meta.video_id: v for s in shards for v in read_shard(s).videos}
    assert (sum(v.meta.label for v in videos.values()), len(videos)) == (140, 290)
    np.testing.assert_array_equal(videos["Abuse028_x264"].features["clip"][:, 0],
                                  _crop("Abuse028_x264", counts["Abuse028_x264"], 5))
    train = read_video_list(UCF / "vadclip" / "ucf_CLIP_rgb.csv", "ucf_crime", root / "crops")
    assert _labels(train) == (810, 1610) and {tuple(v.crops) for v in train} == {tuple(range(10))}


def test_every_ucf_list_agrees_with_the_official_split(ucf):
    root, _ = ucf
    official = {split: [Path(line).stem for line in _lines(UCF / "vadclip" / f"Anomaly_{split}.txt")]
                for split in ("Train", "Test")}
    lists = {
        ("Train", "rtfm"): read_video_list(UCF / "rtfm" / "ucf-i3d.list", "ucf_crime", root / "rtfm"),
        ("Test", "rtfm"): read_video_list(UCF / "rtfm" / "ucf-i3d-test.list", "ucf_crime", root / "rtfm"),
        ("Train", "pel4vad"): read_video_list(UCF / "pel4vad" / "train.list", "ucf_crime", root / "pel4vad"),
        ("Test", "pel4vad"): read_video_list(UCF / "pel4vad" / "test.list", "ucf_crime", root / "pel4vad"),
        ("Train", "urdmu"): read_video_list(UCF / "urdmu" / "UCF_Train.list", "ucf_crime", root / "crops"),
        ("Test", "urdmu"): read_video_list(UCF / "urdmu" / "UCF_Test.list", "ucf_crime", root / "crops"),
        ("Train", "vadclip"): read_video_list(UCF / "vadclip" / "ucf_CLIP_rgb.csv", "ucf_crime", root / "crops"),
        ("Test", "vadclip"): read_video_list(UCF / "vadclip" / "ucf_CLIP_rgbtest.csv", "ucf_crime", root / "crops"),
    }
    for (split, repo), listed in lists.items():
        assert sorted(_ids(listed)) == sorted(official[split]), repo
        assert _labels(listed) == ((810, 1610) if split == "Train" else (140, 290)), repo
        for video in listed:  # the class is the folder of the official list
            assert video.label == (video.class_name != "Normal"), (repo, video.video_id)
    assert {tuple(v.crops) for v in lists[("Test", "urdmu")]} == {tuple(range(10))}


# ---------------------------------------------------------------- ShanghaiTech


@pytest.fixture(scope="module")
def shanghaitech(tmp_path_factory):
    """ShanghaiTech features: the 44 anomalous test videos at ceil(frames / 16) snippets (their
    masks are in test_frame_mask); RTFM's gt-sh.npy is 8,932 snippets in all, and the rest is
    spread over the 155 normal test videos, whose frame counts are not public (their labels are
    all normal, so any split of the remainder fits)."""
    root = tmp_path_factory.mktemp("sh")
    test_ids = [Path(line).name[: -len("_i3d.npy")] for line in _lines(SH / "rtfm" / "shanghai-i3d-test-10crop.list")]
    masks = {v: np.load(SH / "rtfm" / "test_frame_mask" / f"{v}.npy") for v in test_ids if len(v) == 7}
    counts = {v: math.ceil(m.size / 16) for v, m in masks.items()}
    normal = [v for v in test_ids if v not in masks]
    remainder = np.load(SH / "rtfm" / "gt-sh.npy", mmap_mode="r").size // 16 - sum(counts.values())
    for i, video_id in enumerate(normal):
        counts[video_id] = remainder // len(normal) + (i < remainder % len(normal))

    rtfm = _Tree(root / "rtfm", counts, _ten_crop)
    for name in ("shanghai-i3d-train-10crop.list", "shanghai-i3d-test-10crop.list"):
        for line in _lines(SH / "rtfm" / name):  # /home/yu/yu_ssd/SH_Train_ten_crop_i3d/01_0014_i3d.npy
            path = _tail(line, 3)
            rtfm.add(path, path.name[: -len("_i3d.npy")])
    pel4vad = _Tree(root / "pel4vad", counts, _crop, {"01_0015"})
    for name in ("train.list", "test.list"):  # train/01_0014_0.npy 1.0
        for line in _lines(SH / "pel4vad" / name):
            path = Path(line.split()[0])
            pel4vad.add(path, *_crop_of(path.name[:-4], "_"))
    return root, counts, masks


def _sh_source(root):
    return FeatureSource("i3d", {"train": SH / "rtfm" / "shanghai-i3d-train-10crop.list",
                                 "test": SH / "rtfm" / "shanghai-i3d-test-10crop.list"}, root / "rtfm", "rtfm")


def test_shanghaitech_rtfm_ground_truth_fits_ceil_counts_and_pel4vads_does_not(shanghaitech, tmp_path):
    root, counts, masks = shanghaitech
    shards = import_features([_sh_source(root)], ImportSettings("shanghaitech", shard_size=256), tmp_path / "out",
                             SH / "rtfm" / "gt-sh.npy", tmp_path / "ann.parquet", progress=False)
    metas = {v.meta.video_id: v.meta for s in shards for v in read_shard(s).videos}
    assert _labels([m for m in metas.values() if m.split == "train"]) == (63, 238)
    assert _labels([m for m in metas.values() if m.split == "test"]) == (44, 199)
    table = read_annotation_table(tmp_path / "ann.parquet")
    for video_id, mask in masks.items():  # the cut is each video's own mask (RTFM pads with its last label)
        intervals, _ = table[video_id]
        assert intervals, video_id
        labels = np.zeros(counts[video_id] * 16, np.uint8)
        for start, end in intervals:
            labels[start:end] = 1
        np.testing.assert_array_equal(labels[: mask.size], mask)
    assert all(not table[v][0] for v in metas if metas[v].split == "test" and v not in masks)

    with pytest.raises(FeatureImportError) as err:
        import_features([_sh_source(root)], ImportSettings("shanghaitech"), tmp_path / "pel",
                        SH / "pel4vad" / "sh-gt.npy", tmp_path / "ann2.parquet", progress=False)
    message = str(err.value)
    assert message.startswith(f"{SH / 'pel4vad' / 'sh-gt.npy'}: 140112 frame labels, but the 199 test videos "
                              "cover 142912 frames")
    assert "175 snippet(s) fewer" in message and "partial last snippet" in message
    assert "first contradicts the video labels at '12_0151' (anomalous, no anomalous frame)" in message


def test_shanghaitech_frame_masks_as_per_video_ground_truth(shanghaitech, tmp_path):
    root, counts, masks = shanghaitech
    shards = import_features([_sh_source(root)], ImportSettings("shanghaitech", shard_size=256), tmp_path / "out",
                             SH / "rtfm" / "test_frame_mask", tmp_path / "ann.parquet", progress=False)
    metas = {v.meta.video_id: v.meta for s in shards for v in read_shard(s).videos}
    table = read_annotation_table(tmp_path / "ann.parquet")
    for video_id, mask in masks.items():  # features keep a partial last snippet: labels are the L frames
        assert table[video_id] == (mask_intervals(mask), mask.size)
        assert (metas[video_id].num_frames, metas[video_id].covered_frames) == (mask.size, mask.size)


def test_pel4vad_shanghaitech_ground_truth_counts():
    """What PEL4VAD's sh-gt.npy was cut with: floor(frames / 16) snippets, one fewer when the
    frame count is 1 modulo 16 ((frames - 2) // 16); RTFM's gt-sh.npy uses ceil."""
    test_ids = [Path(line).name[: -len("_i3d.npy")] for line in _lines(SH / "rtfm" / "shanghai-i3d-test-10crop.list")]
    masks = [np.load(SH / "rtfm" / "test_frame_mask" / f"{v}.npy") for v in test_ids if len(v) == 7]
    gt = np.load(SH / "pel4vad" / "sh-gt.npy")
    start = 0
    for mask in masks:
        size = (mask.size - 2) // 16 * 16
        np.testing.assert_array_equal(gt[start : start + size], mask[:size])
        start += size
    assert not gt[start:].any() and (gt.size - start) % 16 == 0  # the 155 normal videos
    assert sum(m.size // 16 for m in masks) * 16 != start  # plain floor does not fit


def test_pel4vad_shanghaitech_lists_and_every_shanghaitech_list_agree_with_the_split(shanghaitech, tmp_path):
    root, counts, _ = shanghaitech
    source = FeatureSource("i3d", {"train": SH / "pel4vad" / "train.list", "test": SH / "pel4vad" / "test.list"},
                           root / "pel4vad")
    shards = import_features([source], ImportSettings("shanghaitech", shard_size=256), tmp_path / "out",
                             progress=False)
    videos = {v.meta.video_id: v for s in shards for v in read_shard(s).videos}
    assert _labels([v.meta for v in videos.values() if v.meta.split == "train"]) == (63, 238)
    assert _labels([v.meta for v in videos.values() if v.meta.split == "test"]) == (44, 199)
    np.testing.assert_array_equal(videos["01_0015"].features["i3d"], _ten_crop("01_0015", counts["01_0015"]))
    assert videos["01_001"].meta.split == "test" and videos["01_001"].features["i3d"].shape[1] == 10
    official = {split: _lines(SH / "rtfm" / f"SH_{split}.txt") for split in ("Train", "Test")}
    for split, name in (("Train", "train.list"), ("Test", "test.list")):
        listed = read_video_list(SH / "pel4vad" / name, "shanghaitech", root / "pel4vad")
        assert sorted(_ids(listed)) == sorted(official[split])
    for split, name in (("Train", "shanghai-i3d-train-10crop.list"), ("Test", "shanghai-i3d-test-10crop.list")):
        listed = read_video_list(SH / "rtfm" / name, "shanghaitech", root / "rtfm")
        assert sorted(_ids(listed)) == sorted(official[split])
        assert _labels(listed) == ((63, 238) if split == "Train" else (44, 199))
