"""Dataset adapters on small fixtures written in each benchmark's own file formats."""

import csv

import numpy as np
import pytest

from dakd.annotations import read_annotations
from dakd.datasets import DatasetError, available_datasets, index_dataset, write_index


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")


@pytest.fixture
def ucf(tmp_path):
    root = tmp_path / "UCF-Crime"
    for rel in ["Anomaly-Videos-Part-1/Abuse/Abuse001_x264.mp4", "Anomaly-Videos-Part-1/Arrest/Arrest001_x264.mp4",
                "Training-Normal-Videos-Part-1/Normal_Videos308_x264.mp4",
                "Anomaly-Videos-Part-1/Abuse/Abuse028_x264.mp4", "Testing_Normal_Videos/Normal_Videos_003_x264.mp4",
                "Anomaly-Videos-Part-2/Burglary/Burglary005_x264.mp4"]:
        touch(root / rel)
    (root / "Anomaly_Train.txt").write_text(
        "Abuse/Abuse001_x264.mp4\nArrest/Arrest001_x264.mp4\n"
        "Training_Normal_Videos_Anomaly/Normal_Videos308_x264.mp4\n")
    (root / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text(
        "Abuse028_x264.mp4  Abuse  165  240  -1  -1\n"
        "Burglary005_x264.mp4  Burglary  4710  5040  5500  5700\n"
        "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n")
    return root


def test_registry():
    from dakd.datasets.base import SOURCES

    assert available_datasets() == ["demo", "shanghaitech", "ucf_crime", "xd_violence"]
    # the workflow reruns an index on what its kind says it reads: a kind without that cannot be planned
    assert SOURCES.names() == available_datasets()


def test_ucf_crime(ucf, tmp_path):
    index = index_dataset("ucf_crime", ucf)
    got = {(v.video_id, v.split, v.label, v.class_name) for v in index.videos}
    assert got == {("Abuse001_x264", "train", 1, "Abuse"), ("Arrest001_x264", "train", 1, "Arrest"),
                   ("Normal_Videos308_x264", "train", 0, "Normal"), ("Abuse028_x264", "test", 1, "Abuse"),
                   ("Burglary005_x264", "test", 1, "Burglary"), ("Normal_Videos_003_x264", "test", 0, "Normal")}
    assert index.intervals == {"Abuse028_x264": [(165, 241)], "Burglary005_x264": [(4710, 5041), (5500, 5701)],
                               "Normal_Videos_003_x264": []}
    write_index(index, tmp_path / "videos.csv", tmp_path / "annotations.parquet")
    rows = list(csv.DictReader(open(tmp_path / "videos.csv")))
    assert rows[0].keys() == {"video_id", "path", "split", "label", "class_name"}
    assert all(p.startswith("/") for p in (r["path"] for r in rows))
    assert read_annotations(tmp_path / "annotations.parquet")["Abuse028_x264"] == [(165, 241)]


def test_ucf_errors_name_the_file(ucf):
    (ucf / "Anomaly-Videos-Part-1/Arrest/Arrest001_x264.mp4").unlink()
    with pytest.raises(DatasetError, match=r"Anomaly_Train.txt:\d+: video .Arrest001_x264.mp4. is listed but not fo"):
        index_dataset("ucf_crime", ucf)
    (ucf / "Anomaly_Train.txt").unlink()
    with pytest.raises(DatasetError, match=r"Anomaly_Train.txt: required dataset file not found"):
        index_dataset("ucf_crime", ucf)
    with pytest.raises(DatasetError, match=r"nowhere: dataset directory not found"):
        index_dataset("ucf_crime", ucf / "nowhere")


def test_ucf_malformed_annotation_line(ucf):
    (ucf / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text("Abuse028_x264.mp4 Abuse 1 2\n")
    with pytest.raises(DatasetError, match=r"Testing_Videos.txt:1: expected 6 fields"):
        index_dataset("ucf_crime", ucf)


def test_shanghaitech(tmp_path):
    root = tmp_path / "SHT"
    for name in ["01_001", "01_0014", "02_0161", "03_0031"]:
        touch(root / "videos" / f"{name}.avi")
    (root / "SH_Train_new.txt").write_text("01_001 0\n01_0014 1\n")
    (root / "SH_Test_NEW.txt").write_text("02_0161 1\n03_0031 0\n")
    (root / "test_frame_mask").mkdir()
    np.save(root / "test_frame_mask" / "02_0161.npy", np.array([0, 0, 1, 1, 1, 0, 1, 0]))
    np.save(root / "test_frame_mask" / "03_0031.npy", np.zeros(6))
    index = index_dataset("shanghaitech", root)
    assert [(v.video_id, v.split, v.label) for v in index.videos] == [
        ("01_001", "train", 0), ("01_0014", "train", 1), ("02_0161", "test", 1), ("03_0031", "test", 0)]
    assert index.intervals == {"02_0161": [(2, 5), (6, 7)], "03_0031": []}
    np.save(root / "test_frame_mask" / "03_0031.npy", np.ones(6))
    with pytest.raises(DatasetError, match=r"03_0031.npy: frame mask disagrees with label 0"):
        index_dataset("shanghaitech", root)


def test_xd_violence(tmp_path):
    root = tmp_path / "XD"
    touch(root / "train" / "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A.mp4")
    touch(root / "train" / "Bad.Boys.1995__#01-11-55_01-12-40_label_B2-G-0.mp4")
    touch(root / "test" / "v=abc__#1_label_B1-0-0.mp4")
    touch(root / "test" / "v=def__#1_label_A.mp4")
    (root / "annotations.txt").write_text("v=abc__#1_label_B1-0-0 33 120 300 410\n")
    index = index_dataset("xd_violence", root)
    got = {v.video_id: (v.split, v.label, v.class_name) for v in index.videos}
    assert got == {"A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A": ("train", 0, "Normal"),
                   "Bad.Boys.1995__#01-11-55_01-12-40_label_B2-G-0": ("train", 1, "Shooting"),
                   "v=abc__#1_label_B1-0-0": ("test", 1, "Fighting"), "v=def__#1_label_A": ("test", 0, "Normal")}
    assert index.intervals == {"v=abc__#1_label_B1-0-0": [(33, 120), (300, 410)], "v=def__#1_label_A": []}
    (root / "annotations.txt").write_text("v=abc__#1_label_B1-0-0 33\n")
    with pytest.raises(DatasetError, match=r"annotations.txt:1: expected '<video> start end"):
        index_dataset("xd_violence", root)


def test_demo_generation_is_deterministic_and_indexable(tmp_path):
    from dakd.datasets.demo import DemoSpec, make_demo

    spec = DemoSpec(train_normal=2, train_anomalous=3, test_normal=1, test_anomalous=3, min_seconds=2,
                    max_seconds=3)
    make_demo(tmp_path / "a", spec)
    make_demo(tmp_path / "b", spec)
    index = index_dataset("demo", tmp_path / "a")
    assert len(index.videos) == 9
    assert {v.class_name for v in index.videos if v.label} == {"panic", "fall", "flash"}
    assert all(len(index.intervals[v.video_id]) == 1 for v in index.videos if v.split == "test" and v.label)
    for v in index.videos:
        assert v.path.read_bytes() == (tmp_path / "b" / "videos" / v.path.name).read_bytes()


def test_a_video_listed_twice_or_in_both_splits_is_an_error(ucf):
    train = ucf / "Anomaly_Train.txt"
    original = train.read_text()
    train.write_text(original + "Abuse/Abuse001_x264.mp4\n")
    with pytest.raises(DatasetError, match="video 'Abuse001_x264' is listed twice in the train list"):
        index_dataset("ucf_crime", ucf)
    train.write_text(original + "Abuse/Abuse028_x264.mp4\n")
    with pytest.raises(DatasetError, match="video 'Abuse028_x264' is listed in both the train and the test list"):
        index_dataset("ucf_crime", ucf)


def test_ucf_annotation_dialects_agree(ucf):
    """Sultani's file, VadCLIP's copy (no .mp4) and UR-DMU's (path and frame count added)."""
    sultani = index_dataset("ucf_crime", ucf).intervals
    annotation = ucf / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"
    annotation.write_text("Abuse028_x264  Abuse  165  240  -1  -1\nBurglary005_x264  Burglary  4710  5040  5500  5700\n"
                          "Normal_Videos_003_x264  Normal  -1  -1  -1  -1\n")
    assert index_dataset("ucf_crime", ucf).intervals == sultani
    annotation.write_text("Abuse/Abuse028_x264.mp4 1412 Abuse 165 240 -1 -1 \n"
                          "Burglary/Burglary005_x264.mp4 7000 Burglary 4710 5040 5500 5700\n"
                          "Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4 530 Normal -1 -1 -1 -1\n")
    assert index_dataset("ucf_crime", ucf).intervals == sultani
    for line, message in [("Abuse028_x264.mp4  Abuse  165  -1  -1  -1", "has only one end"),
                          ("Abuse028_x264.mp4  Abuse  240  165  -1  -1", "ends before it starts"),
                          ("Abuse028_x264.mp4  Abuse  -1  -1  -1  -1", "anomalous video 'Abuse028_x264.mp4' has no "),
                          ("Normal_Videos_003_x264.mp4  Normal  1  5  -1  -1", "normal video .* has an anomalous"),
                          ("Abuse028_x264.mp4  Abuse  1.5  5  -1  -1", "frame numbers must be integers")]:
        annotation.write_text(line + "\n")
        with pytest.raises(DatasetError, match=message):
            index_dataset("ucf_crime", ucf)


def test_shanghaitech_records_how_many_frames_a_mask_labels(tmp_path):
    from dakd.annotations import read_annotation_table

    root = tmp_path / "SHT"
    for name in ["01_001", "01_0014", "02_0161", "03_0031"]:
        touch(root / "videos" / f"{name}.avi")
    (root / "SH_Train_new.txt").write_text("01_001 0\n01_0014 1\n")
    (root / "SH_Test_NEW.txt").write_text("02_0161 1\n03_0031 0\n")
    (root / "test_frame_mask").mkdir()
    np.save(root / "test_frame_mask" / "02_0161.npy", np.array([0, 0, 1, 1, 1, 0, 1, 0], np.uint8))
    index = index_dataset("shanghaitech", root)  # the normal test video needs no mask
    write_index(index, tmp_path / "videos.csv", tmp_path / "annotations.parquet")
    assert read_annotation_table(tmp_path / "annotations.parquet") == {"02_0161": ([(2, 5), (6, 7)], 8)}
    np.save(root / "test_frame_mask" / "02_0161.npy", np.array([0, 2, 1]))
    with pytest.raises(DatasetError, match="02_0161.npy: a frame mask must be a non-empty array of 0 and 1"):
        index_dataset("shanghaitech", root)


def test_the_listed_folder_wins_over_a_copy_elsewhere(ucf):
    """A backup copy of a listed video under another folder: the list's own relative path
    decides (issue 21, item 4: the sorted-first copy, here AAA_backup, used to win silently)."""
    touch(ucf / "AAA_backup" / "Abuse001_x264.mp4")  # sorts before Anomaly-Videos-Part-1
    index = index_dataset("ucf_crime", ucf)
    path = {v.video_id: v.path for v in index.videos}["Abuse001_x264"]
    assert path == ucf / "Anomaly-Videos-Part-1" / "Abuse" / "Abuse001_x264.mp4"


def test_two_copies_and_no_way_to_choose_stop_naming_both(ucf):
    """The test annotation names a bare file name; two files carry it: one line names both."""
    touch(ucf / "backup" / "Abuse028_x264.mp4")
    with pytest.raises(DatasetError) as error:
        index_dataset("ucf_crime", ucf)
    message = str(error.value)
    assert message.startswith(f"{ucf / 'Temporal_Anomaly_Annotation_for_Testing_Videos.txt'}:1: ")
    assert str(ucf / "backup" / "Abuse028_x264.mp4") in message and "\n" not in message
    assert str(ucf / "Anomaly-Videos-Part-1" / "Abuse" / "Abuse028_x264.mp4") in message


def test_shanghaitech_and_xd_refuse_two_files_of_one_video(tmp_path):
    """ShanghaiTech lists bare names and XD-Violence takes every file: one video id in two
    files (another folder or another container) is a line naming both, not a pick."""
    root = tmp_path / "SHT"
    for name in ["videos/01_001.avi", "videos/01_0014.avi", "copy/01_001.mp4", "videos/02_0161.avi"]:
        touch(root / name)
    (root / "SH_Train_new.txt").write_text("01_001 0\n01_0014 1\n")
    (root / "SH_Test_NEW.txt").write_text("02_0161 0\n")
    with pytest.raises(DatasetError, match=r"SH_Train_new\.txt:1: '01_001' matches 2 files, .*copy/01_001\.mp4 "
                                           r"and .*videos/01_001\.avi"):
        index_dataset("shanghaitech", root)
    xd = tmp_path / "XD"
    for name in ["train/a/v=x__#1_label_A.mp4", "train/b/v=x__#1_label_A.mkv", "test/v=y__#1_label_A.mp4"]:
        touch(xd / name)
    (xd / "annotations.txt").write_text("")
    with pytest.raises(DatasetError, match=r"train/a/v=x__#1_label_A\.mp4 and .*train/b/v=x__#1_label_A\.mkv are "
                                           r"both video 'v=x__#1_label_A'"):
        index_dataset("xd_violence", xd)


def test_a_unicode_file_name_is_a_video_id(tmp_path):
    """Issue 21, item 10: one file named with an en dash stopped the whole index."""
    root = tmp_path / "XD"
    for name in ["train/Überwachung 01 – Straße__#1_label_A.mp4", "train/v=b__#1_label_B1-0-0.mp4",
                 "test/監視カメラ 3__#1_label_A.mp4"]:
        touch(root / name)
    (root / "annotations.txt").write_text("", encoding="utf-8")
    index = index_dataset("xd_violence", root)
    assert {v.video_id for v in index.videos} == {"Überwachung 01 – Straße__#1_label_A", "v=b__#1_label_B1-0-0",
                                                 "監視カメラ 3__#1_label_A"}
    write_index(index, tmp_path / "videos.csv", tmp_path / "annotations.parquet")
    from dakd.datasets import read_manifest

    assert {t.video_id for t in read_manifest(tmp_path / "videos.csv")} == {v.video_id for v in index.videos}
