import numpy as np
import pytest

from dakd.config import PseudoLabelConfig
from dakd.pseudo_labels import min_max, moving_average, read_pseudo_labels, refine, write_pseudo_labels


def test_moving_average_with_edge_padding_by_hand():
    np.testing.assert_allclose(moving_average(np.array([0, 0, 1, 0, 0.0]), 3), [0, 1 / 3, 1 / 3, 1 / 3, 0])
    # edges repeat: [1 | 1, 0, 0 | 0]
    np.testing.assert_allclose(moving_average(np.array([1.0, 0, 0]), 3), [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(moving_average(np.array([0.2, 0.4]), 1), [0.2, 0.4])


def test_refine_switches():
    s = np.array([0, 0, 1, 0, 0], dtype=np.float32)
    cfg = PseudoLabelConfig(window=3)
    np.testing.assert_allclose(refine(s, 1, cfg), [0, 1, 1, 1, 0])
    np.testing.assert_allclose(refine(s, 1, PseudoLabelConfig(window=3, min_max=False)), [0, 1 / 3, 1 / 3, 1 / 3, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(refine(s * 0.5, 1, PseudoLabelConfig(moving_average=False)), [0, 0, 1, 0, 0])
    np.testing.assert_allclose(refine(s * 0.5, 1, PseudoLabelConfig(moving_average=False, min_max=False)), s * 0.5)


def test_normal_videos_get_zeros():
    assert refine(np.array([0.9, 0.8, 0.95]), 0, PseudoLabelConfig()).tolist() == [0, 0, 0]


@pytest.mark.parametrize("value, expected", [(0.7, 1.0), (0.2, 0.0), (0.5, 1.0)])
def test_flat_scores_follow_the_stated_rule(value, expected):
    out = refine(np.full(32, value, dtype=np.float32), 1, PseudoLabelConfig())
    assert not np.isnan(out).any()
    assert out.tolist() == [expected] * 32
    assert min_max(np.full(4, value), flat_threshold=0.5).tolist() == [expected] * 4


def test_file_round_trip_in_requested_order(tmp_path):
    path = tmp_path / "pl.parquet"
    scores = np.array([[0.1, 0.9], [0.2, 0.3]], dtype=np.float32)
    pseudo = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    write_pseudo_labels(path, ["a", "b"], [1, 0], scores, pseudo, {"stage": "test"})
    got_scores, got_pseudo = read_pseudo_labels(path, ["b", "a"])
    np.testing.assert_array_equal(got_scores, scores[::-1])
    np.testing.assert_array_equal(got_pseudo, pseudo[::-1])
    with pytest.raises(ValueError, match="no pseudo-labels for 1 training video"):
        read_pseudo_labels(path, ["a", "zzz"])
