"""Readings of points the paper leaves open (docs/readings.md) reach the training stages."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from helpers import small_config

from dakd.features import BackboneInfo, FeatureStoreError, VideoFeatures, VideoMeta, load_bags, write_shard
from dakd.features.segments import segment_pool
from dakd.features.store import iter_shard_videos
from dakd.stages import run_evaluate, run_pseudo_labels, run_train_student, run_train_teacher
from dakd.synthetic import SyntheticSpec, make_synthetic_dataset
from dakd.training import DistillTargets, train_student, train_teacher


@pytest.fixture(scope="module")
def three_crops(tmp_path_factory):
    """Planted anomalies with three crops per snippet."""
    root = tmp_path_factory.mktemp("three_crops")
    spec = SyntheticSpec(signal=3.0, seed=2, crops=3, train_normal=12, train_anomalous=12, test_normal=4,
                         test_anomalous=4, min_snippets=20, max_snippets=40)
    return make_synthetic_dataset(root, spec)


def test_per_crop_bags_make_every_crop_a_bag_of_its_own(three_crops):
    shards, _ = three_crops
    mean = load_bags(shards, ["i3d", "clip"], "train", 8)
    bags = load_bags(shards, ["i3d", "clip"], "train", 8, crop="per_crop_bags")
    assert (len(mean), bags.crops, len(bags)) == (24, 3, 72)
    assert [m.video_id for m in bags.videos] == mean.video_ids
    assert bags.video_ids[:4] == [mean.video_ids[0]] * 3 + [mean.video_ids[1]]
    assert torch.equal(bags.labels, mean.labels.repeat_interleave(3))
    first = next(iter_shard_videos(shards[0], ["i3d"]))
    for crop in range(3):
        np.testing.assert_allclose(bags.segments["i3d"][crop].numpy(), segment_pool(first.features["i3d"][:, crop], 8))
    # the mean of the crop bags' segments is the crop-mean's bag (pooling is linear)
    np.testing.assert_allclose(bags.per_video(bags.segments["clip"].numpy()), mean.segments["clip"].numpy(),
                               rtol=1e-5, atol=1e-6)


def test_per_crop_bags_through_the_pipeline(three_crops, tmp_path):
    """One pseudo-label row per video (its crops' mean teacher score); the student trains on
    the crop bags; test videos are scored per crop and averaged."""
    shards, annotations = three_crops
    cfg = small_config(**{"features.crop": "per_crop_bags", "features.segments": "8", "teacher.optim.epochs": "2",
                          "student.optim.epochs": "2"})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False)
    run_pseudo_labels(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet")
    table = pq.read_table(tmp_path / "pl.parquet")
    ids = table.column("video_id").to_pylist()
    assert len(ids) == len(set(ids)) == 24
    run_train_student(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet", tmp_path / "student.pt",
                      progress=False)
    report = run_evaluate(cfg, shards, annotations, tmp_path / "student.pt", tmp_path / "auc.json")
    assert report["num_videos"] == 8 and report["evaluation_config"]["features"]["crop"] == "per_crop_bags"


def test_per_crop_bags_need_one_crop_count_for_every_backbone(tmp_path):
    meta = VideoMeta("v0", "train", 0, "Normal", 64, 30.0, 16, 16, 4, 16)
    features = {"i3d": np.zeros((4, 3, 8), np.float32), "clip": np.zeros((4, 1, 8), np.float32)}
    infos = [BackboneInfo("i3d", 8, 3, "synthetic"), BackboneInfo("clip", 8, 1, "synthetic")]
    write_shard(tmp_path / "shard.parquet", [VideoFeatures(meta, features)], infos, {})
    message = (r"shard.parquet: video 'v0': features.crop per_crop_bags needs the same number of crops for every "
               r"backbone, got \{'i3d': 3, 'clip': 1\}")
    with pytest.raises(FeatureStoreError, match=message):
        load_bags([tmp_path / "shard.parquet"], ["i3d", "clip"], "train", crop="per_crop_bags")
    assert len(load_bags([tmp_path / "shard.parquet"], ["i3d", "clip"], "train")) == 1  # the mean still works


def test_sultanis_reduction_trains_the_same_teacher_without_weight_decay(synthetic):
    """The sultani reduction is the pairwise mean times the anomalous bags per batch (10 here);
    Adagrad cancels a constant factor, so without weight decay the trajectories agree and
    every logged loss is 10 times larger."""
    _, shards, _ = synthetic
    bags = load_bags(shards, ["i3d", "s3d", "clip"], "train")
    losses = {}
    for reduction in ("pairwise_mean", "sultani"):
        cfg = small_config(**{"teacher.optim.epochs": "2", "teacher.optim.weight_decay": "0",
                              "teacher.mil.reduction": reduction})
        _, history, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
        losses[reduction] = np.array([h["loss"] for h in history])
    np.testing.assert_allclose(losses["sultani"], 10 * losses["pairwise_mean"], rtol=1e-3)


@pytest.mark.parametrize(("reading", "anchor_fraction", "nce_active"), [("thresholded", 1.0, 0.0),
                                                                       ("normal", 0.5, 1.0)])
def test_normal_videos_segments_can_be_forced_to_normal_anchors(synthetic, reading, anchor_fraction, nce_active):
    """A teacher that scores every segment >= delta, normal videos' included: read as
    thresholded, all segments are anomalous anchors and L_nce has no negatives; with
    normal_video_anchors: normal, the normal half of each batch are normal anchors."""
    _, shards, _ = synthetic
    bags = load_bags(shards, ["clip"], "train")
    ones = torch.ones(len(bags), 32)
    targets = DistillTargets(ones * bags.labels[:, None], ones, torch.randn(len(bags), 32, 64))
    cfg = small_config(**{"student.optim.epochs": "1", "student.distill.normal_video_anchors": reading})
    _, _, history, _ = train_student(cfg, bags, targets, torch.device("cpu"), progress=False)
    assert history[0]["anchor_fraction"] == pytest.approx(anchor_fraction)
    assert history[0]["nce_active"] == nce_active


def test_the_readings_page_names_every_key_the_readings_study_changes():
    import yaml
    from workflow_helpers import REPO

    page = (REPO / "docs" / "readings.md").read_text()
    rows = yaml.safe_load((REPO / "config.yaml").read_text())["reproduce"]["studies"]["readings"]["rows"]
    keys = {key.split(".", 1)[1] if key.startswith(("teacher.", "student.")) else key
            for row in rows for key in row.get("set", {})}
    missing = sorted(k for k in keys if k not in page)
    assert not missing, missing


def test_a_student_without_projection_distils_from_its_raw_features(synthetic):
    """projection: none gives the student's InfoNCE head the raw feature width, not model.width."""
    _, shards, _ = synthetic
    bags = load_bags(shards, ["clip"], "train")
    targets = DistillTargets(torch.rand(len(bags), 32), torch.rand(len(bags), 32), torch.randn(len(bags), 32, 64))
    cfg = small_config(**{"student.optim.epochs": "1", "student.model.temporal": "none",
                          "student.model.projection": "none", "student.distill.anchors": "pseudo_labels",
                          "student.distill.delta": "0.5"})
    model, heads, history, _ = train_student(cfg, bags, targets, torch.device("cpu"), progress=False)
    assert model.hidden_width == 32 and heads["g_student"]["net.0.weight"].shape == (512, 32)
    assert history[0]["nce_active"] > 0 and np.isfinite(history[0]["loss"])
