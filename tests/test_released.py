"""Importing and exporting the community's released .npy features (RTFM, UR-DMU, VadCLIP layouts): dakd.released."""

import csv
import dataclasses
import logging
import re
import zlib

import numpy as np
import pytest
import yaml

from dakd.annotations import read_annotation_table, read_annotations
from dakd.cli import main
from dakd.config import ConfigError
from dakd.errors import DakdError
from dakd.features import load_bags, read_metadata, read_shard
from dakd.features.store import BackboneInfo, VideoFeatures, VideoMeta, write_shard
from dakd.released import lists, paths
from dakd.released.errors import FeatureImportError
from dakd.released.export import export_features
from dakd.released.importer import import_features
from dakd.released.labels import label_from_csv, label_from_name
from dakd.released.layouts import CROP_MODES, LAYOUT_RULES, LAYOUTS
from dakd.released.lists import read_video_list
from dakd.released.paths import video_id_of
from dakd.released.sources import FeatureSource, ImportSettings, mapping_from_config, sources_from_mapping
from dakd.stages import expand_shards

DIM = 6
# (video id, snippets); anomalous first as in RTFM's lists
UCF_TRAIN = [("Abuse001_x264", 5), ("Arrest002_x264", 3), ("Normal_Videos_003_x264", 4), ("Normal_Videos_010_x264", 2)]
UCF_TEST = [("Burglary005_x264", 3), ("Normal_Videos_050_x264", 2), ("RoadAccidents012_x264", 4)]
# anomalous snippet ranges of the test videos
TEST_EVENTS = {"Burglary005_x264": (1, 2), "RoadAccidents012_x264": (0, 3)}


def _features(video_id: str, snippets: int, crops: int, seed_offset: int = 0) -> np.ndarray:
    rng = np.random.default_rng([zlib.crc32(video_id.encode()), seed_offset])
    return rng.standard_normal((snippets, crops, DIM)).astype(np.float32)


def _gt(videos, snippet_len: int = 16) -> np.ndarray:
    parts = []
    for video_id, snippets in videos:
        labels = np.zeros(snippets * snippet_len, np.float32)
        if video_id in TEST_EVENTS:
            a, b = TEST_EVENTS[video_id]
            labels[a * snippet_len : b * snippet_len] = 1
        parts.append(labels)
    return np.concatenate(parts)


def _write_rtfm(root, crops: int = 10, tag: str = "i3d"):
    """RTFM layout: one (T, crops, D) file per video, lists with their authors' absolute paths."""
    arrays = {}
    for split, videos in (("Train", UCF_TRAIN), ("Test", UCF_TEST)):
        folder = root / f"UCF_{split}_ten_crop_{tag}"
        folder.mkdir(parents=True)
        lines = []
        for video_id, snippets in videos:
            arrays[video_id] = _features(video_id, snippets, crops)
            np.save(folder / f"{video_id}_{tag}.npy", arrays[video_id])
            lines.append(f"/home/yu/yu_ssd/{folder.name}/{video_id}_{tag}.npy")
        (root / f"ucf-{tag}{'-test' if split == 'Test' else ''}.list").write_text("\n".join(lines) + "\n")
    np.save(root / "gt-ucf.npy", _gt(UCF_TEST))
    return arrays


def _rtfm_source(root, backbone: str = "i3d", tag: str = "i3d") -> FeatureSource:
    return FeatureSource(backbone, {"train": root / f"ucf-{tag}.list", "test": root / f"ucf-{tag}-test.list"},
                         feature_root=root, layout="rtfm")


def _shard_arrays(shards, backbone):
    out = {}
    for shard in shards:
        for video in read_shard(shard, [backbone]).videos:
            out[video.meta.video_id] = (video.meta, np.array(video.features[backbone]))
    return out


def test_rtfm_import_keeps_arrays_labels_and_ground_truth(tmp_path):
    arrays = _write_rtfm(tmp_path)
    shards = import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime", shard_size=3), tmp_path / "out",
                             gt_file=tmp_path / "gt-ucf.npy", annotations_out=tmp_path / "ann.parquet",
                             progress=False)
    assert len(shards) == 3  # 7 videos, 3 per shard
    got = _shard_arrays(shards, "i3d")
    assert set(got) == set(arrays)
    for video_id, (meta, array) in got.items():
        np.testing.assert_array_equal(array, arrays[video_id])
        assert meta.num_snippets == arrays[video_id].shape[0]
        assert meta.num_frames == meta.num_snippets * 16
    meta = {vid: m for vid, (m, _) in got.items()}
    assert (meta["Abuse001_x264"].label, meta["Abuse001_x264"].class_name, meta["Abuse001_x264"].split) == (
        1, "Abuse", "train")
    assert (meta["Normal_Videos_050_x264"].label, meta["Normal_Videos_050_x264"].split) == (0, "test")
    assert meta["RoadAccidents012_x264"].class_name == "RoadAccidents"
    infos, _ = read_metadata(shards[0])
    assert (infos["i3d"].dim, infos["i3d"].crops) == (DIM, 10)
    assert "rtfm" in infos["i3d"].weights

    intervals = read_annotations(tmp_path / "ann.parquet")
    assert intervals["Burglary005_x264"] == [(16, 32)]
    assert intervals["RoadAccidents012_x264"] == [(0, 48)]
    assert intervals["Normal_Videos_050_x264"] == []
    bags = load_bags(shards, ["i3d"], "train", num_segments=4)
    assert bags.labels.tolist() == [1, 1, 0, 0]


def test_export_writes_the_rtfm_layout_back_and_round_trips(tmp_path):
    arrays = _write_rtfm(tmp_path / "released")
    shards = import_features([_rtfm_source(tmp_path / "released")], ImportSettings("ucf_crime"),
                             tmp_path / "shards", gt_file=tmp_path / "released" / "gt-ucf.npy",
                             annotations_out=tmp_path / "ann.parquet", progress=False)
    written = export_features(shards, "i3d", tmp_path / "exported", tmp_path / "ann.parquet")

    train_lines = (tmp_path / "exported" / "i3d-train.list").read_text().split()
    assert [line.rsplit("/", 1)[1] for line in train_lines] == [f"{v}_i3d.npy" for v, _ in UCF_TRAIN]
    for line in train_lines:
        video_id = line.rsplit("/", 1)[1][: -len("_i3d.npy")]
        np.testing.assert_array_equal(np.load(line), arrays[video_id])
    np.testing.assert_array_equal(np.load(written["ground_truth"]), _gt(UCF_TEST))

    again = import_features(
        [FeatureSource("i3d", {"train": tmp_path / "exported" / "i3d-train.list",
                               "test": tmp_path / "exported" / "i3d-test.list"})],
        ImportSettings("ucf_crime"), tmp_path / "again", gt_file=written["ground_truth"],
        annotations_out=tmp_path / "ann2.parquet", progress=False)
    first, second = _shard_arrays(shards, "i3d"), _shard_arrays(again, "i3d")
    assert first.keys() == second.keys()
    for video_id in first:
        assert first[video_id][0] == second[video_id][0]
        np.testing.assert_array_equal(first[video_id][1], second[video_id][1])
    assert read_annotations(tmp_path / "ann.parquet") == read_annotations(tmp_path / "ann2.parquet")


