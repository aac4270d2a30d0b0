"""Where and how a stage computes: the device, the numeric precision, seeding and threads.

Training (:mod:`dakd.training`) and extraction (:mod:`dakd.extract`, :mod:`dakd.embed`)
share these, so ``device: auto``, ``bf16`` and a seed mean the same thing in every stage.
The config has already refused values outside their choices (:mod:`dakd.config`); what is
checked here is what only the machine can say (a CUDA device, bfloat16 support).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .errors import DakdError

# optim.precision -> the dtype the forward matmuls run in (None: no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}
# extract.precision auto keeps bf16 for a backbone whose bf16 features are this close to fp32
BF16_TOLERANCE = 1e-2


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DakdError(f"device {name!r} requested but CUDA is not available")
    return device


def use_threads(threads: int) -> None:
    """Run torch's CPU kernels (and the OpenMP/MKL libraries a decoder may load) on ``threads``
    threads: the number a Snakemake rule or a SLURM job declared for this process."""
    if threads < 1:
        raise DakdError(f"--threads must be at least 1, got {threads}")
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    torch.set_num_threads(threads)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch, make CPU kernels deterministic; return a sampling generator."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def matmul_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``optim.precision`` on ``device``; bf16 on a GPU without
    bfloat16 is a one-line error, raised once per stage."""
    dtype = PRECISIONS[precision]
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise DakdError(f"optim.precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16 support; use fp32")
    return dtype


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision for a forward pass: matmuls in ``dtype``; a no-op for None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def bf16_relative_error(model: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> float:
    """||f_bf16 - f_fp32|| / ||f_fp32|| of ``model``'s outputs on ``inputs`` (autocast on their device)."""
    with torch.inference_mode():
        reference = model(inputs).float()
        with torch.autocast(inputs.device.type, dtype=torch.bfloat16):
            low = model(inputs).float()
    return ((low - reference).norm() / reference.norm().clamp_min(1e-12)).item()


class Precision:
    """The numeric mode of each backbone during extraction (``extract.precision``).

    ``fp32``: always fp32. ``bf16``: bf16 autocast on CUDA. ``auto``: on CUDA, bf16 for a
    backbone whose bf16 features on the first batch are within :data:`BF16_TOLERANCE`
    relative error of fp32, fp32 otherwise; fp32 on the CPU, where bf16 is slower. The
    choice and the measured error go into the shard metadata.
    """

    def __init__(self, mode: str, device: torch.device) -> None:
        self.mode, self.device = mode, device
        self.chosen: dict[str, str] = {}
        self.errors: dict[str, float] = {}

    def choose(self, name: str, backbone: Callable[[torch.Tensor], torch.Tensor], clips: torch.Tensor) -> str:
        if name not in self.chosen:
            if self.device.type != "cuda" or self.mode == "fp32":
                self.chosen[name] = "fp32"
            elif self.mode == "bf16":
                self.chosen[name] = "bf16"
            else:
                self.errors[name] = bf16_relative_error(backbone, clips)
                self.chosen[name] = "bf16" if self.errors[name] <= BF16_TOLERANCE else "fp32"
        return self.chosen[name]

    def record(self, name: str) -> dict[str, Any]:
        return {"precision": self.chosen.get(name, "fp32"), "bf16_relative_error": self.errors.get(name)}
