"""Real pretrained features of a real benchmark (UCSD Ped2, two ImageNet backbones, ten crops),
imported from the field's own files as they are and trained on end to end.

The files (lists labelled only by their order, file names with an extractor tag, the
official per-video masks and TEVAD's concatenated ground truth) live beside the repository;
the tests skip without them (a clone of the repository alone).
"""

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from dakd.annotations import read_annotation_table
from dakd.config import DakdConfig
from dakd.features import read_shard
from dakd.probe import run_probe
from dakd.released.importer import import_features
from dakd.released.sources import plan_import
from dakd.stages import run_evaluate, run_pseudo_labels, run_train_student, run_train_teacher

PED2 = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "ped2"
pytestmark = pytest.mark.skipif(not PED2.is_dir(), reason=f"the real UCSD Ped2 features are not here ({PED2})")
TRAIN_ANOMALOUS = ["Test002", "Test006", "Test009", "Test010", "Test011", "Test012"]
TEST_ANOMALOUS = ["Test001", "Test003", "Test004", "Test005", "Test007", "Test008"]


def _entry(ground_truth: str, compare: str | None = None) -> dict:
    """The dataset entry a user writes for these files, which are used as they are."""
    return {"root": str(PED2), "anomalous_first": {"train": 6}, "ground_truth": ground_truth,
            "compare_ground_truth": compare, "options": {"fps": 10, "shard_size": 32},
            "sources": {bb: {"train": f"ped2-{bb}.list", "test": f"ped2-{bb}-test.list"} for bb in ("mnv1", "mnv2")}}


def _import(out: Path, ground_truth: str = "test_frame_mask", compare: str | None = None) -> list[Path]:
    sources, settings, gt, other = plan_import(_entry(ground_truth, compare), "ped2")
    return import_features(sources, settings, out / "features", gt, out / "annotations.parquet", progress=False,
                           compare_gt=other)


@pytest.fixture(scope="module")
def ped2(tmp_path_factory):
    out = tmp_path_factory.mktemp("ped2")
    return out, _import(out)


def test_the_fields_ped2_files_import_as_they_are(ped2):
    out, shards = ped2
    videos = {v.meta.video_id: v for s in shards for v in read_shard(s, ["mnv1", "mnv2"]).videos}
    train = [v for v in videos.values() if v.meta.split == "train"]
    test = [v for v in videos.values() if v.meta.split == "test"]
    # labels from the list order (train) and from the masks (test); ids without the _mnv1 tag
    assert [v.meta.video_id for v in train if v.meta.label] == TRAIN_ANOMALOUS
    assert len(train) == 10 and len(test) == 18
    assert sorted(v.meta.video_id for v in test if v.meta.label) == TEST_ANOMALOUS
    # the official masks give each anomalous test video its true length; the features kept a partial snippet
    mask = np.load(PED2 / "test_frame_mask" / "Test003.npy")
    assert (videos["Test003"].meta.num_frames, videos["Test003"].meta.num_snippets) == (mask.size, 10) == (150, 10)
    np.testing.assert_array_equal(videos["Test003"].features["mnv1"], np.load(PED2 / "features/mnv1/Test003_mnv1.npy"))
    assert videos["Train001"].features["mnv2"].shape == (8, 10, 1280)
    table = read_annotation_table(out / "annotations.parquet")
    assert table["Test003"] == ([(0, 146)], 150)


def test_the_importer_says_how_the_two_ground_truths_differ(tmp_path, caplog):
    """TEVAD's vector starts every anomaly one frame after the official masks and labels the
    padding of a partial last snippet; imported either way round, the importer says so."""
    masks, vector = PED2 / "test_frame_mask", PED2 / "tevad" / "gt-ped2.npy"
    with caplog.at_level(logging.WARNING, logger="dakd"):
        _import(tmp_path / "a", "test_frame_mask", "tevad/gt-ped2.npy")
        _import(tmp_path / "b", "tevad/gt-ped2.npy", "test_frame_mask")
    assert caplog.messages == [
        f"{vector} differs from {masks} on 6 of 18 test videos: anomalies start 1 frame later on 6; end 1 frame "
        "later on 2; 48 frames past the end of 4 video(s) are labelled anomalous (the padding of a partial last "
        "snippet; 68 padding frames in all); 8 frames both label disagree",
        f"{masks} differs from {vector} on 6 of 18 test videos: anomalies start 1 frame earlier on 6; end 1 frame "
        f"earlier on 2; {vector} labels 48 frames past the true end of 4 video(s) anomalous (the padding of a "
        f"partial last snippet, which {masks} leaves out); 8 frames both label disagree"]
    official = read_annotation_table(tmp_path / "a" / "annotations.parquet")
    tevad = read_annotation_table(tmp_path / "b" / "annotations.parquet")
    assert official["Test001"] == ([(60, 180)], 180)
    assert tevad["Test001"] == ([(61, 192)], None)  # the vector knows no true length: T x 16 frames


def test_ped2_trains_end_to_end_and_the_probe_gives_its_known_figures(ped2, tmp_path):
    """One small run of every stage on the real features; the linear probe, which is
    deterministic, reproduces the figures first measured outside dakd (84.53 / 82.98 / 83.45)."""
    out, shards = ped2
    ann = out / "annotations.parquet"
    cfg = DakdConfig.from_dict({"device": "cpu", "teacher": {"backbones": ["mnv1", "mnv2"], "optim": {"epochs": 3}},
                                "student": {"backbone": "mnv2", "optim": {"epochs": 3}}})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False)
    run_pseudo_labels(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pseudo.parquet")
    run_train_student(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pseudo.parquet", tmp_path / "student.pt",
                      progress=False)
    report = run_evaluate(cfg, shards, ann, tmp_path / "student.pt", tmp_path / "student_auc.json")
    anomalous = sum(int(np.load(PED2 / "test_frame_mask" / f"{v}.npy").sum()) for v in TEST_ANOMALOUS)
    assert (report["num_videos"], report["num_anomalous_frames"]) == (18, anomalous)
    assert 0 < report["auc"] < 1
    probe = run_probe(cfg, shards, ann, tmp_path / "probe_auc.json")["probes"]
    assert {name: round(100 * p["auc"], 2) for name, p in probe.items()} == {
        "mnv1": 84.53, "mnv2": 82.98, "mnv1+mnv2": 83.45}
    assert probe["mnv1"]["num_frames"] == report["num_frames"]
    with_crops = dataclasses.replace(cfg, features=dataclasses.replace(cfg.features, crop="per_crop_bags"))
    per_crop = run_probe(with_crops, shards, ann, tmp_path / "probe_crops.json")["probes"]["mnv1"]["auc"]
    assert per_crop != probe["mnv1"]["auc"]  # every crop its own snippet: another probe