def test_ground_truth_length_mismatch_names_the_file_and_the_snippet_trap(tmp_path):
    _write_rtfm(tmp_path)
    # ground truth made for features that dropped the last snippet of one video
    short = _gt([(v, s - 1) if v == "Burglary005_x264" else (v, s) for v, s in UCF_TEST])
    np.save(tmp_path / "gt-short.npy", short)
    with pytest.raises(FeatureImportError, match=r"gt-short\.npy: 128 frame labels, .* cover 144 frames") as err:
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                        gt_file=tmp_path / "gt-short.npy", annotations_out=tmp_path / "a.parquet", progress=False)
    message = str(err.value)
    assert "1 snippet(s) fewer" in message and "keeps a partial last snippet of each video" in message
    # cut from the start, the labels first go wrong where the two snippet counts diverge
    assert "first contradicts the video labels at 'Normal_Videos_050_x264' (normal, 16 anomalous frames)" in message
    assert "\n" not in message
    assert not (tmp_path / "out").exists()  # nothing half-written


def _write_per_crop(root, videos, crops: int, list_all_crops: bool, csv_labels: bool, split: str):
    """UR-DMU / VadCLIP layout: a (T, D) file per crop, ``<video>__<n>.npy``, class sub-folders."""
    arrays, rows = {}, []
    for video_id, snippets in videos:
        cls = re.match(r"[A-Za-z]+", video_id).group(0)
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        arrays[video_id] = _features(video_id, snippets, crops, seed_offset=1)
        for c in range(crops):
            np.save(folder / f"{video_id}__{c}.npy", arrays[video_id][:, c])
            if list_all_crops or c == 0:
                rows.append((f"/data/VadCLIP/{cls}/{video_id}__{c}.npy", cls))
    if csv_labels:
        path = root / f"ucf_CLIP_{split}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "label"])
            writer.writerows(rows)
    else:
        path = root / f"ucf-{split}.list"
        path.write_text("".join(f"{p}\n" for p, _ in rows))
    return arrays, path


@pytest.mark.parametrize("list_all_crops,csv_labels", [(True, True), (False, False)])
def test_per_crop_files_are_stacked_on_the_crop_axis(tmp_path, list_all_crops, csv_labels):
    train, train_list = _write_per_crop(tmp_path, UCF_TRAIN, 10, list_all_crops, csv_labels, "train")
    test, test_list = _write_per_crop(tmp_path, UCF_TEST, 10, list_all_crops, csv_labels, "test")
    # a list naming only __0 takes the other crops only when asked to (crops: all)
    crops = "listed" if list_all_crops else "all"
    shards = import_features([FeatureSource("clip", {"train": train_list, "test": test_list}, tmp_path,
                                            crops=crops)],
                             ImportSettings("ucf_crime"), tmp_path / "out", progress=False)
    got = _shard_arrays(shards, "clip")
    for video_id, array in {**train, **test}.items():
        np.testing.assert_array_equal(got[video_id][1], array)
    assert got["Arrest002_x264"][0].class_name == "Arrest"
    assert got["Normal_Videos_003_x264"][0].label == 0
    assert "per_crop" in read_metadata(shards[0])[0]["clip"].weights


def test_lists_of_bare_video_names_find_the_per_crop_files(tmp_path):
    train, _ = _write_per_crop(tmp_path, UCF_TRAIN, 5, False, False, "train")
    test, _ = _write_per_crop(tmp_path, UCF_TEST, 5, False, False, "test")
    for split, videos in (("train", UCF_TRAIN), ("test", UCF_TEST)):  # PEL4VAD: Class/Name, no suffix
        names = [f"{re.match(r'[A-Za-z]+', v).group(0)}/{v}" for v, _ in videos]
        (tmp_path / f"bare-{split}.list").write_text("\n".join(names))
    source = FeatureSource("i3d", {"train": tmp_path / "bare-train.list", "test": tmp_path / "bare-test.list"},
                           tmp_path)
    got = _shard_arrays(import_features([source], ImportSettings("ucf_crime"), tmp_path / "out", progress=False),
                        "i3d")
    for video_id, array in {**train, **test}.items():
        np.testing.assert_array_equal(got[video_id][1], array)


def test_center_crop_files_and_two_backbones_joined_by_video(tmp_path):
    arrays = _write_rtfm(tmp_path)
    center = {}
    for split, videos in (("train", UCF_TRAIN), ("test", UCF_TEST)):
        lines = []
        for video_id, snippets in videos:
            center[video_id] = _features(video_id, snippets, 1, seed_offset=2)[:, 0]
            np.save(tmp_path / f"{video_id}.npy", center[video_id])
            lines.append(f"{video_id}.npy")
        (tmp_path / f"center-{split}.list").write_text("\n".join(lines))
    clip = FeatureSource("clip", {"train": tmp_path / "center-train.list", "test": tmp_path / "center-test.list"})
    shards = import_features([_rtfm_source(tmp_path), clip], ImportSettings("ucf_crime"), tmp_path / "out",
                             progress=False)
    infos, _ = read_metadata(shards[0])
    assert (infos["clip"].crops, infos["i3d"].crops) == (1, 10)
    for shard in shards:
        for video in read_shard(shard).videos:
            np.testing.assert_array_equal(video.features["clip"][:, 0], center[video.meta.video_id])
            np.testing.assert_array_equal(video.features["i3d"], arrays[video.meta.video_id])


