import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from dakd.annotations import (
    AnnotationError,
    frame_labels,
    read_annotation_table,
    read_annotations,
    write_annotations,
)
from dakd.config import EvaluateConfig, ModelConfig
from dakd.evaluate import (
    VideoScores,
    frame_metrics,
    match_annotations,
    read_scores,
    score_video,
    score_videos,
    snippet_to_frames,
    write_scores,
)
from dakd.features import SnippetVideo, VideoMeta
from dakd.models import AnomalyDetector


def _meta(vid="v", snippets=3, last=5, label=1, class_name="Arrest"):
    return VideoMeta(vid, "test", label, class_name, (snippets - 1) * 16 + last, 30.0, 16, 16, snippets, last)


def test_snippet_scores_repeat_over_frames_to_the_covered_length():
    frames = snippet_to_frames(np.array([0.1, 0.5, 0.9], dtype=np.float32), _meta())
    assert frames.shape == (37,)
    assert (frames[:16] == 0.1).all() and (frames[16:32] == 0.5).all() and (frames[32:] == 0.9).all()


def test_the_scores_file_gives_back_the_frames_evaluation_scored(tmp_path):
    results = []
    for meta, scores in ((_meta("a", 3, 5), [0.1, 0.5, 0.9]), (_meta("b", 2, 16, 0, "Normal"), [0.2, 0.3])):
        snippets = np.array(scores, dtype=np.float32)
        results.append(VideoScores(meta, snippets, snippet_to_frames(snippets, meta),
                                   frame_labels([(3, 20)] if meta.label else [], meta.covered_frames)))
    write_scores(tmp_path / "s.parquet", results)
    stored = read_scores(tmp_path / "s.parquet")
    assert [(v.video_id, v.label, v.class_name) for v in stored] == [("a", 1, "Arrest"), ("b", 0, "Normal")]
    for video, result in zip(stored, results):
        np.testing.assert_array_equal(video.frame_scores, result.frame_scores)
        np.testing.assert_array_equal(video.frame_labels, result.frame_labels)


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
    within = m["anomalous_video_auc"]
    assert within["per_class"] == {"Abuse": 0.0, "Arrest": 1.0}
    assert within["all"] == pytest.approx(roc_auc_score([0, 1, 1, 0, 1], [0.1, 0.9, 0.8, 0.7, 0.2]))
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


def _video(vid="v", snippets=3, last=5, label=1):
    return SnippetVideo(_meta(vid, snippets, last, label, "Arrest" if label else "Normal"),
                        {"clip": np.zeros((snippets, 4), np.float32)})


def test_annotations_that_do_not_fit_the_video_are_errors_naming_it(tmp_path):
    video = _video("v")  # 37 decoded frames
    assert match_annotations([video], {"v": ([(30, 39)], None)}, "a.parquet") == {"v": [(30, 39)]}  # cut: 2 past
    cases = [
        ({"v": ([(40, 60)], None)}, r"'v' has an anomalous interval \[40, 60\) beyond its end \(37 decoded"),
        ({"v": ([(10, 60)], None)}, r"\[10, 60\) beyond its end"),  # more than a snippet past the end
        ({"v": ([(2, 5)], 40)}, "'v' has frame labels for 40 frames but 37 decoded frames"),
        ({"v": ([], None)}, "anomalous test video 'v' has no anomalous frame"),
        ({}, "no frame annotation for anomalous test video 'v'"),
    ]
    for table, message in cases:
        with pytest.raises(AnnotationError, match=message):
            match_annotations([video], table, "a.parquet")
    with pytest.raises(AnnotationError, match="normal test video 'n' has anomalous frames"):
        match_annotations([_video("n", label=0)], {"n": ([(0, 3)], None)}, "a.parquet")
    assert match_annotations([_video("n", label=0)], {}, "a.parquet") == {"n": []}


def test_annotation_table_keeps_labelled_frame_counts(tmp_path):
    write_annotations(tmp_path / "a.parquet", {"x": [(0, 4)], "y": []}, num_frames={"x": 37})
    assert read_annotation_table(tmp_path / "a.parquet") == {"x": ([(0, 4)], 37), "y": ([], None)}
    with pytest.raises(AnnotationError, match="beyond its 37 labelled frames"):
        write_annotations(tmp_path / "b.parquet", {"x": [(30, 38)]}, num_frames={"x": 37})
    (tmp_path / "c.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(AnnotationError, match="c.parquet: not a readable annotation Parquet file"):
        read_annotation_table(tmp_path / "c.parquet")


@pytest.mark.parametrize("unit", ["snippet", "segment"])
def test_a_video_with_a_crop_axis_is_scored_crop_by_crop_and_the_scores_averaged(unit):
    """features.crop: per_crop_bags keeps the crops at test time: each crop is scored as its
    own sequence and the crops' snippet scores are averaged (UR-DMU's ucf_test.py)."""
    crops = np.random.default_rng(0).standard_normal((40, 3, 4)).astype("f4")
    model, cfg, cpu = _model(), EvaluateConfig(unit=unit, max_window=16), torch.device("cpu")
    together = score_video(model, SnippetVideo(_meta(snippets=40), {"clip": crops}), cfg, 8, cpu)
    each = [score_video(model, SnippetVideo(_meta(snippets=40), {"clip": np.ascontiguousarray(crops[:, c])}),
                        cfg, 8, cpu) for c in range(3)]
    assert together.shape == (40,)
    np.testing.assert_allclose(together, np.mean(each, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(each[0], each[1])
