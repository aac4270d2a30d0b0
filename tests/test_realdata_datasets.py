"""Dataset adapters and the evaluation's annotation checks on the field's real list and
annotation files (not on fixtures written to our own reading of the formats)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from dakd.annotations import AnnotationError, check_fits_video, read_annotation_table
from dakd.datasets import index_dataset, write_index

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"the field's real files are not here ({REALDATA})")


def _touch_videos(root: Path, names: list[str]) -> None:
    """Empty stand-ins for the video files (indexing finds videos by name, it does not decode)."""
    for name in names:
        path = root / "videos" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def _ucf_root(tmp_path: Path, annotation: Path) -> Path:
    root = tmp_path / "UCF-Crime"
    train = (REALDATA / "ucf/vadclip/Anomaly_Train.txt").read_text().split()
    test = [line.split()[0] for line in (REALDATA / "ucf/vadclip/Anomaly_Test.txt").read_text().splitlines() if line]
    _touch_videos(root, [Path(p).name for p in train + test])
    shutil.copy(REALDATA / "ucf/vadclip/Anomaly_Train.txt", root / "Anomaly_Train.txt")
    shutil.copy(annotation, root / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt")
    return root


def _ucf_frame_counts() -> dict[str, int]:
    """Frame counts per test video, from UR-DMU's annotation file (its second column)."""
    lines = (REALDATA / "ucf/urdmu/UCF_Annotation.txt").read_text().splitlines()
    return {Path(f[0]).stem: int(f[1]) for f in (line.split() for line in lines if line)}


def test_ucf_crime_real_split_in_all_three_annotation_dialects(tmp_path):
    dialects = {"sultani": "ucf/sultani/Temporal_Anomaly_Annotation_for_Testing_Videos.txt",
                "vadclip": "ucf/vadclip/Temporal_Anomaly_Annotation.txt",
                "urdmu": "ucf/urdmu/UCF_Annotation.txt"}
    indexes = {name: index_dataset("ucf_crime", _ucf_root(tmp_path / name, REALDATA / rel))
               for name, rel in dialects.items()}
    index = indexes["sultani"]
    train = [v for v in index.videos if v.split == "train"]
    test = [v for v in index.videos if v.split == "test"]
    assert (len(train), sum(v.label for v in train)) == (1610, 810)
    assert (len(test), sum(v.label for v in test)) == (290, 140)
    assert {v.class_name for v in test if v.label} == {
        "Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting", "RoadAccidents", "Robbery",
        "Shooting", "Shoplifting", "Stealing", "Vandalism"}
    assert indexes["vadclip"].intervals == indexes["urdmu"].intervals == index.intervals
    assert index.intervals["Abuse028_x264"] == [(165, 241)]


def test_real_ucf_intervals_fit_the_videos_and_a_shifted_annotation_does_not(tmp_path):
    """Seven official intervals end 1-2 frames past their video's last frame (UR-DMU's frame
    counts): they are cut, not refused; intervals for another video's length are refused."""
    index = index_dataset("ucf_crime", _ucf_root(tmp_path, REALDATA / "ucf/sultani/"
                                                 "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"))
    frames = _ucf_frame_counts()
    past_end = 0
    for video_id, intervals in index.intervals.items():
        check_fits_video(intervals, None, video_id, frames[video_id], 16, "annotations.parquet")
        past_end += any(end > frames[video_id] for _, end in intervals)
    assert past_end == 7
    with pytest.raises(AnnotationError, match=r"'Abuse028_x264' has an anomalous interval \[165, 241\) beyond its end"):
        check_fits_video(index.intervals["Abuse028_x264"], None, "Abuse028_x264", 150, 16, "annotations.parquet")


def test_shanghaitech_real_split_with_bare_names_and_masks(tmp_path):
    root = tmp_path / "SHT"
    lists = {name: (REALDATA / "shanghaitech/rtfm" / name).read_text().split() for name in ("SH_Train.txt",
                                                                                            "SH_Test.txt")}
    _touch_videos(root, [f"{v}.avi" for names in lists.values() for v in names])
    for name in lists:
        shutil.copy(REALDATA / "shanghaitech/rtfm" / name, root / name)
    shutil.copytree(REALDATA / "shanghaitech/rtfm/test_frame_mask", root / "test_frame_mask")
    index = index_dataset("shanghaitech", root)
    train = [v for v in index.videos if v.split == "train"]
    test = [v for v in index.videos if v.split == "test"]
    assert (len(train), sum(v.label for v in train)) == (238, 63)
    assert (len(test), sum(v.label for v in test)) == (199, 44)
    write_index(index, tmp_path / "videos.csv", tmp_path / "annotations.parquet")
    table = read_annotation_table(tmp_path / "annotations.parquet")
    assert len(table) == 44  # the anomalous test videos; normal ones have no mask here
    mask = np.load(REALDATA / "shanghaitech/rtfm/test_frame_mask/01_0015.npy")
    assert table["01_0015"][1] == mask.size == 433
    with pytest.raises(AnnotationError, match="'01_0015' has frame labels for 433 frames but 432 decoded frames"):
        check_fits_video(*table["01_0015"], "01_0015", 432, 16, "annotations.parquet")