def test_backbones_must_list_the_same_videos_and_snippet_counts(tmp_path):
    _write_rtfm(tmp_path)
    s3d_root = tmp_path / "s3d"
    _write_rtfm(s3d_root, tag="s3d")
    listed = (s3d_root / "ucf-s3d.list").read_text().splitlines()
    (s3d_root / "ucf-s3d.list").write_text("\n".join(listed[:-1]))
    s3d = _rtfm_source(s3d_root, "s3d", "s3d")
    with pytest.raises(FeatureImportError, match=r"ucf-s3d\.list: train videos differ .*Normal_Videos_010_x264"):
        import_features([_rtfm_source(tmp_path), s3d], ImportSettings("ucf_crime"), tmp_path / "o", progress=False)

    (s3d_root / "ucf-s3d.list").write_text("\n".join(listed))
    longer = s3d_root / "UCF_Train_ten_crop_s3d" / "Abuse001_x264_s3d.npy"
    np.save(longer, _features("Abuse001_x264", 6, 10))
    with pytest.raises(FeatureImportError, match=r"'Abuse001_x264': snippet counts differ .*'i3d': 5, 's3d': 6"):
        import_features([_rtfm_source(tmp_path), s3d], ImportSettings("ucf_crime"), tmp_path / "o", progress=False)
    shards = import_features([_rtfm_source(tmp_path), s3d], ImportSettings("ucf_crime", trim_to_shortest=True),
                             tmp_path / "o", progress=False)
    video = next(v for v in read_shard(shards[0]).videos if v.meta.video_id == "Abuse001_x264")
    assert video.meta.num_snippets == 5 and video.features["s3d"].shape == (5, 10, DIM)


def test_bad_files_are_one_line_errors_naming_them(tmp_path):
    _write_rtfm(tmp_path)
    (tmp_path / "UCF_Train_ten_crop_i3d" / "Arrest002_x264_i3d.npy").write_bytes(b"not numpy")
    with pytest.raises(FeatureImportError, match=r"Arrest002_x264_i3d\.npy: not a readable \.npy"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "o", progress=False)
    np.save(tmp_path / "UCF_Train_ten_crop_i3d" / "Arrest002_x264_i3d.npy", np.zeros((3, DIM), np.float32))
    with pytest.raises(FeatureImportError, match=r"Arrest002_x264_i3d\.npy: shape \(3, 6\) is not \(T, crops, D\)"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "o", progress=False)
    (tmp_path / "UCF_Train_ten_crop_i3d" / "Arrest002_x264_i3d.npy").unlink()
    with pytest.raises(FeatureImportError, match=r"ucf-i3d\.list: feature file '/home/yu/.*Arrest002.*' not found"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "o", progress=False)


def test_label_rules_of_each_benchmark():
    assert label_from_name("ucf_crime", "Normal_Videos_923_x264", "x") == (0, "Normal")
    assert label_from_name("ucf_crime", "Shoplifting039_x264", "x") == (1, "Shoplifting")
    assert label_from_name("shanghaitech", "01_0014", "x") == (1, "Anomaly")
    assert label_from_name("shanghaitech", "12_001", "x") == (0, "Normal")
    assert label_from_name("xd_violence", "v=8cTqh9tMz_I__#1_label_B1-0-0", "x") == (1, "Fighting")
    assert label_from_name("xd_violence", "Bad.Boys.1995__#01-11-55_01-12-40_label_A", "x") == (0, "Normal")
    with pytest.raises(FeatureImportError, match=r"list:3: cannot read a shanghaitech label from the name 'cam1'"):
        label_from_name("shanghaitech", "cam1", "list:3")
    assert label_from_csv("A", "xd_violence") == (0, "Normal")
    assert label_from_csv("B2-G-0", "xd_violence") == (1, "Shooting")
    assert label_from_csv("Stealing", "ucf_crime") == (1, "Stealing")


def test_cli_import_then_export(tmp_path, capsys):
    _write_rtfm(tmp_path)
    code = main(["import-features", "--kind", "ucf_crime", "--train", f"i3d={tmp_path / 'ucf-i3d.list'}",
                 "--test", f"i3d={tmp_path / 'ucf-i3d-test.list'}", "--feature-root", str(tmp_path),
                 "--gt", str(tmp_path / "gt-ucf.npy"), "--annotations", str(tmp_path / "ann.parquet"),
                 "--out-dir", str(tmp_path / "shards"), "--no-progress"])
    assert code == 0
    assert (tmp_path / "shards" / "shard-00000.parquet").is_file()
    assert main(["export-features", "--features", str(tmp_path / "shards"), "--backbone", "i3d",
                 "--out-dir", str(tmp_path / "exp"), "--annotations", str(tmp_path / "ann.parquet")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "exp" / "gt-test.npy"), np.load(tmp_path / "gt-ucf.npy"))
    assert main(["import-features", "--kind", "ucf_crime", "--train", "i3d=nowhere.list",
                 "--out-dir", str(tmp_path / "x")]) == 2
    assert "nowhere.list: video list not found" in capsys.readouterr().err



# ---------------------------------------------------------------- the field's list spellings


def test_windows_paths_in_rtfm_lists_are_split_on_backslashes(tmp_path):
    r"""RTFM's own UCF-Crime lists: G:\UCF_Train_ten_crop_i3d\Abuse001_x264_i3d.npy, CRLF line ends."""
    arrays = _write_rtfm(tmp_path)
    for name in ("ucf-i3d.list", "ucf-i3d-test.list"):
        lines = (tmp_path / name).read_text().split()
        (tmp_path / name).write_text("".join("G:\\" + line.split("/")[-2] + "\\" + line.split("/")[-1] + "\r\n"
                                             for line in lines))
    assert video_id_of("G:\\UCF_Train_ten_crop_i3d\\Abuse001_x264_i3d.npy") == ("Abuse001_x264", None)
    assert video_id_of(r"D:\feats\Abuse001_x264__3.npy") == ("Abuse001_x264", 3)
    shards = import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                             gt_file=tmp_path / "gt-ucf.npy", annotations_out=tmp_path / "ann.parquet", progress=False)
    got = _shard_arrays(shards, "i3d")
    assert set(got) == set(arrays)
    np.testing.assert_array_equal(got["Abuse001_x264"][1], arrays["Abuse001_x264"])


def _write_crop_files(folder, video_id, snippets, crops, names, seed_offset=3):
    """(T, crops, D) reference and one (T, D) file per crop, named by ``names(video_id, crop)``."""
    folder.mkdir(parents=True, exist_ok=True)
    array = _features(video_id, snippets, len(crops), seed_offset)
    for k, crop in enumerate(crops):
        np.save(folder / names(video_id, crop), array[:, k])
    return array


