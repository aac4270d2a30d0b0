"""The sections of the learning stages: model, optimisation, MIL, pseudo-labels, distillation."""

from __future__ import annotations

from dataclasses import field

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from .base import Float, Int, config_dataclass
from .choices import (
    AnchorSource,
    AttentionLayer,
    AttentionScale,
    InputProjection,
    InputScale,
    MILReduction,
    NormalVideoAnchors,
    ScoringHeadLayout,
    TemporalNetwork,
    TrainPrecision,
    WindowDivisor,
    WindowPadding,
)
from .messages import Bad, show


@config_dataclass
class AttentionTerms:
    """The four logit terms of the disentangled attention (Table 5 switches them)."""

    self_c2c: StrictBool = True
    cross_c2c: StrictBool = True
    c2p: StrictBool = True
    p2c: StrictBool = True


@config_dataclass
class ModelConfig:
    """Projection MLPs + temporal network + scoring head."""

    temporal: TemporalNetwork = "tam"
    width: Int = Field(default=512, ge=1)
    heads: Int = Field(default=8, ge=1)
    ffn_dim: Int = Field(default=1024, ge=1)
    max_relative_distance: Int = Field(default=25, ge=1)
    terms: AttentionTerms = field(default_factory=AttentionTerms)
    dropout: Float = Field(default=0.1, ge=0, lt=1)
    head_dropout: Float = Field(default=0.6, ge=0, lt=1)
    # What surrounds the disentangled attention of tam / disentangled: an output projection,
    # a residual from the streams' mean, post-LayerNorm and a GELU feed-forward of ffn_dim
    # (residual_ffn), or nothing: the attention output H goes straight to the head (bare).
    layer: AttentionLayer = "residual_ffn"
    # Biases in the content (W_q, W_k, W_v) and relative-position (W_{q,r}, W_{k,r}) projections;
    # Eqs. 2-3 have none.
    attention_bias: StrictBool = True
    # d in Eq. 5's sqrt((T + 2) d): the per-head dimension (DeBERTa) or the model width.
    attention_scale: AttentionScale = "head_dim"
    # Features as they are (raw), or each dimension standardised with the mean and std of the
    # training segments (standardize; the statistics are part of the checkpoint).
    input_scale: InputScale = "raw"
    # Per-backbone projection MLPs d_t -> width -> width (mlp), or none: the features,
    # concatenated, go straight to the head (Sultani's detector; needs temporal: none).
    projection: InputProjection = "mlp"
    # Scoring head d -> 512 -> 32 -> 1: ReLU after both hidden layers (relu), or after the
    # first only, as in Sultani et al.'s paper and code (sultani).
    head: ScoringHeadLayout = "relu"

    @field_validator("heads")
    @classmethod
    def _heads_divide_width(cls, heads: int, info: ValidationInfo) -> int:
        width = info.data.get("width")
        if width is not None and width % heads:
            raise Bad(f"must divide width ({width}) evenly, got {heads}")
        return heads

    @field_validator("projection")
    @classmethod
    def _raw_features_skip_the_temporal_network(cls, projection: str, info: ValidationInfo) -> str:
        temporal = info.data.get("temporal")
        if projection == "none" and temporal not in (None, "none"):
            raise Bad(f"none (features straight into the head) needs temporal: none, got temporal {temporal!r}")
        return projection


@config_dataclass
class OptimConfig:
    """A stage's training loop: Adagrad with one learning rate for the temporal network and
    one for the rest, balanced batches, and the precision of the forward matmuls."""

    epochs: Int = Field(default=100, ge=1)
    # At least this many optimizer steps in all: where epochs passes over the training videos
    # give fewer (a training set that one batch holds is one step per epoch), each epoch gets
    # more balanced batches. 0: an epoch is one pass, as the paper counts (docs/readings.md).
    min_steps: Int = Field(default=0, ge=0)
    lr_temporal: Float = Field(default=1e-4, gt=0)
    lr_other: Float = Field(default=1e-3, gt=0)
    weight_decay: Float = Field(default=1e-3, ge=0)
    normal_per_batch: Int = Field(default=30, ge=1)
    anomalous_per_batch: Int = Field(default=30, ge=1)
    # fp32, or bf16: matmuls in bfloat16 under torch.autocast, while weights, optimizer
    # state and losses stay float32 (faster on a CPU with AVX512-BF16, slower on one without; BENCHMARKS.md).
    precision: TrainPrecision = "fp32"


