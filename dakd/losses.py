"""Training objectives: the MIL ranking loss (stage 1) and bi-level distillation (stage 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _pairwise_mean(hinge: torch.Tensor, smooth: torch.Tensor, sparse: torch.Tensor, lambda_smooth: float,
                   lambda_sparse: float) -> torch.Tensor:
    """The (A, N) hinge averaged over pairs; the (A,) smoothness and sparsity over anomalous bags."""
    return hinge.mean() + lambda_smooth * smooth.mean() + lambda_sparse * sparse.mean()


def _sultani_sum(hinge: torch.Tensor, smooth: torch.Tensor, sparse: torch.Tensor, lambda_smooth: float,
                 lambda_sparse: float) -> torch.Tensor:
    """The hinge summed over anomalous and averaged over normal bags; the regularisers summed."""
    return hinge.sum(dim=0).mean() + lambda_smooth * smooth.sum() + lambda_sparse * sparse.sum()


# mil.reduction -> how the per-pair hinge and per-bag regularisers become one number
MIL_REDUCTIONS = {"pairwise_mean": _pairwise_mean, "sultani": _sultani_sum}


def mil_ranking_loss(anomalous: torch.Tensor, normal: torch.Tensor, lambda_smooth: float = 8e-5,
                     lambda_sparse: float = 8e-5, reduction: str = "pairwise_mean") -> torch.Tensor:
    """Sultani et al.'s MIL ranking loss.

    Per (anomalous a, normal n) pair the hinge is ``max(0, 1 - max_i s^a_i + max_i s^n_i)``;
    per anomalous bag the smoothness is ``sum_i (s^a_i - s^a_{i+1})^2`` and the sparsity
    ``sum_i s^a_i``. ``reduction`` says how they become one number:

    - ``pairwise_mean``: the hinge averaged over all A x N pairs, smoothness and sparsity
      averaged over the A anomalous bags;
    - ``sultani``: as ``custom_objective`` in Sultani's TrainingAnomalyDetector_public.py,
      the hinge summed over anomalous bags and averaged over normal bags, smoothness and
      sparsity summed over anomalous bags: exactly A times ``pairwise_mean``.

    Args:
        anomalous: (A, n) segment scores of anomalous bags.
        normal: (N, n) segment scores of normal bags.
    """
    top_a = anomalous.max(dim=1).values                     # (A,)
    top_n = normal.max(dim=1).values                        # (N,)
    hinge = F.relu(1.0 - top_a[:, None] + top_n[None, :])   # (A, N)
    smooth = (anomalous[:, 1:] - anomalous[:, :-1]).pow(2).sum(dim=1)  # (A,)
    sparse = anomalous.sum(dim=1)                           # (A,)
    return MIL_REDUCTIONS[reduction](hinge, smooth, sparse, lambda_smooth, lambda_sparse)


def bce_distillation_loss(student_scores: torch.Tensor, pseudo_labels: torch.Tensor) -> torch.Tensor:
    """Prediction-level distillation: BCE between student scores and teacher pseudo-labels, (B, n)."""
    return F.binary_cross_entropy(student_scores.clamp(1e-6, 1 - 1e-6), pseudo_labels)


class FeatureProjector(nn.Module):
    """g(h) = W2 relu(W1 h): the one-hidden-layer MLP that embeds h for InfoNCE, (..., d) -> (..., p)."""

    def __init__(self, width: int, hidden: int, out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def can_contrast(anomalous: torch.Tensor) -> bool:
    """Whether the (M,) anchor split holds both anomalous and normal segments, i.e. L_nce exists."""
    return bool(anomalous.any()) and not bool(anomalous.all())


def info_nce_distillation_loss(z_teacher: torch.Tensor, z_student: torch.Tensor,
                               anomalous: torch.Tensor, tau: float) -> torch.Tensor:
    """Feature-level distillation, Eq. 7.

    For each anomalous segment a_i the positive is the student's embedding of the same
    segment and the negatives are the student's normal segments; for each normal segment
    n_i the negatives are the student's anomalous segments. Each of the two terms is
    averaged over its anchors; they are then added. When either set is empty there is
    nothing to contrast and the loss is zero.

    Args:
        z_teacher, z_student: (M, p) embeddings of the same M segments.
        anomalous: (M,) bool, teacher prediction >= delta.
        tau: temperature.
    """
    normal = ~anomalous
    if not can_contrast(anomalous):
        return z_student.sum() * 0.0
    zt = F.normalize(z_teacher, dim=-1)
    zs = F.normalize(z_student, dim=-1)

    def term(anchor: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        positive = (zt[anchor] * zs[anchor]).sum(-1, keepdim=True)      # (m, 1)
        negatives = zt[anchor] @ zs[negative].T                         # (m, N)
        logits = torch.cat([positive, negatives], dim=1) / tau
        return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()

    return term(anomalous, normal) + term(normal, anomalous)


def distillation_loss(student_scores: torch.Tensor, pseudo_labels: torch.Tensor,
                      z_teacher: torch.Tensor | None, z_student: torch.Tensor | None, anomalous: torch.Tensor,
                      alpha: float, tau: float, use_bce: bool = True, use_nce: bool = True,
                      ) -> dict[str, torch.Tensor]:
    """L_d = L_bce + alpha * tau^2 * L_nce (Eq. 8); returns the total and both parts.

    The embeddings may be ``None`` when ``use_nce`` is off.
    """
    zero = student_scores.sum() * 0.0
    bce = bce_distillation_loss(student_scores, pseudo_labels) if use_bce else zero
    nce = info_nce_distillation_loss(z_teacher, z_student, anomalous, tau) if use_nce else zero
    return {"loss": bce + alpha * tau**2 * nce, "bce": bce, "nce": nce}