def test_pel4vad_ucf_lists_name_crop_zero_without_a_suffix(tmp_path):
    """PEL4VAD: train/Abuse001_x264.npy, train/Abuse001_x264__1.npy .. __9."""
    def name(video_id, crop):
        return f"{video_id}.npy" if crop == 0 else f"{video_id}__{crop}.npy"

    arrays = {}
    for split, videos in (("train", UCF_TRAIN), ("test", UCF_TEST)):
        lines = []
        for video_id, snippets in videos:
            arrays[video_id] = _write_crop_files(tmp_path / "feats" / split, video_id, snippets, range(10), name)
            lines += [f"{split}/{name(video_id, c)}" for c in range(10)]
        (tmp_path / f"{split}.list").write_text("\n".join(lines) + "\n")
    for layout in ("auto", "per_crop"):
        source = FeatureSource("i3d", {"train": tmp_path / "train.list", "test": tmp_path / "test.list"},
                               tmp_path / "feats", layout)
        got = _shard_arrays(import_features([source], ImportSettings("ucf_crime"), tmp_path / layout,
                                            progress=False), "i3d")
        assert set(got) == set(arrays)
        for video_id, array in arrays.items():
            np.testing.assert_array_equal(got[video_id][1], array)
    rtfm = FeatureSource("i3d", {"train": tmp_path / "train.list", "test": tmp_path / "test.list"},
                         tmp_path / "feats", "rtfm")
    with pytest.raises(FeatureImportError, match=r"Abuse001_x264\.npy: shape \(5, 6\) is not \(T, crops, D\)"):
        import_features([rtfm], ImportSettings("ucf_crime"), tmp_path / "rtfm", progress=False)


SH_TRAIN = [("01_0014", 4), ("01_0016", 3), ("01_001", 5), ("01_002", 2)]
SH_TEST = [("01_0015", 3), ("01_0025", 2), ("01_003", 4)]


def test_pel4vad_shanghaitech_lists_single_underscore_crops_and_label_column(tmp_path):
    """PEL4VAD ShanghaiTech: test/01_0015_0.npy .. _9 and 'train/01_0014_0.npy 1.0'; the ids
    (01_0015, 01_001) end in digits after an underscore too, so crops are read from the list."""
    def name(video_id, crop):
        return f"{video_id}_{crop}.npy"

    arrays = {}
    for split, videos in (("train", SH_TRAIN), ("test", SH_TEST)):
        lines = []
        for video_id, snippets in videos:
            arrays[video_id] = _write_crop_files(tmp_path / split, video_id, snippets, range(10), name)
            label = f" {float(len(video_id) == 7)}" if split == "train" else ""
            lines += [f"{split}/{name(video_id, c)}{label}" for c in range(10)]
        (tmp_path / f"sh-{split}.list").write_text("\n".join(lines) + "\n")
    source = FeatureSource("i3d", {"train": tmp_path / "sh-train.list", "test": tmp_path / "sh-test.list"})
    got = _shard_arrays(import_features([source], ImportSettings("shanghaitech"), tmp_path / "out", progress=False),
                        "i3d")
    assert set(got) == set(arrays)
    for video_id, array in arrays.items():
        np.testing.assert_array_equal(got[video_id][1], array)
    assert [got[v][0].label for v, _ in SH_TRAIN] == [1, 1, 0, 0]
    assert [got[v][0].label for v, _ in SH_TEST] == [1, 1, 0]

    # RTFM's ShanghaiTech names: 01_0015_i3d.npy, 01_001_i3d.npy; nothing there is a crop
    for video_id, snippets in SH_TRAIN + SH_TEST:
        np.save(tmp_path / f"{video_id}_i3d.npy", _features(video_id, snippets, 10))
    (tmp_path / "rtfm-train.list").write_text("\n".join(f"{v}_i3d.npy" for v, _ in SH_TRAIN))
    (tmp_path / "bare-test.list").write_text("\n".join(f"{v}_i3d" for v, _ in SH_TEST))
    videos = read_video_list(tmp_path / "rtfm-train.list", "shanghaitech")
    assert [(v.video_id, v.crops, v.label) for v in videos] == [
        ("01_0014", [], 1), ("01_0016", [], 1), ("01_001", [], 0), ("01_002", [], 0)]
    assert [v.video_id for v in read_video_list(tmp_path / "bare-test.list", "shanghaitech")] == [
        "01_0015", "01_0025", "01_003"]


