import math

import pytest
import torch

from dakd.losses import bce_distillation_loss, distillation_loss, info_nce_distillation_loss, mil_ranking_loss


def test_mil_ranking_loss_by_hand():
    a = torch.tensor([[0.2, 0.8, 0.4], [0.6, 0.6, 0.6]])
    n = torch.tensor([[0.1, 0.3, 0.2], [0.5, 0.0, 0.1]])
    # hinge over all pairs: (1-.8+.3) + (1-.8+.5) + (1-.6+.3) + (1-.6+.5) = 2.8, mean 0.7
    # smoothness: (.2-.8)^2 + (.8-.4)^2 = .52 and 0 -> mean .26; sparsity 1.4 and 1.8 -> mean 1.6
    expected = 0.7 + 0.1 * 0.26 + 0.1 * 1.6
    assert mil_ranking_loss(a, n, 0.1, 0.1).item() == pytest.approx(expected, rel=1e-6)


def test_mil_hinge_is_clipped_at_zero():
    a, n = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.5, 0.0]])
    assert mil_ranking_loss(a, n, 0.0, 0.0).item() == 0.0


def test_mil_gradient_raises_anomalous_max_and_lowers_normal_max():
    a = torch.tensor([[0.2, 0.5, 0.1]], requires_grad=True)
    n = torch.tensor([[0.3, 0.4, 0.1]], requires_grad=True)
    mil_ranking_loss(a, n, 0.0, 0.0).backward()
    assert a.grad.tolist() == [[0.0, -1.0, 0.0]] and n.grad.tolist() == [[0.0, 1.0, 0.0]]


def test_bce_by_hand():
    s, y = torch.tensor([[0.8, 0.3]]), torch.tensor([[1.0, 0.5]])
    expected = -(math.log(0.8) + 0.5 * math.log(0.3) + 0.5 * math.log(0.7)) / 2
    assert bce_distillation_loss(s, y).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_by_hand():
    zt = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    zs = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    anomalous = torch.tensor([True, False, False])
    tau, r = 0.5, 1 / math.sqrt(2)
    # anchor a0: positive sim 1, negatives sim(t0,s1)=r, sim(t0,s2)=0
    term_a = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(r / tau) + 1.0))
    # anchors n1, n2 with the one negative s0: n1 pos r, neg 0; n2 pos r, neg r
    term_n1 = -math.log(math.exp(r / tau) / (math.exp(r / tau) + 1.0))
    term_n2 = math.log(2.0)
    expected = term_a + (term_n1 + term_n2) / 2
    assert info_nce_distillation_loss(zt, zs, anomalous, tau).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_without_one_of_the_sets_is_zero_with_a_graph():
    zs = torch.randn(4, 3, requires_grad=True)
    loss = info_nce_distillation_loss(torch.randn(4, 3), zs, torch.zeros(4, dtype=torch.bool), 0.1)
    assert loss.item() == 0.0
    loss.backward()


def test_distillation_weights_nce_by_alpha_tau_squared():
    torch.manual_seed(0)
    s, y = torch.rand(2, 4), torch.rand(2, 4)
    zt, zs = torch.randn(8, 5), torch.randn(8, 5)
    mask = torch.tensor([True, False] * 4)
    parts = distillation_loss(s, y, zt, zs, mask, alpha=7.5, tau=2.0)
    assert parts["loss"].item() == pytest.approx(parts["bce"].item() + 7.5 * 4.0 * parts["nce"].item(), rel=1e-6)
    only_bce = distillation_loss(s, y, zt, zs, mask, alpha=7.5, tau=2.0, use_nce=False)
    assert only_bce["loss"].item() == pytest.approx(parts["bce"].item())
    only_nce = distillation_loss(s, y, zt, zs, mask, alpha=7.5, tau=2.0, use_bce=False)
    assert only_nce["loss"].item() == pytest.approx(30.0 * parts["nce"].item(), rel=1e-6)


def test_mil_sultani_reduction_by_hand():
    a = torch.tensor([[0.2, 0.8, 0.4], [0.6, 0.6, 0.6]])
    n = torch.tensor([[0.1, 0.3, 0.2], [0.5, 0.0, 0.1]])
    # per normal bag, the hinge summed over anomalous bags: (.5 + .7) and (.7 + .9), mean 1.4;
    # smoothness .52 + 0 and sparsity 1.4 + 1.8 summed over anomalous bags
    expected = 1.4 + 0.1 * 0.52 + 0.1 * 3.2
    assert mil_ranking_loss(a, n, 0.1, 0.1, "sultani").item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(2 * mil_ranking_loss(a, n, 0.1, 0.1).item(), rel=1e-6)  # A = 2 times


def _sultani_custom_objective(anomalous, normal, lam=0.00008):
    """``custom_objective`` of Sultani's TrainingAnomalyDetector_public.py, restated in numpy
    from its Theano loop: per normal video ii, sum over abnormal videos of
    max(1 - max(abnormal) + max(normal_ii), 0), averaged over ii; plus lam * the summed
    scores and lam * the summed squared neighbour differences of the abnormal videos."""
    import numpy as np

    anomalous, normal = anomalous.numpy().astype(np.float64), normal.numpy().astype(np.float64)
    sub_abn, sub_nor = anomalous.max(axis=1), normal.max(axis=1)
    z = [np.maximum(1 - sub_abn + sub_nor[ii], 0).sum() for ii in range(len(normal))]
    l1 = sum(video.sum() for video in anomalous)
    l2 = 0.0
    for video in anomalous:
        ones = np.ones_like(video)
        z2, z3 = np.concatenate([ones, video]), np.concatenate([video, ones])
        diff = (z2[len(video) - 1:] - z3[: len(video) + 1])[1:len(video)]  # s_i - s_{i+1}, 31 of them
        l2 += (diff ** 2).sum()
    return np.mean(z) + lam * l1 + lam * l2


def test_mil_sultani_reduction_is_his_custom_objective_and_30_times_the_pairwise_mean():
    torch.manual_seed(0)
    a, n = torch.rand(30, 32), torch.rand(30, 32) * 0.8
    sultani = mil_ranking_loss(a, n, reduction="sultani").item()
    assert sultani == pytest.approx(_sultani_custom_objective(a, n), rel=1e-5)
    assert sultani == pytest.approx(30 * mil_ranking_loss(a, n).item(), rel=1e-5)


def test_under_adagrad_the_mil_reduction_matters_only_through_weight_decay():
    """Adagrad divides each gradient by the root of its summed squares, so a constant factor
    on the loss cancels; weight decay, added to the gradient unscaled, does not."""
    torch.manual_seed(0)
    features, segments = torch.randn(8, 16, 5), torch.tensor([1] * 4 + [0] * 4)

    def train(reduction: str, weight_decay: float) -> torch.Tensor:
        torch.manual_seed(1)
        head = torch.nn.Linear(5, 1)
        optimizer = torch.optim.Adagrad(head.parameters(), lr=0.1, weight_decay=weight_decay)
        for _ in range(5):
            scores = torch.sigmoid(head(features).squeeze(-1))
            loss = mil_ranking_loss(scores[segments == 1], scores[segments == 0], reduction=reduction)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return head.weight.detach().clone()

    torch.testing.assert_close(train("sultani", 0.0), train("pairwise_mean", 0.0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(train("sultani", 0.5), train("pairwise_mean", 0.5), rtol=1e-3, atol=1e-4)
