"""Models: projection MLPs, temporal networks (TAM and Table 1 alternatives), scoring head."""

from .attention import DisentangledAttention, DisentangledAttentionLayer, relative_bucket
from .detector import AnomalyDetector, DetectorOutput
from .temporal import available_temporal_networks, build_temporal, register_sequence_network

__all__ = [
    "AnomalyDetector",
    "DetectorOutput",
    "DisentangledAttention",
    "DisentangledAttentionLayer",
    "available_temporal_networks",
    "build_temporal",
    "register_sequence_network",
    "relative_bucket",
]