def _vadclip(tmp_path, test_crops_on_disk=range(10)):
    """VadCLIP: training CSV names crops __0..__9, the test CSV only __5."""
    arrays = {}
    for split, videos in (("train", UCF_TRAIN), ("test", UCF_TEST)):
        rows = []
        for video_id, snippets in videos:
            cls = re.match(r"[A-Za-z]+", video_id).group(0)
            on_disk = range(10) if split == "train" else test_crops_on_disk
            arrays[video_id] = _write_crop_files(tmp_path / cls, video_id, snippets, range(10),
                                                 lambda v, c: f"{v}__{c}.npy")
            for c in set(range(10)) - set(on_disk):
                (tmp_path / cls / f"{video_id}__{c}.npy").unlink()
            rows += [(f"/home/x/UCFClipFeatures/{cls}/{video_id}__{c}.npy", cls)
                     for c in (range(10) if split == "train" else [5])]
        with (tmp_path / f"ucf_CLIP_{split}.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows([("path", "label"), *rows])
    source = FeatureSource("clip", {"train": tmp_path / "ucf_CLIP_train.csv", "test": tmp_path / "ucf_CLIP_test.csv"},
                           tmp_path)
    return arrays, source


def test_only_the_listed_crops_are_taken_and_splits_keep_their_crop_counts(tmp_path, caplog):
    arrays, source = _vadclip(tmp_path)
    with caplog.at_level(logging.WARNING, logger="dakd"):
        shards = import_features([source], ImportSettings("ucf_crime", shard_size=2), tmp_path / "out",
                                 progress=False)
    warnings = [r.getMessage() for r in caplog.records if "more crop files on disk" in r.getMessage()]
    assert len(warnings) == 1  # once per list, with a count and an example
    assert "ucf_CLIP_test.csv: 3 of 3 videos" in warnings[0] and "'Burglary005_x264': listed [__5]" in warnings[0]
    got = _shard_arrays(shards, "clip")
    for video_id, _ in UCF_TEST:
        np.testing.assert_array_equal(got[video_id][1], arrays[video_id][:, 5:6])
    for video_id, _ in UCF_TRAIN:
        np.testing.assert_array_equal(got[video_id][1], arrays[video_id])
    by_split = {}
    for shard in shards:  # a shard holds one split and records its crop count
        videos = read_shard(shard).videos
        splits = {v.meta.split for v in videos}
        assert len(splits) == 1
        by_split.setdefault(splits.pop(), set()).add(read_metadata(shard)[0]["clip"].crops)
    assert by_split == {"train": {10}, "test": {1}}
    assert load_bags(shards, ["clip"], "train", 4).labels.tolist() == [1, 1, 0, 0]

    caplog.clear()
    all_crops = dataclasses.replace(source, crops="all")
    got = _shard_arrays(import_features([all_crops], ImportSettings("ucf_crime"), tmp_path / "all", progress=False),
                        "clip")
    for video_id, _ in UCF_TEST:
        np.testing.assert_array_equal(got[video_id][1], arrays[video_id])
    assert not [r for r in caplog.records if "more crop files" in r.getMessage()]


def test_a_list_naming_one_crop_works_when_only_that_crop_is_on_disk(tmp_path):
    arrays, source = _vadclip(tmp_path, test_crops_on_disk=[5])
    for layout in ("auto", "per_crop", "center"):  # center: one (T, D) file per video, as the test list has
        test_only = dataclasses.replace(source, layout=layout, lists={"test": source.lists["test"]})
        got = _shard_arrays(import_features([test_only], ImportSettings("ucf_crime"), tmp_path / layout,
                                            progress=False), "clip")
        np.testing.assert_array_equal(got["Burglary005_x264"][1], arrays["Burglary005_x264"][:, 5:6])
    with pytest.raises(FeatureImportError, match=r"ucf_CLIP_test\.csv:2: video 'Burglary005_x264' has crop files "
                                                 r"\[__5\] on disk, expected crops numbered from __0"):
        import_features([dataclasses.replace(source, crops="all")], ImportSettings("ucf_crime"), tmp_path / "x",
                        progress=False)


def test_cli_all_crops_flag(tmp_path, capsys):
    arrays, _ = _vadclip(tmp_path)
    assert main(["import-features", "--kind", "ucf_crime", "--train", f"clip={tmp_path / 'ucf_CLIP_train.csv'}",
                 "--test", f"clip={tmp_path / 'ucf_CLIP_test.csv'}", "--feature-root", str(tmp_path), "--all-crops",
                 "--out-dir", str(tmp_path / "out"), "--no-progress"]) == 0
    got = _shard_arrays(sorted((tmp_path / "out").glob("shard-*.parquet")), "clip")
    np.testing.assert_array_equal(got["Burglary005_x264"][1], arrays["Burglary005_x264"])


def test_each_folder_is_listed_once(tmp_path, monkeypatch):
    """Per-crop lists: the folder is indexed once, not once per video (time grew with its square)."""
    videos = [(f"Abuse{i:03d}_x264", 2) for i in range(1, 41)]
    lines = []
    for video_id, snippets in videos:
        _write_crop_files(tmp_path / "Abuse", video_id, snippets, range(3), lambda v, c: f"{v}__{c}.npy")
        lines.append(f"/data/Abuse/{video_id}__0.npy")
    (tmp_path / "a.list").write_text("\n".join(lines))
    calls = []
    real = paths.os.scandir
    monkeypatch.setattr(paths.os, "scandir", lambda path: calls.append(str(path)) or real(path))
    for mode in ("listed", "all"):
        calls.clear()
        got = read_video_list(tmp_path / "a.list", "ucf_crime", tmp_path, crops=mode)
        assert len(got) == 40 and got[0].crops == ([0] if mode == "listed" else [0, 1, 2])
        assert calls.count(str(tmp_path / "Abuse")) == 1


# ---------------------------------------------------------------- ground truth checks


def test_ground_truth_in_another_video_order_is_an_error(tmp_path):
    _write_rtfm(tmp_path)
    # the right length in another video order (normal video first instead of list order)
    np.save(tmp_path / "gt-order.npy", _gt([UCF_TEST[1], UCF_TEST[0], UCF_TEST[2]]))
    with pytest.raises(FeatureImportError, match=r"gt-order\.npy: the frame labels contradict the video labels of "
                                                 r"2 test video\(s\), e.g. 'Burglary005_x264' \(anomalous, no "
                                                 r"anomalous frame\), 'Normal_Videos_050_x264' \(normal, 16 "
                                                 r"anomalous frames\); the vector is in another video order"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                        gt_file=tmp_path / "gt-order.npy", annotations_out=tmp_path / "a.parquet", progress=False)
    assert not (tmp_path / "out").exists()


def _write_gt_folder(folder, lengths, events, name="{}__9_gt.npy"):
    folder.mkdir(parents=True, exist_ok=True)
    for video_id, length in lengths.items():
        labels = np.zeros(length, np.float32)
        if video_id in events:
            labels[slice(*events[video_id])] = 1
        np.save(folder / name.format(video_id), labels)


@pytest.mark.parametrize("name", ["{}__9_gt.npy", "{}__0.npy", "{}.npy"])  # PEL4VAD UCF, PEL4VAD XD, ShanghaiTech
def test_a_folder_of_per_video_ground_truth_files(tmp_path, name):
    """Per-video files matched by id; features of T snippets and videos of L frames:
    L == 16T exact, ceil(L/16) == T padded (num_frames = L), L // 16 == T cut."""
    _write_rtfm(tmp_path)  # Burglary005 3 snippets, Normal_Videos_050 2, RoadAccidents012 4
    lengths = {"Burglary005_x264": 48, "Normal_Videos_050_x264": 37, "RoadAccidents012_x264": 60}
    events = {"Burglary005_x264": (16, 32), "RoadAccidents012_x264": (50, 60)}
    _write_gt_folder(tmp_path / "single_gt", lengths, events, name)
    shards = import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                             gt_file=tmp_path / "single_gt", annotations_out=tmp_path / "ann.parquet",
                             progress=False)
    assert read_annotations(tmp_path / "ann.parquet") == {
        "Burglary005_x264": [(16, 32)], "Normal_Videos_050_x264": [], "RoadAccidents012_x264": [(50, 60)]}
    table = read_annotation_table(tmp_path / "ann.parquet")
    assert {v: n for v, (_, n) in table.items()} == {"Burglary005_x264": 48, "Normal_Videos_050_x264": 37,
                                                     "RoadAccidents012_x264": 60}
    meta = {vid: m for vid, (m, _) in _shard_arrays(shards, "i3d").items()}
    assert (meta["Burglary005_x264"].num_frames, meta["Burglary005_x264"].covered_frames) == (48, 48)
    assert (meta["Normal_Videos_050_x264"].num_frames, meta["Normal_Videos_050_x264"].covered_frames) == (37, 32)
    assert (meta["RoadAccidents012_x264"].num_frames, meta["RoadAccidents012_x264"].covered_frames) == (60, 60)
    assert meta["RoadAccidents012_x264"].last_snippet_frames == 12

    # a normal video without a file is all-normal; an anomalous one is an error
    (tmp_path / "single_gt" / name.format("Normal_Videos_050_x264")).unlink()
    import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                    gt_file=tmp_path / "single_gt", annotations_out=tmp_path / "ann.parquet", progress=False)
    assert read_annotations(tmp_path / "ann.parquet")["Normal_Videos_050_x264"] == []
    (tmp_path / "single_gt" / name.format("Burglary005_x264")).unlink()
    with pytest.raises(FeatureImportError, match=r"single_gt: no ground-truth file for 1 anomalous test video\(s\), "
                                                 r"e.g. \['Burglary005_x264'\]"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                        gt_file=tmp_path / "single_gt", annotations_out=tmp_path / "ann.parquet", progress=False)


