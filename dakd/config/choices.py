"""The enumerated values of the configuration.

The registries these mirror (temporal networks, backbones, dataset adapters, feature label
rules) live in torch-heavy modules; tests/test_config.py checks that the lists are equal.
"""

from __future__ import annotations

import re
from typing import Literal

TemporalNetwork = Literal["tam", "disentangled", "mha", "lstm", "gru", "rnn", "cnn1d", "mtn", "none"]
BackboneArch = Literal["inception_i3d", "i3d_r50", "s3d", "open_clip"]
TrainPrecision = Literal["fp32", "bf16"]
ExtractPrecision = Literal["auto", "fp32", "bf16"]
Crops = Literal["center", "five", "ten"]
Decoder = Literal["decord", "pyav", "torchcodec"]
DecodeDevice = Literal["cpu", "cuda"]
FrameSampling = Literal["all", "middle", "first"]  # or a whole number k of frames (BackboneConfig)
EvaluateUnit = Literal["snippet", "segment"]
EvaluateMetric = Literal["auc", "ap"]
AnchorSource = Literal["teacher_scores", "pseudo_labels"]
# Readings of points the paper leaves open (docs/readings.md); the first value is dakd's default.
AttentionLayer = Literal["residual_ffn", "bare"]
AttentionScale = Literal["head_dim", "width"]
InputProjection = Literal["mlp", "none"]
InputScale = Literal["raw", "standardize"]
ScoringHeadLayout = Literal["relu", "sultani"]
MILReduction = Literal["pairwise_mean", "sultani"]
WindowDivisor = Literal["taps", "two_epsilon"]
WindowPadding = Literal["edge", "zero"]
NormalVideoAnchors = Literal["thresholded", "normal"]
CROP_READINGS = ("mean", "per_crop_bags")  # features.crop besides a crop index
DatasetKind = Literal["demo", "ucf_crime", "shanghaitech", "xd_violence", "features"]
FeatureNaming = Literal["ucf_crime", "shanghaitech", "xd_violence"]
FeatureLayout = Literal["auto", "rtfm", "per_crop", "center"]
FeatureCrops = Literal["listed", "all"]  # the crop files a list names, or every crop file on disk

CROPS_PER_MODE = {"center": 1, "five": 5, "ten": 10}
IMAGE_BACKBONES = ("open_clip",)  # backbones that embed single frames (frames_per_snippet applies)
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
# Top-level keys of config.yaml that belong to the workflow, not to a stage's DakdConfig.
WORKFLOW_KEYS = ("datasets", "reproduce")


ScoreModel = Literal["student", "teacher"]
