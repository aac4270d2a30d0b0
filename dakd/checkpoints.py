"""Checkpoint files: a trained detector's weights with the config, history and provenance
that made it.

A checkpoint is something users pass around, so loading one must never run code from
it: files are read with ``torch.load(weights_only=True)``, which unpickles tensors and
plain containers only, and everything beside the weights is stored as plain data
(dicts, lists, strings, numbers) by a JSON round trip before saving.

``schema_version`` numbers the layout (a checkpoint written before it was recorded is
version 1). Besides the weights and what made them, a checkpoint carries what deployment
needs: ``extraction`` (how the training features were extracted, so ``dakd score`` can
rebuild the extractors) and ``operating_points`` (alert thresholds, see
``dakd.operating_points``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import zipfile
from typing import Any

import torch

from .atomic import atomic_path
from .config import ConfigError, ModelConfig, section_from_dict
from .errors import DakdError
from .models import AnomalyDetector

SCHEMA_VERSION = 1
KINDS = ("teacher", "student")
REQUIRED_KEYS = ("kind", "input_dims", "model_config", "state_dict", "config", "history", "epochs", "selection",
                 "provenance")


class CheckpointError(DakdError):
    """A checkpoint file cannot be used; the message names it."""


def plain(value: Any) -> Any:
    """``value`` as JSON-representable plain data (tuples become lists, paths strings)."""
    return json.loads(json.dumps(value, default=str, allow_nan=True))


def save_checkpoint(path: str | os.PathLike, model: AnomalyDetector, kind: str, config: dict[str, Any],
                    model_config: ModelConfig, history: list[dict[str, float]], provenance: dict[str, Any],
                    selection: dict[str, Any], extra_state: dict[str, dict[str, torch.Tensor]] | None = None,
                    diagnostics: dict[str, Any] | None = None, extraction: dict[str, Any] | None = None,
                    operating_points: dict[str, Any] | None = None) -> None:
    """Atomically save the weights with the config that made them.

    ``extra_state`` holds further state dicts (the student's projection heads);
    ``diagnostics`` plain facts about the training run (e.g. how often L_nce was active);
    ``extraction`` how the training features were made (``dakd.features.record.extraction_record``);
    ``operating_points`` the model's alert thresholds.
    """
    payload = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "input_dims": dict(model.input_dims),
        "model_config": plain(dataclasses.asdict(model_config)),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra_state": {name: {k: v.detach().cpu() for k, v in state.items()}
                        for name, state in (extra_state or {}).items()},
        "config": plain(config),
        "history": plain(history),
        "epochs": len(history),
        "selection": plain(selection),
        "diagnostics": plain(diagnostics or {}),
        "provenance": plain(provenance),
        "extraction": plain(extraction),
        "operating_points": plain(operating_points),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The payload of a dakd checkpoint, loaded without running any code from the file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: cannot read checkpoint (not a file written by torch.save)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        named = f" ({found.group(1)})" if found else ""
        raise CheckpointError(f"{path}: refused: the file holds Python objects other than tensors and plain data"
                              f"{named}, and loading them could run code") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: cannot read checkpoint ({first})") from None
    version = payload.get("schema_version", 1) if isinstance(payload, dict) else None
    if isinstance(payload, dict) and version != SCHEMA_VERSION:
        raise CheckpointError(f"{path}: checkpoint schema version {version!r}, but this dakd reads version "
                              f"{SCHEMA_VERSION}; use the dakd version that wrote it, or retrain")
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(f"{path}: not a dakd checkpoint (missing {missing})")
    if payload["kind"] not in KINDS:
        raise CheckpointError(f"{path}: checkpoint kind {payload['kind']!r} is not one of {list(KINDS)}")
    return payload


def load_detector(path: str | os.PathLike, device: torch.device) -> tuple[AnomalyDetector, dict[str, Any]]:
    """Rebuild a detector from a checkpoint; returns the model (eval mode) and the payload."""
    payload = load_checkpoint(path)
    try:
        model_config = section_from_dict(ModelConfig, payload["model_config"])
        model = AnomalyDetector(payload["input_dims"], model_config)
        model.load_state_dict(payload["state_dict"])
    except (ConfigError, RuntimeError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: weights do not fit the model the checkpoint describes ({first})") from None
    return model.to(device).eval(), payload
