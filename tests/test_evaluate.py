import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from dakd.annotations import AnnotationError, frame_labels, read_annotations, write_annotations
from dakd.config import EvaluateConfig, ModelConfig
from dakd.evaluate import VideoScores, frame_metrics, score_video, score_videos, snippet_to_frames
from dakd.features import SnippetVideo, VideoMeta
from dakd.models import AnomalyDetector


def _meta(vid="v", snippets=3, last=5, label=1, class_name="Arrest"):
    return VideoMeta(vid, "test", label, class_name, (snippets - 1) * 16 + last, 30.0, 16, 16, snippets, last)


def test_snippet_scores_repeat_over_frames_to_the_covered_length():
    frames = snippet_to_frames(np.array([0.1, 0.5, 0.9], dtype=np.float32), _meta())
    assert frames.shape == (37,)
    assert (frames[:16] == 0.1).all() and (frames[16:32] == 0.5).all() and (frames[32:] == 0.9).all()


def test_frame_labels_from_intervals_cut_to_length():
    labels = frame_labels([(2, 5), (8, 100)], 10)
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 1, 1]


def test_annotation_round_trip(tmp_path):
    write_annotations(tmp_path / "a.parquet", {"x": [(0, 4), (10, 12)], "y": []})
    assert read_annotations(tmp_path / "a.parquet") == {"x": [(0, 4), (10, 12)], "y": []}
    with pytest.raises(AnnotationError, match="invalid interval"):
        write_annotations(tmp_path / "b.parquet", {"x": [(5, 2)]})


def test_metrics_concatenate_frames_and_split_per_class():
    results = [
        VideoScores(_meta("a"), np.zeros(1), np.array([0.1, 0.9, 0.8]), np.array([0, 1, 1], np.uint8)),
        VideoScores(_meta("b", class_name="Abuse"), np.zeros(1), np.array([0.7, 0.2]), np.array([0, 1], np.uint8)),
        VideoScores(_meta("n", label=0, class_name="Normal"), np.zeros(1), np.array([0.3, 0.4]),
                    np.array([0, 0], np.uint8)),
    ]
    m = frame_metrics(results)
    labels = np.array([0, 1, 1, 0, 1, 0, 0])
    scores = np.array([0.1, 0.9, 0.8, 0.7, 0.2, 0.3, 0.4])
    assert m["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["ap"] == pytest.approx(average_precision_score(labels, scores))
    assert m["per_class_auc"] == {"Abuse": 0.0, "Arrest": 1.0}
    assert (m["num_videos"], m["num_frames"], m["num_anomalous_frames"]) == (3, 7, 3)


def _model():
    torch.manual_seed(0)
    return AnomalyDetector({"clip": 4}, ModelConfig(width=8, heads=2, ffn_dim=16, temporal="cnn1d")).eval()


def test_segment_unit_spreads_segment_scores_and_windows_cover_every_snippet():
    video = SnippetVideo(_meta(snippets=70), {"clip": np.random.default_rng(0).standard_normal((70, 4)).astype("f4")})
    model = _model()
    seg = score_video(model, video, EvaluateConfig(unit="segment"), 32, torch.device("cpu"))
    assert seg.shape == (70,)
    windowed = score_video(model, video, EvaluateConfig(max_window=16), 32, torch.device("cpu"))
    full = score_video(model, video, EvaluateConfig(max_window=None), 32, torch.device("cpu"))
    assert windowed.shape == full.shape == (70,)
    # two kernel-3 convolutions see 2 snippets ahead, so the first window agrees up to index 13
    np.testing.assert_allclose(windowed[:14], full[:14], rtol=1e-5)


def test_anomalous_video_without_annotation_is_an_error():
    video = SnippetVideo(_meta("lost"), {"clip": np.zeros((3, 4), np.float32)})
    with pytest.raises(AnnotationError, match="'lost'"):
        score_videos(_model(), [video], {}, EvaluateConfig(), 32, torch.device("cpu"))
