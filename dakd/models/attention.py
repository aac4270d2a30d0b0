"""Disentangled (cross-)attention of the Temporal Aggregation Module (paper Sec. 3.2).

For T input streams Z_t (one per backbone) and relative-position table Z~ (2k, d):

    A~_t[i, j] =  Q^t_i . K^t_j                      self content-to-content
               +  sum_{h != t} Q^t_i . K^h_j         cross content-to-content
               +  Q^t_i . K^r_{gamma(i, j)}           content-to-position
               +  K^t_j . Q^r_{gamma(j, i)}           position-to-content
    H_t = softmax(A~_t / sqrt((T + 2) d_head)) V^t,   H = mean_t H_t

computed per head. With T = 1 the cross term vanishes and the scale is sqrt(3 d_head),
which is exactly the student's single-backbone form.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import AttentionTerms, ModelConfig
from .dropout import Dropout


def relative_bucket(num_positions: int, max_distance: int, device: torch.device | None = None) -> torch.Tensor:
    """gamma(i, j) for all i, j < num_positions, shape (n, n), values in [0, 2k).

    gamma(i, j) = 0 if i - j <= -k;  2k - 1 if i - j >= k;  i - j + k otherwise.
    """
    pos = torch.arange(num_positions, device=device)
    delta = pos[:, None] - pos[None, :]
    return (delta + max_distance).clamp(0, 2 * max_distance - 1)


class DisentangledAttention(nn.Module):
    """Multi-head disentangled attention over ``num_streams`` aligned sequences.

    Input (B, T, n, d) with T = ``num_streams``; output (B, n, d), the mean over streams.
    """

    def __init__(self, num_streams: int, width: int, heads: int, max_distance: int,
                 terms: AttentionTerms, dropout: float = 0.0) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        if not any(vars(terms).values()):
            raise ValueError("at least one attention term must be enabled")
        self.num_streams, self.width, self.heads = num_streams, width, heads
        self.head_dim = width // heads
        self.max_distance = max_distance
        self.terms = terms
        # Per-stream content projections W_{q,c_t}, W_{k,c_t}, W_{v,c_t}, stacked so all
        # streams run in one batched matmul.
        self.qkv_weight = nn.Parameter(torch.empty(num_streams, width, 3 * width))
        self.qkv_bias = nn.Parameter(torch.zeros(num_streams, 3 * width))
        # One relative position table and its projections, shared by every stream.
        self.rel_embedding = nn.Embedding(2 * max_distance, width)
        self.rel_query = nn.Linear(width, width)
        self.rel_key = nn.Linear(width, width)
        self.dropout = Dropout(dropout)
        self.scale = math.sqrt((num_streams + 2) * self.head_dim)
        for t in range(num_streams):
            nn.init.xavier_uniform_(self.qkv_weight[t])

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n, d) -> (..., H, n, d_head)."""
        *lead, n, _ = x.shape
        return x.reshape(*lead, n, self.heads, self.head_dim).transpose(-2, -3)

    def attention_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Scaled sum of the enabled terms; q, k of shape (B, T, H, n, d_head) -> (B, T, H, n, n)."""
        n = q.shape[-2]
        q = q / self.scale
        terms = []
        # self + cross content terms share one product: q . (k_t + sum_{h != t} k_h).
        content_keys = None
        if self.terms.self_c2c:
            content_keys = k
        if self.terms.cross_c2c and self.num_streams > 1:
            others = k.sum(dim=1, keepdim=True) - k
            content_keys = others if content_keys is None else content_keys + others
        if content_keys is not None:
            terms.append(q @ content_keys.transpose(-1, -2))
        if self.terms.c2p or self.terms.p2c:
            bucket = relative_bucket(n, self.max_distance, q.device)
            table = self.rel_embedding.weight
            if self.terms.c2p:
                rel_k = self._split_heads(self.rel_key(table))                  # (H, 2k, dh)
                c2p = torch.einsum("bthnd,hrd->bthnr", q, rel_k)                # (B,T,H,n,2k)
                terms.append(torch.gather(c2p, -1, bucket.expand(*c2p.shape[:-1], n)))
            if self.terms.p2c:
                rel_q = self._split_heads(self.rel_query(table)) / self.scale   # (H, 2k, dh)
                p2c = torch.einsum("bthnd,hrd->bthnr", k, rel_q)                # (B,T,H,n_j,2k)
                # entry [j, i] = K_j . Q^r_{gamma(j, i)}; transpose to index by (i, j).
                terms.append(torch.gather(p2c, -1, bucket.expand(*p2c.shape[:-1], n)).transpose(-1, -2))
        logits = terms[0]
        for term in terms[1:]:
            logits = logits + term
        return logits

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        """streams (B, T, n, d) -> aggregated (B, n, d)."""
        batch, num_streams, n, _ = streams.shape
        if num_streams != self.num_streams:
            raise ValueError(f"expected {self.num_streams} streams, got {num_streams}")
        # (T, B*n, d) @ (T, d, 3d) + bias: one batched matmul for every stream's Q, K, V.
        flat = streams.transpose(0, 1).reshape(num_streams, batch * n, self.width)
        qkv = torch.baddbmm(self.qkv_bias[:, None, :], flat, self.qkv_weight)
        qkv = qkv.view(num_streams, batch, n, 3, self.heads, self.head_dim).permute(3, 1, 0, 4, 2, 5)
        q, k, v = qkv.unbind(0)                                             # (B,T,H,n,dh)
        weights = self.dropout(torch.softmax(self.attention_logits(q, k), dim=-1))
        out = (weights @ v).mean(dim=1)                                     # (B,H,n,dh)
        return out.transpose(1, 2).reshape(batch, n, self.width)


class DisentangledAttentionLayer(nn.Module):
    """One TAM layer: disentangled attention, output projection and a feed-forward block.

    Post-norm residual layout as in DeBERTa; the residual of the attention block is the
    mean of the input streams. Input (B, T, n, d), output (B, n, d).
    """

    def __init__(self, num_streams: int, cfg: ModelConfig, terms: AttentionTerms | None = None) -> None:
        super().__init__()
        self.attention = DisentangledAttention(
            num_streams, cfg.width, cfg.heads, cfg.max_relative_distance,
            terms or cfg.terms, cfg.dropout,
        )
        self.out_proj = nn.Linear(cfg.width, cfg.width)
        self.norm1 = nn.LayerNorm(cfg.width)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.width, cfg.ffn_dim), nn.GELU(), Dropout(cfg.dropout),
            nn.Linear(cfg.ffn_dim, cfg.width),
        )
        self.norm2 = nn.LayerNorm(cfg.width)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        h = self.norm1(streams.mean(dim=1) + self.dropout(self.out_proj(self.attention(streams))))
        return self.norm2(h + self.dropout(self.ffn(h)))