def test_per_video_ground_truth_of_another_length_or_label_is_an_error(tmp_path):
    _write_rtfm(tmp_path)
    events = {"Burglary005_x264": (16, 32), "RoadAccidents012_x264": (0, 10)}
    _write_gt_folder(tmp_path / "masks", {"Burglary005_x264": 48, "Normal_Videos_050_x264": 32,
                                          "RoadAccidents012_x264": 120}, events, name="{}.npy")
    with pytest.raises(FeatureImportError, match=r"masks: 1 test video\(s\) have ground truth of another length than "
                                                 r"their features, e.g. RoadAccidents012_x264\.npy has 120 frames, "
                                                 r"the features 4 snippets x 16 = 64"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                        gt_file=tmp_path / "masks", annotations_out=tmp_path / "a.parquet", progress=False)
    _write_gt_folder(tmp_path / "masks", {"RoadAccidents012_x264": 64}, {}, name="{}.npy")
    with pytest.raises(FeatureImportError, match=r"masks: the frame labels contradict the video labels of 1 test "
                                                 r"video\(s\), e.g. 'RoadAccidents012_x264' \(anomalous, no anomalous"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                        gt_file=tmp_path / "masks", annotations_out=tmp_path / "a.parquet", progress=False)


# ---------------------------------------------------------------- values, folders, names, options


def test_a_non_finite_value_stops_the_import_naming_file_and_index(tmp_path):
    arrays = _write_rtfm(tmp_path)
    bad = arrays["Arrest002_x264"].copy()
    bad[2, 7, 1] = np.nan
    np.save(tmp_path / "UCF_Train_ten_crop_i3d" / "Arrest002_x264_i3d.npy", bad)
    with pytest.raises(FeatureImportError, match=r"Arrest002_x264_i3d\.npy: non-finite value nan at snippet 2, crop 7"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out", progress=False)
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written

    train, train_list = _write_per_crop(tmp_path / "pc", UCF_TRAIN, 3, True, False, "train")
    crop = train["Abuse001_x264"][:, 1].copy()
    crop[4, 0] = np.inf
    np.save(tmp_path / "pc" / "Abuse" / "Abuse001_x264__1.npy", crop)
    with pytest.raises(FeatureImportError,
                       match=r"Abuse001_x264__1\.npy: non-finite value inf at snippet 4 \(crop 1\)"):
        import_features([FeatureSource("c", {"train": train_list}, tmp_path / "pc")], ImportSettings("ucf_crime"),
                        tmp_path / "out2", progress=False)


def test_an_import_replaces_the_shards_of_an_earlier_one(tmp_path, caplog):
    _write_rtfm(tmp_path)
    first = import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime", shard_size=1), tmp_path / "out",
                            progress=False)
    assert len(first) == 7
    (tmp_path / "out" / "shard-00006.failures.json").write_text("{}")
    keep = [tmp_path / "out" / name for name in ("notes.txt", "shard-old.parquet", "annotations.parquet")]
    for path in keep:
        path.write_text("x")
    with caplog.at_level(logging.WARNING, logger="dakd"):
        second = import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime", shard_size=4),
                                 tmp_path / "out", progress=False)
    assert len(second) == 2
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left == sorted([p.name for p in second] + [p.name for p in keep])
    assert any("removed 6 stale shard file(s)" in r.getMessage() for r in caplog.records)
    assert sum(len(read_shard(s).videos) for s in expand_shards([tmp_path / "out" / p.name for p in second])) == 7


def _shard_with(path, video_id, split="train"):
    meta = VideoMeta(video_id, split, 0, "Normal", 32, 30.0, 16, 16, 2, 16)
    write_shard(path, [VideoFeatures(meta, {"i3d": np.zeros((2, 1, DIM), np.float32)})],
                [BackboneInfo("i3d", DIM, 1, "test")], {})


@pytest.mark.parametrize("video_id,split", [("../../../../tmp/x", "train"), ("/tmp/x", "train"),
                                            ("ok", "../up"), ("ok", "/abs")])
def test_export_refuses_names_that_leave_the_output_folder(tmp_path, video_id, split):
    _shard_with(tmp_path / "bad.parquet", video_id, split)
    with pytest.raises(DakdError, match=r"bad\.parquet"):
        export_features([tmp_path / "bad.parquet"], "i3d", tmp_path / "exp" / "inner")
    assert not (tmp_path / "exp").exists()
    with pytest.raises(DakdError, match=r"backbone '\.\./i3d' is not a safe file name"):
        export_features([tmp_path / "bad.parquet"], "../i3d", tmp_path / "exp")


def test_export_accepts_any_safe_split_name(tmp_path):
    _shard_with(tmp_path / "a.parquet", "Normal_Videos_001_x264", "val-1")
    written = export_features([tmp_path / "a.parquet"], "i3d", tmp_path / "exp")
    assert (tmp_path / "exp" / "val-1" / "Normal_Videos_001_x264_i3d.npy").is_file()
    assert set(written["lists"]) == {"val-1"}


