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


def test_zero_padding_and_eq6_divisor_by_hand():
    # zero padding: [0 | 1, 0, 0 | 0]
    np.testing.assert_allclose(moving_average(np.array([1.0, 0, 0]), 3, padding="zero"), [1 / 3, 1 / 3, 0])
    # Eq. 6: 2 epsilon + 1 = 3 taps summed, divided by 2 epsilon = 2
    np.testing.assert_allclose(moving_average(np.array([0, 0, 1, 0, 0.0]), 3, divisor="two_epsilon"),
                               [0, 1 / 2, 1 / 2, 1 / 2, 0])
    np.testing.assert_allclose(moving_average(np.array([0.4, 0.8, 0.0, 0.2, 0.2]), 5, "zero", "two_epsilon"),
                               [1.2 / 4, 1.4 / 4, 1.6 / 4, 1.2 / 4, 0.4 / 4])
    with pytest.raises(ValueError, match=r"odd window >= 3"):
        moving_average(np.zeros(5), 4, divisor="two_epsilon")


def test_min_max_cancels_eq6_divisor_but_without_it_the_labels_differ():
    rng = np.random.default_rng(0)
    s = rng.random(32).astype(np.float32)
    taps, eq6 = PseudoLabelConfig(window=5), PseudoLabelConfig(window=5, divisor="two_epsilon")
    np.testing.assert_allclose(refine(s, 1, eq6), refine(s, 1, taps), atol=1e-6)
    raw_taps = refine(s, 1, PseudoLabelConfig(window=5, min_max=False))
    raw_eq6 = refine(s, 1, PseudoLabelConfig(window=5, min_max=False, divisor="two_epsilon"))
    np.testing.assert_allclose(raw_eq6, np.minimum(raw_taps * 5 / 4, 1.0), rtol=1e-6)  # clipped to [0, 1]
    assert not np.allclose(raw_eq6, raw_taps)
    zero = refine(s, 1, PseudoLabelConfig(window=5, padding="zero"))
    assert not np.allclose(zero, refine(s, 1, taps))
