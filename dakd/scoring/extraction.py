"""Rebuilding, for a trained model, exactly the extraction that made its training features.

A checkpoint records the extraction of the shards it was trained on (``extraction``,
made by :func:`dakd.features.record.extraction_record` at training time: the stage that wrote them, the extract
config, the seed of random weights and every backbone's
:class:`~dakd.features.BackboneInfo`). Scoring builds the backbones the model
needs from a requested extract config (the recorded one unless the user gives a config)
and compares what it built with the record: backbone architecture, weights,
preprocessing, crops, snippet length and stride, and decode size. Any difference stops
with one line naming both values, since features made another way give scores that mean
nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ..backbones import Backbone, num_crops
from ..checkpoints import CheckpointError, plain
from ..config import ConfigError, ExtractConfig, section_from_dict
from ..errors import DakdError
from ..extract import build_backbones
from ..runtime import Precision
from ..video import FRAMES

# Decoding settings that change the features (the rest only change speed).
DECODE_KEYS = ("snippet_len", "snippet_stride", "decode_short_side")
# Entries of a backbone's preprocessing record that report what extraction measured or chose
# (bf16 or fp32) rather than what it was asked to do.
MEASURED_KEYS = ("precision", "bf16_relative_error")


class ExtractionMismatch(DakdError):
    """The requested extraction differs from the one that made the model's training features."""


@dataclass
class Extraction:
    """The extractors a model needs: ``cfg`` (its backbones only), the built ``backbones``
    and the ``precision`` each runs in (the recorded choice where the device allows it)."""

    cfg: ExtractConfig
    seed: int
    backbones: dict[str, Backbone]
    precision: Precision

    def describe(self) -> dict[str, Any]:
        """What the outputs record about how their features were made."""
        return {"extract": plain(dataclasses.asdict(self.cfg)), "seed": self.seed,
                "backbones": {name: {"weights": b.weights_source, "dim": b.dim, **b.describe(),
                                     **self.precision.record(name)} for name, b in self.backbones.items()}}


def recorded_extraction(payload: dict[str, Any], where: str) -> dict[str, Any]:
    """The checkpoint's extraction record; a model trained on features dakd did not extract
    (imported, synthetic) or a checkpoint without the record is a one-line error."""
    record = payload.get("extraction")
    if not record:
        raise CheckpointError(f"{where}: the checkpoint records no extraction settings (it predates them); "
                              "retrain it to score videos")
    if record.get("stage") != "extract" or not record.get("config"):
        weights = sorted({str(b.get("weights")) for b in (record.get("backbones") or {}).values()})
        raise CheckpointError(f"{where}: trained on features made by {record.get('stage')!r} "
                              f"({'; '.join(weights)}), not extracted by dakd from videos: there is no extractor "
                              "to rebuild, so it cannot score videos")
    return record


def requested_config(record: dict[str, Any], backbones: list[str], requested: ExtractConfig | None,
                     where: str) -> ExtractConfig:
    """The extract config to build: ``requested`` (a user's config) or the recorded one,
    restricted to the model's ``backbones``."""
    if requested is None:
        try:
            requested = section_from_dict(ExtractConfig, record["config"])
        except ConfigError as exc:
            raise CheckpointError(f"{where}: recorded extraction settings no longer load ({exc})") from None
    missing = [b for b in backbones if b not in requested.backbones]
    if missing:
        raise ExtractionMismatch(f"{where}: the model needs backbone(s) {missing}, the requested extraction has "
                                 f"{sorted(requested.backbones)}")
    return dataclasses.replace(requested, backbones={b: requested.backbones[b] for b in backbones})


def check_decode_settings(record: dict[str, Any], cfg: ExtractConfig, where: str) -> None:
    """Frames made the same way (:data:`dakd.video.FRAMES`), snippet length, stride and decode
    size as recorded; crops too."""
    if record.get("frames") != FRAMES:
        made = record.get("frames") or "decode-time FFmpeg bilinear scale (dakd before the frame record)"
        raise ExtractionMismatch(f"{where}: the model's features were made from frames by {made!r}, this dakd "
                                 f"makes them by {FRAMES!r}; re-extract the features and retrain")
    recorded = record["config"]
    for key in (*DECODE_KEYS, "crops"):
        if recorded.get(key) != getattr(cfg, key):
            raise ExtractionMismatch(f"{where}: extract.{key}: the model's features were made with "
                                     f"{recorded.get(key)!r}, the requested extraction uses {getattr(cfg, key)!r}")


def check_backbone(name: str, info: dict[str, Any], backbone: Backbone, crops: str, input_dim: int,
                   where: str) -> None:
    """One built backbone against its recorded :class:`BackboneInfo` (as a dict)."""
    recorded_pre = {k: v for k, v in (info.get("preprocessing") or {}).items() if k not in MEASURED_KEYS}
    built_pre = plain(backbone.describe())
    if "frames_per_snippet" in built_pre:  # records from before the choice existed embedded every frame
        recorded_pre.setdefault("frames_per_snippet", "all")
    checks = [
        ("architecture", recorded_pre.get("arch"), built_pre.get("arch")),
        ("weights", info.get("weights"), backbone.weights_source),
        ("preprocessing", recorded_pre, built_pre),
        ("crops", info.get("crops"), num_crops(crops)),
        ("feature dimension", info.get("dim"), backbone.dim),
        ("feature dimension (the model's input)", input_dim, backbone.dim),
    ]
    for what, recorded, built in checks:
        if recorded != built:
            if what == "preprocessing":
                keys = sorted(k for k in set(recorded) | set(built) if recorded.get(k) != built.get(k))
                recorded, built = {k: recorded.get(k) for k in keys}, {k: built.get(k) for k in keys}
            raise ExtractionMismatch(f"{where}: backbone {name!r}, {what}: the model was trained on "
                                     f"{recorded!r}, the requested extraction gives {built!r}")


def build_extraction(payload: dict[str, Any], input_dims: dict[str, int], device: torch.device, where: str,
                     requested: ExtractConfig | None = None, seed: int | None = None) -> Extraction:
    """Build the model's extractors and check them against the checkpoint's record.

    Args:
        payload: the checkpoint (``dakd.checkpoints.load_checkpoint``).
        input_dims: the model's backbones and their input dimensions.
        requested: a user's extract config; None rebuilds the recorded one.
        seed: the seed of random weights (the recorded one when None).
    """
    record = recorded_extraction(payload, where)
    backbones = list(input_dims)
    cfg = requested_config(record, backbones, requested, where)
    check_decode_settings(record, cfg, where)
    infos = record.get("backbones") or {}
    missing = [b for b in backbones if b not in infos]
    if missing:
        raise CheckpointError(f"{where}: the extraction record lacks backbone(s) {missing}")
    seed = record.get("seed", 0) if seed is None else seed
    built = build_backbones(cfg, device, seed)
    precision = Precision(cfg.precision, device)
    for name in backbones:
        check_backbone(name, infos[name], built[name], cfg.crops, input_dims[name], where)
        chosen = (infos[name].get("preprocessing") or {}).get("precision", "fp32")
        precision.chosen[name] = chosen if device.type == "cuda" else "fp32"
    return Extraction(cfg, seed, built, precision)