@config_dataclass
class MILConfig:
    """Sultani et al.'s MIL ranking loss weights."""

    lambda_smooth: Float = Field(default=8e-5, ge=0)
    lambda_sparse: Float = Field(default=8e-5, ge=0)
    # pairwise_mean: hinge averaged over all (anomalous, normal) pairs, regularisers averaged
    # over anomalous bags; sultani: his code's sum over anomalous bags (hinge averaged over
    # normal bags), i.e. the same loss times the number of anomalous bags per batch.
    reduction: MILReduction = "pairwise_mean"


@config_dataclass
class TeacherConfig:
    backbones: list[str] = field(default_factory=lambda: ["i3d", "s3d", "clip"])
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mil: MILConfig = field(default_factory=MILConfig)

    @field_validator("backbones")
    @classmethod
    def _distinct_backbones(cls, backbones: list[str]) -> list[str]:
        if not backbones or len(set(backbones)) != len(backbones) or not all(backbones):
            raise Bad(f"must be a non-empty list of distinct backbone names, got {show(backbones)}")
        return backbones


@config_dataclass
class PseudoLabelConfig:
    """Refinement of teacher scores into student targets (Eq. 6)."""

    moving_average: StrictBool = True
    # Taps of the centred moving-average kernel (the text's "kernel of size epsilon"; Eq. 6's
    # kernel has 2 epsilon + 1 taps).
    window: Int = Field(default=5, ge=1)
    min_max: StrictBool = True
    # A video whose smoothed scores are all equal cannot be min-max normalised: it gets
    # all ones when that flat score is >= this threshold, all zeros otherwise.
    flat_threshold: Float = Field(default=0.5, ge=0, le=1)
    # The moving sum divided by the tap count (a mean), or by 2 epsilon = taps - 1 as Eq. 6
    # prints it (needs an odd window >= 3; min-max normalisation cancels it).
    divisor: WindowDivisor = "taps"
    # Scores beyond a video's ends: its first/last score repeated (edge), or zeros (zero).
    padding: WindowPadding = "edge"

    @field_validator("divisor")
    @classmethod
    def _two_epsilon_needs_an_odd_window(cls, divisor: str, info: ValidationInfo) -> str:
        window = info.data.get("window")
        if divisor == "two_epsilon" and window is not None and (window < 3 or window % 2 == 0):
            raise Bad(f"two_epsilon needs an odd window >= 3 (2 epsilon + 1 taps), got window {window}")
        return divisor


@config_dataclass
class DistillConfig:
    """Bi-level distillation: L_d = L_bce + alpha * tau^2 * L_nce (Eq. 8)."""

    use_bce: StrictBool = True
    use_nce: StrictBool = True
    alpha: Float = Field(default=7.5, ge=0)
    tau: Float = Field(default=1.0, gt=0)
    delta: Float = Field(default=0.9, ge=0, le=1)
    # What is thresholded at delta to split InfoNCE anchors: the teacher's raw scores (the
    # paper's "Teacher's predictions") or the refined pseudo-labels (min-max puts every
    # anomalous video's top segments at 1, so anchors exist even for a timid teacher).
    anchors: AnchorSource = "teacher_scores"
    # Segments of normal training videos: anchors by the same threshold as any segment
    # (thresholded), or always normal anchors (normal).
    normal_video_anchors: NormalVideoAnchors = "thresholded"
    projection_hidden: Int = Field(default=512, ge=1)
    projection_dim: Int = Field(default=128, ge=1)


def _student_model() -> ModelConfig:
    return ModelConfig(terms=AttentionTerms(cross_c2c=False))


@config_dataclass
class StudentConfig:
    backbone: str = "clip"
    model: ModelConfig = field(default_factory=_student_model)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    @field_validator("backbone")
    @classmethod
    def _named(cls, backbone: str) -> str:
        if not backbone:
            raise Bad("must name a backbone, got ''")
        return backbone