def test_videos_listed_twice_or_in_both_splits_are_errors(tmp_path):
    _write_rtfm(tmp_path)
    test_list = tmp_path / "ucf-i3d-test.list"
    lines = test_list.read_text().splitlines()
    test_list.write_text("\n".join(lines + [lines[0].replace("Test", "Train").replace("Burglary005", "Abuse001")]))
    with pytest.raises(FeatureImportError, match=r"ucf-i3d-test\.list: video 'Abuse001_x264' is listed for test and "
                                                 r"for train"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out", progress=False)
    test_list.write_text("\n".join(lines + lines[:1]))
    with pytest.raises(FeatureImportError, match=r"ucf-i3d-test\.list:4: video 'Burglary005_x264' listed twice "
                                                 r"\(also on line 1\)"):
        read_video_list(test_list, "ucf_crime", tmp_path)
    _, train_list = _write_per_crop(tmp_path / "pc", UCF_TRAIN[:1], 3, True, False, "train")
    train_list.write_text(train_list.read_text() + train_list.read_text().splitlines()[1] + "\n")
    with pytest.raises(FeatureImportError, match=r"ucf-train\.list:4: crop __1 of video 'Abuse001_x264' listed twice"):
        read_video_list(train_list, "ucf_crime", tmp_path / "pc")
    (tmp_path / "evil.list").write_text("../x/.hidden__0.npy\n")
    with pytest.raises(DakdError, match=r"evil\.list:1: video id '\.hidden' is not a safe file name"):
        read_video_list(tmp_path / "evil.list", "ucf_crime", tmp_path)


@pytest.mark.parametrize("options,message", [
    ({"snippet_len": 0}, "snippet_len must be a whole number >= 1, got 0"),
    ({"snippet_len": 16.5}, "snippet_len must be a whole number >= 1, got 16.5"),
    ({"fps": 0}, "fps must be a finite number > 0, got 0"),
    ({"fps": float("nan")}, "fps must be a finite number > 0, got nan"),
    ({"fps": float("inf")}, "fps must be a finite number > 0, got inf"),
    ({"shard_size": 0}, "shard_size must be a whole number >= 1, got 0"),
    ({"shard_sise": 4}, r"unknown key\(s\) \['shard_sise'\]"),
])
def test_import_options_are_range_checked(options, message):
    spec = {"naming": "ucf_crime", "sources": {"i3d": {"train": "a.list"}}, "options": options}
    with pytest.raises(FeatureImportError, match=rf"^config\.yaml: options: {message}"):
        sources_from_mapping(spec, "config.yaml")


def test_bad_source_modes_and_cli_options_are_one_line_errors(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"ucf": {
        "kind": "features", "root": str(tmp_path), "naming": "ucf_crime", "ground_truth": "gt.npy",
        "sources": {"i3d": {"train": "a.list", "crops": "some"}}}}}))
    with pytest.raises(ConfigError, match=r"^\S+config\.yaml: datasets\.ucf\.sources\.i3d\.crops must be one of "
                                          r"listed, all, got 'some'$"):
        mapping_from_config(config, "ucf")  # checked when the entry is read, before any file is
    _write_rtfm(tmp_path)
    for flag, value in (("--fps", "0"), ("--shard-size", "0"), ("--snippet-len", "-16"), ("--fps", "nan")):
        assert main(["import-features", "--kind", "ucf_crime", "--train", f"i3d={tmp_path / 'ucf-i3d.list'}",
                     "--feature-root", str(tmp_path), flag, value, "--out-dir", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("dakd import-features: error: command line: options: ") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_numeric_labels_in_csv_and_list_columns():
    assert label_from_csv("0.0", "ucf_crime") == (0, "Normal")
    assert label_from_csv("1.0", "ucf_crime") == (1, "Anomaly")
    with pytest.raises(FeatureImportError, match=r"x\.csv:3: label '2' is neither 0"):
        label_from_csv("2", "ucf_crime", "x.csv:3")


def test_npy_files_of_any_order_and_float_type_are_read_and_truncated_ones_refused(tmp_path):
    arrays = _write_rtfm(tmp_path)
    folder = tmp_path / "UCF_Train_ten_crop_i3d"
    np.save(folder / "Abuse001_x264_i3d.npy", np.asfortranarray(arrays["Abuse001_x264"]).astype(np.float64))
    np.save(folder / "Arrest002_x264_i3d.npy", arrays["Arrest002_x264"].astype(np.float16))
    with open(folder / "Normal_Videos_003_x264_i3d.npy", "wb") as fh:  # .npy format 2.0
        np.lib.format.write_array(fh, arrays["Normal_Videos_003_x264"], version=(2, 0))
    got = _shard_arrays(import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out",
                                        progress=False), "i3d")
    np.testing.assert_array_equal(got["Abuse001_x264"][1], arrays["Abuse001_x264"])
    np.testing.assert_array_equal(got["Arrest002_x264"][1], arrays["Arrest002_x264"].astype(np.float16))
    np.testing.assert_array_equal(got["Normal_Videos_003_x264"][1], arrays["Normal_Videos_003_x264"])
    data = (folder / "Normal_Videos_010_x264_i3d.npy").read_bytes()
    (folder / "Normal_Videos_010_x264_i3d.npy").write_bytes(data[:-4])  # an interrupted download
    with pytest.raises(FeatureImportError, match=r"Normal_Videos_010_x264_i3d\.npy: \d+ bytes, but its header "
                                                 r"\(2, 10, 6\) float32 needs \d+ \(a truncated"):
        import_features([_rtfm_source(tmp_path)], ImportSettings("ucf_crime"), tmp_path / "out2", progress=False)
    assert not (tmp_path / "out2").exists()


def test_the_dispatch_tables_are_the_choices_and_the_command_line_refuses_others(tmp_path, capsys):
    assert tuple(lists.CROP_SELECTORS) == CROP_MODES
    assert LAYOUTS == ("auto", *LAYOUT_RULES)
    for layout in ("i3d=rtfm3", "tiles"):
        with pytest.raises(SystemExit) as exit_info:
            main(["import-features", "--kind", "ucf_crime", "--train", "i3d=a.list", "--layout", layout,
                  "--out-dir", str(tmp_path / "o")])
        assert exit_info.value.code == 2
        assert "argument --layout: invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()



def _ordered_source(root, tag: str = "i3d", backbone: str = "i3d") -> FeatureSource:
    """The RTFM fixture renamed to bare ids by a user's own extractor tag, labels in the order only."""
    _write_rtfm(root, crops=2, tag=tag)
    return FeatureSource(backbone, {"train": root / f"ucf-{tag}.list", "test": root / f"ucf-{tag}-test.list"},
                         feature_root=root, layout="rtfm")


def test_labels_from_the_list_order_with_a_users_own_extractor_tag(tmp_path):
    """TEVAD's and RTFM's lists label only by order; the test labels come from the ground truth,
    and a tag named after the backbone (or stated) is taken off the ids."""
    settings = ImportSettings(anomalous_first={"train": 2})
    stated = dataclasses.replace(_ordered_source(tmp_path / "a", tag="videomae"), tag="videomae")
    named = _ordered_source(tmp_path / "b", tag="mnv1", backbone="mnv1")
    for source in (stated, named):
        root = source.feature_root
        shards = import_features([source], settings, root / "out", gt_file=root / "gt-ucf.npy",
                                 annotations_out=root / "ann.parquet", progress=False)
        got = {vid: meta for vid, (meta, _) in _shard_arrays(shards, source.backbone).items()}
        assert set(got) == {v for v, _ in UCF_TRAIN + UCF_TEST}
        assert [got[v].label for v, _ in UCF_TRAIN] == [1, 1, 0, 0]
        assert {v: got[v].label for v, _ in UCF_TEST} == {"Burglary005_x264": 1, "Normal_Videos_050_x264": 0,
                                                          "RoadAccidents012_x264": 1}
        assert got["Normal_Videos_050_x264"].class_name == "Normal"


def test_the_order_must_agree_with_the_names_and_fit_the_list(tmp_path):
    source = _ordered_source(tmp_path)
    gt = {"gt_file": tmp_path / "gt-ucf.npy", "annotations_out": tmp_path / "ann.parquet", "progress": False}
    with pytest.raises(FeatureImportError, match=r"ucf-i3d.list:3: video 'Normal_Videos_003_x264' is normal by its "
                       r"name \(ucf_crime naming\), but it is the list's video 3: anomalous by "
                       r"anomalous_first.train=3; the list contradicts its names$"):
        import_features([source], ImportSettings("ucf_crime", anomalous_first={"train": 3}), tmp_path / "o", **gt)
    with pytest.raises(FeatureImportError, match=r"ucf-i3d.list: anomalous_first.train is 5, but the list names "
                       r"only 4 video\(s\)$"):
        import_features([source], ImportSettings(anomalous_first={"train": 5}), tmp_path / "o", **gt)
    with pytest.raises(FeatureImportError, match=r"anomalous_first: no 'val' list to read it for"):
        import_features([source], ImportSettings(anomalous_first={"val": 1}), tmp_path / "o", **gt)
    with pytest.raises(FeatureImportError, match=r"ucf-i3d.list: no label for video 'Abuse001_x264': the list has no "
                       r"label column; give the order \(anomalous_first: \{train: N\}"):
        import_features([source], ImportSettings(), tmp_path / "o", **gt)
    with pytest.raises(FeatureImportError, match=r"ucf-i3d-test.list: no label for video 'Burglary005_x264': .*give "
                       r"a ground truth"):
        import_features([source], ImportSettings(anomalous_first={"train": 2}), tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()  # every check runs before anything is written


def test_a_label_column_and_the_order_must_agree(tmp_path):
    (tmp_path / "l.list").write_text("a.npy 1\nb.npy 0\n")
    for name in "ab":
        np.save(tmp_path / f"{name}.npy", np.zeros((2, DIM), np.float32))
    from dakd.released.labels import ListOrder

    with pytest.raises(FeatureImportError, match=r"l.list:2: video 'b' is the list's video 2: anomalous by "
                       r"anomalous_first.train=2, but its label column says '0'; the list's order contradicts"):
        read_video_list(tmp_path / "l.list", None, order=ListOrder(2, "anomalous_first.train"))
    videos = read_video_list(tmp_path / "l.list", None, order=ListOrder(1, "anomalous_first.train"))
    assert [(v.video_id, v.label) for v in videos] == [("a", 1), ("b", 0)]


def test_a_tag_that_leaves_two_videos_one_id_stops_the_import(tmp_path):
    (tmp_path / "l.list").write_text("a_mnv1.npy\na.npy\n")
    for name in ("a_mnv1", "a"):
        np.save(tmp_path / f"{name}.npy", np.zeros((2, DIM), np.float32))
    with pytest.raises(FeatureImportError, match=r"l.list:2: video 'a' listed twice \(also on line 1: 'a_mnv1' and "
                       r"'a' are one video id 'a' once the extractor tag is taken off; state the source's tag\)$"):
        read_video_list(tmp_path / "l.list", None, tag="mnv1")
    assert [v.video_id for v in read_video_list(tmp_path / "l.list", None, tag="x")] == ["a_mnv1", "a"]


def test_the_cli_reads_the_order_the_tag_and_a_ground_truth_to_compare(tmp_path, capsys, caplog):
    _write_rtfm(tmp_path, crops=2, tag="mnv1")
    gt = _gt(UCF_TEST)
    shifted = np.roll(gt, 1)
    np.save(tmp_path / "gt-shifted.npy", shifted)
    args = ["import-features", "--anomalous-first", "train=2", "--train", f"x={tmp_path}/ucf-mnv1.list",
            "--test", f"x={tmp_path}/ucf-mnv1-test.list", "--feature-root", str(tmp_path), "--tag", "x=mnv1",
            "--gt", str(tmp_path / "gt-ucf.npy"), "--compare-gt", str(tmp_path / "gt-shifted.npy"),
            "--annotations", str(tmp_path / "ann.parquet"), "--out-dir", str(tmp_path / "out"), "--no-progress"]
    with caplog.at_level(logging.WARNING, logger="dakd"):
        assert main(args) == 0
    line = (f"{tmp_path}/gt-shifted.npy differs from {tmp_path}/gt-ucf.npy on 2 of 3 test videos: anomalies start "
            "1 frame later on 2; end 1 frame later on 2; 4 frames both label disagree")
    assert line in caplog.messages
    _, provenance = read_metadata(expand_shards([tmp_path / "out"])[0])
    assert provenance["inputs"]["ground_truth_difference"] == line
    assert read_annotations(tmp_path / "ann.parquet")["Burglary005_x264"] == [(16, 32)]  # --gt, not the other
    assert main([*args[:2], "train=two", *args[3:]]) == 2
    assert "--anomalous-first takes SPLIT=N" in capsys.readouterr().err
