"""Importing and exporting the community's released .npy features (RTFM, UR-DMU, VadCLIP layouts)."""

import csv
import re
import zlib

import numpy as np
import pytest

from dakd.annotations import read_annotations
from dakd.cli import main
from dakd.features import load_bags, read_metadata, read_shard
from dakd.features.community import (
    FeatureImportError,
    FeatureSource,
    ImportSettings,
    export_features,
    import_features,
    label_from_csv,
    label_from_name,
)

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
    assert "1 snippet(s) fewer" in str(err.value) and "divisible by 16" in str(err.value)
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
    shards = import_features([FeatureSource("clip", {"train": train_list, "test": test_list}, tmp_path)],
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

