"""Registry of temporal networks (Table 1): the temporal network is a config value.

Every entry is built as ``build_temporal(name, num_streams, cfg)`` and maps the stacked
projected streams (T, B, n, d) to one aggregated sequence (B, n, d). ``tam`` aggregates
the streams inside its attention; every other entry first fuses them early
(concatenate along features, linear back to d) and then runs a single-stream network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..config import AttentionTerms, ConfigError, ModelConfig
from ..registry import Registry
from .attention import attention_block
from .dropout import Dropout
from .mtn import MultiScaleTemporalNetwork

TemporalBuilder = Callable[[int, ModelConfig], nn.Module]
SequenceBuilder = Callable[[ModelConfig], nn.Module]
TEMPORAL_NETWORKS: Registry[TemporalBuilder] = Registry("temporal network", ConfigError)


def register_sequence_network(name: str) -> Callable[[SequenceBuilder], SequenceBuilder]:
    """Register a single-stream network (B, n, d) -> (B, n, d) under ``name``; it runs after
    early fusion of the streams."""

    def wrap(builder: SequenceBuilder) -> SequenceBuilder:
        TEMPORAL_NETWORKS.register(name)(lambda num_streams, cfg: FusedTemporal(num_streams, cfg.width, builder(cfg)))
        return builder

    return wrap


def available_temporal_networks() -> list[str]:
    return TEMPORAL_NETWORKS.names()


class EarlyFusion(nn.Module):
    """(T, B, n, d) -> (B, n, d): concatenation and a linear map (identity for T = 1)."""

    def __init__(self, num_streams: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(num_streams * width, width) if num_streams > 1 else nn.Identity()

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        t, b, n, d = streams.shape
        return self.proj(streams.permute(1, 2, 0, 3).reshape(b, n, t * d))


class FusedTemporal(nn.Module):
    """Early fusion followed by a single-stream temporal network."""

    def __init__(self, num_streams: int, width: int, network: nn.Module) -> None:
        super().__init__()
        self.fusion = EarlyFusion(num_streams, width)
        self.network = network

    def forward(self, streams: torch.Tensor) -> torch.Tensor:
        return self.network(self.fusion(streams))


class SingleStream(nn.Module):
    """Adapts a (T=1, B, n, d) module to (B, n, d) input."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.unsqueeze(0))


class Recurrent(nn.Module):
    """Bidirectional LSTM / GRU / RNN with d/2 units per direction, so the output is d-wide."""

    def __init__(self, cell: type[nn.RNNBase], width: int) -> None:
        super().__init__()
        self.rnn = cell(width, width // 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class TemporalConv(nn.Module):
    """Two temporal convolutions (kernel 3) with a residual connection."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.ReLU(), Dropout(dropout),
            nn.Conv1d(width, width, 3, padding=1),
        )
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.net(x.transpose(1, 2)).transpose(1, 2))


@register_sequence_network("none")
def _none(cfg: ModelConfig) -> nn.Module:
    """No temporal modelling: segments are scored independently (Sultani's MIL baseline, Table 4)."""
    return nn.Identity()


@register_sequence_network("disentangled")
def _disentangled(cfg: ModelConfig) -> nn.Module:
    """Plain DeBERTa-style disentangled attention on the fused stream (no cross term)."""
    terms = AttentionTerms(**{**vars(cfg.terms), "cross_c2c": False})
    return SingleStream(attention_block(1, cfg, terms))


@register_sequence_network("mha")
def _mha(cfg: ModelConfig) -> nn.Module:
    return nn.TransformerEncoderLayer(cfg.width, cfg.heads, cfg.ffn_dim, cfg.dropout, batch_first=True)


@register_sequence_network("lstm")
def _lstm(cfg: ModelConfig) -> nn.Module:
    return Recurrent(nn.LSTM, cfg.width)


@register_sequence_network("gru")
def _gru(cfg: ModelConfig) -> nn.Module:
    return Recurrent(nn.GRU, cfg.width)


@register_sequence_network("rnn")
def _rnn(cfg: ModelConfig) -> nn.Module:
    return Recurrent(nn.RNN, cfg.width)


@register_sequence_network("cnn1d")
def _cnn1d(cfg: ModelConfig) -> nn.Module:
    return TemporalConv(cfg.width, cfg.dropout)


@register_sequence_network("mtn")
def _mtn(cfg: ModelConfig) -> nn.Module:
    return MultiScaleTemporalNetwork(cfg.width)


TEMPORAL_NETWORKS.register("tam")(attention_block)


def build_temporal(name: str, num_streams: int, cfg: ModelConfig) -> nn.Module:
    """Build temporal network ``name`` for ``num_streams`` inputs: (T, B, n, d) -> (B, n, d)."""
    return TEMPORAL_NETWORKS.get(name)(num_streams, cfg)
