"""Disentangled (cross-)attention of the Temporal Aggregation Module (paper Sec. 3.2).

For T input streams Z_t (one per backbone) and relative-position table Z~ (2k, d):

    A~_t[i, j] =  Q^t_i . K^t_j                      self content-to-content
               +  sum_{h != t} Q^t_i . K^h_j         cross content-to-content
               +  Q^t_i . K^r_{gamma(i, j)}           content-to-position
               +  K^t_j . Q^r_{gamma(j, i)}           position-to-content
    H_t = softmax(A~_t / sqrt((T + 2) d_head)) V^t,   H = mean_t H_t

computed per head. With T = 1 the cross term vanishes and the scale is sqrt(3 d_head),
which is exactly the student's single-backbone form. Readings of what the paper leaves
open (docs/readings.md): the content and position projections carry biases unless
``bias=False`` (Eqs. 2-3 have none), and ``scale_dim="width"`` puts the model width
instead of the head dimension into the scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..config import AttentionTerms, ModelConfig
from .dropout import Dropout

# model.attention_scale -> the d in sqrt((T + 2) d), from (head dimension, width)
SCALE_DIMS: dict[str, Callable[[int, int], int]] = {"head_dim": lambda head_dim, width: head_dim,
                                                    "width": lambda head_dim, width: width}


def relative_bucket(num_positions: int, max_distance: int, device: torch.device | None = None) -> torch.Tensor:
    """gamma(i, j) for all i, j < num_positions, shape (n, n), values in [0, 2k).

    gamma(i, j) = 0 if i - j <= -k;  2k - 1 if i - j >= k;  i - j + k otherwise.
    """
    pos = torch.arange(num_positions, device=device)
    delta = pos[:, None] - pos[None, :]
    return (delta + max_distance).clamp(0, 2 * max_distance - 1)


class DisentangledAttention(nn.Module):
    """Multi-head disentangled attention over ``num_streams`` aligned sequences.

    Input (T, B, n, d) with T = ``num_streams``; output (B, n, d), the mean over streams.
    """

    def __init__(self, num_streams: int, width: int, heads: int, max_distance: int,
                 terms: AttentionTerms, dropout: float = 0.0, bias: bool = True, scale_dim: str = "head_dim") -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        if not (terms.self_c2c or terms.c2p or terms.p2c or (terms.cross_c2c and num_streams > 1)):
            raise ValueError("at least one attention term must be enabled (a single stream has no cross term)")
        self.num_streams, self.width, self.heads = num_streams, width, heads
        self.head_dim = width // heads
        self.max_distance = max_distance
        self.terms = terms
        # Per-stream content projections W_{q,c_t}, W_{k,c_t}, W_{v,c_t}, one (d, 3d) block each.
        self.qkv_weight = nn.Parameter(torch.empty(num_streams, width, 3 * width))
        self.qkv_bias = nn.Parameter(torch.zeros(num_streams, 3 * width)) if bias else None
        # One relative position table and its projections, shared by every stream.
        self.rel_embedding = nn.Embedding(2 * max_distance, width)
        self.rel_query = nn.Linear(width, width, bias=bias)
        self.rel_key = nn.Linear(width, width, bias=bias)
        self.dropout = Dropout(dropout)
        self.scale = math.sqrt((num_streams + 2) * SCALE_DIMS[scale_dim](self.head_dim, width))
        for t in range(num_streams):
            nn.init.xavier_uniform_(self.qkv_weight[t])

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(m, d) -> (H, m, d_head)."""
        return x.view(-1, self.heads, self.head_dim).transpose(0, 1)

    def _position_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
        """Scaled c2p + p2c terms, (H, B, T, n, n); ``None`` when both are off.

        q, k: (H, B, T, n, d_head). The relative tables are divided by the scale here, where
        they are (2k, d) small, instead of the (H, B, T, n, n) logits.
        """
        if not (self.terms.c2p or self.terms.p2c):
            return None
        heads, batch, streams, n, dh = q.shape
        bucket = relative_bucket(n, self.max_distance, q.device).expand(heads, batch, streams, n, n)
        table = self.rel_embedding.weight
        position = None
        if self.terms.c2p:
            rel_k = self._split_heads(self.rel_key(table)) / self.scale                  # (H, 2k, dh)
            c2p = (q.view(heads, -1, dh) @ rel_k.transpose(1, 2)).view(heads, batch, streams, n, -1)
            position = torch.gather(c2p, -1, bucket)                                   # [i, j]
        if self.terms.p2c:
            rel_q = self._split_heads(self.rel_query(table)) / self.scale
            p2c = (k.view(heads, -1, dh) @ rel_q.transpose(1, 2)).view(heads, batch, streams, n, -1)
            # entry [j, i] = K_j . Q^r_{gamma(j, i)}; transpose to index by (i, j).
            p2c = torch.gather(p2c, -1, bucket).transpose(-1, -2)
            position = p2c if position is None else position + p2c
        return position

    def _content_keys(self, k: torch.Tensor) -> torch.Tensor | None:
        """Keys of the enabled content terms, q_t . (k_t + sum_{h != t} k_h) folded into one
        product: (H, B, T, n, d_head), or (H, B, 1, n, d_head) when self and cross are both on
        (every stream then attends to the same sum of keys); ``None`` when both are off."""
        cross = self.terms.cross_c2c and self.num_streams > 1
        if self.terms.self_c2c and cross:
            return k.sum(dim=2, keepdim=True)
        if cross:
            return k.sum(dim=2, keepdim=True) - k
        return k if self.terms.self_c2c else None

    def attention_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Scaled sum of the enabled terms; q, k of shape (H, B, T, n, d_head) -> (H, B, T, n, n)."""
        heads, batch, streams, n, dh = q.shape
        position = self._position_logits(q, k)
        keys = self._content_keys(k)
        if keys is None:
            return position
        # Batch over (H, B) with the streams' queries stacked when the keys are shared,
        # over (H, B, T) otherwise; the scale and the position terms ride in the GEMM.
        groups = heads * batch * keys.shape[2]
        queries = q.reshape(groups, -1, dh)
        base = q.new_zeros(()) if position is None else position.reshape(groups, -1, n)
        logits = torch.baddbmm(base, queries, keys.reshape(groups, n, dh).transpose(1, 2), alpha=1 / self.scale)
        return logits.view(heads, batch, streams, n, n)

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        """streams (T, B, n, d) -> aggregated (B, n, d)."""
        num_streams, batch, n, _ = streams.shape
        if num_streams != self.num_streams:
            raise ValueError(f"expected {self.num_streams} streams, got {num_streams}")
        flat = streams.reshape(num_streams, batch * n, self.width).unbind(0)
        # One GEMM per stream (on the CPU this beats one batched baddbmm; BENCHMARKS.md); each output is
        # viewed as (3, H, B, n, dh) and the stack writes q, k, v head-major in one copy.
        biases = [None] * num_streams if self.qkv_bias is None else self.qkv_bias.unbind(0)
        qkv = torch.stack([
            (x @ weight if bias is None else torch.addmm(bias, x, weight))
            .view(batch, n, 3, self.heads, self.head_dim).permute(2, 3, 0, 1, 4)
            for x, weight, bias in zip(flat, self.qkv_weight.unbind(0), biases)
        ], dim=3)
        q, k, v = qkv.unbind(0)                                            # (H, B, T, n, dh)
        weights = self.dropout(torch.softmax(self.attention_logits(q, k), dim=-1))
        out = (weights @ v).mean(dim=2)                                    # (H, B, n, dh)
        return out.permute(1, 2, 0, 3).reshape(batch, n, self.width)


def disentangled_attention(num_streams: int, cfg: ModelConfig, terms: AttentionTerms | None = None,
                           ) -> DisentangledAttention:
    """The attention of ``cfg`` (widths, k, bias and scale readings); ``terms`` overrides cfg.terms."""
    return DisentangledAttention(num_streams, cfg.width, cfg.heads, cfg.max_relative_distance, terms or cfg.terms,
                                 cfg.dropout, bias=cfg.attention_bias, scale_dim=cfg.attention_scale)


def attention_block(num_streams: int, cfg: ModelConfig, terms: AttentionTerms | None = None) -> nn.Module:
    """(T, B, n, d) -> (B, n, d) as ``cfg.layer`` reads the paper's "one hidden layer":
    the full :class:`DisentangledAttentionLayer` (``residual_ffn``) or the attention output
    H alone (``bare``)."""
    if cfg.layer == "bare":
        return disentangled_attention(num_streams, cfg, terms)
    return DisentangledAttentionLayer(num_streams, cfg, terms)


class DisentangledAttentionLayer(nn.Module):
    """One TAM layer: disentangled attention, output projection and a feed-forward block.

    Post-norm residual layout as in DeBERTa; the residual of the attention block is the
    mean of the input streams. Input (T, B, n, d), output (B, n, d).
    """

    def __init__(self, num_streams: int, cfg: ModelConfig, terms: AttentionTerms | None = None) -> None:
        super().__init__()
        self.attention = disentangled_attention(num_streams, cfg, terms)
        self.out_proj = nn.Linear(cfg.width, cfg.width)
        self.norm1 = nn.LayerNorm(cfg.width)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.width, cfg.ffn_dim), nn.GELU(), Dropout(cfg.dropout),
            nn.Linear(cfg.ffn_dim, cfg.width),
        )
        self.norm2 = nn.LayerNorm(cfg.width)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        h = self.norm1(streams.mean(dim=0) + self.dropout(self.out_proj(self.attention(streams))))
        return self.norm2(h + self.dropout(self.ffn(h)))
