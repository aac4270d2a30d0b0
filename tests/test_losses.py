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
