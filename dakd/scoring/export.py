"""``dakd export-model``: a model and its backbone encoders as one TorchScript or ONNX file.

The file maps preprocessed clips to snippet scores: one input per backbone,
``clips_<backbone>`` float32 (S, K, T, 3, c, c) (S snippets, K crops, T frames, c the crop
size, normalised as the backbone's preprocessing says), and one output ``scores`` (S,) in
[0, 1]. Inside: every backbone encodes its clips, the crop axis is reduced as in training
(``features.crop``), and the detector scores the snippet sequence. The metadata (JSON under
the key ``dakd``: TorchScript's extra file ``dakd.json``, ONNX's ``metadata_props``)
records the decoding and per-backbone preprocessing that make the inputs, the input
names and shapes, the model's operating points and the provenance, so the file can be
used without dakd.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_path
from ..checkpoints import CheckpointError
from ..errors import DakdError
from ..operating_points import model_points
from ..provenance import provenance
from .scorer import Scorer, load_scorer

METADATA_KEY = "dakd"
FORMAT_VERSION = 1
EXAMPLE_SNIPPETS = 3


class ExportedDetector(nn.Module):
    """Preprocessed clips of each backbone (S, K, T, 3, c, c), in ``backbones`` order -> scores (S,)."""

    def __init__(self, scorer: Scorer) -> None:
        super().__init__()
        self.names = list(scorer.model.backbones)
        self.encoders = nn.ModuleList(scorer.extraction.backbones[name] for name in self.names)
        self.detector = scorer.model
        self.crop = scorer.features.crop
        self.requires_grad_(False)  # an inference file: its outputs need no graph

    def forward(self, *clips: torch.Tensor) -> torch.Tensor:
        inputs = {}
        for name, encoder, x in zip(self.names, self.encoders, clips):
            feats = encoder(x.flatten(0, 1))
            feats = feats.view(x.shape[0], x.shape[1], feats.shape[-1])       # (S, K, d)
            if self.crop == "mean":
                inputs[name] = feats.mean(dim=1)[None]                          # (1, S, d)
            elif self.crop == "per_crop_bags":
                inputs[name] = feats.transpose(0, 1)                             # (K, S, d): one sequence per crop
            else:
                inputs[name] = feats[:, int(self.crop)][None]
        return self.detector(inputs).scores.mean(dim=0)                          # (S,)


def example_clips(scorer: Scorer, snippets: int = EXAMPLE_SNIPPETS) -> tuple[torch.Tensor, ...]:
    """Preprocessed random clips, one tensor per backbone, as dakd's extraction makes them."""
    cfg = scorer.extraction.cfg
    side = cfg.decode_short_side
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (snippets, cfg.snippet_len, side, side * 4 // 3, 3), dtype=torch.uint8,
                           generator=generator)
    return tuple(scorer.extraction.backbones[name].clips(frames, cfg.crops) for name in scorer.model.backbones)


def export_metadata(scorer: Scorer, fmt: str) -> dict[str, Any]:
    """What a user of the file needs to make its inputs and read its output."""
    cfg = scorer.extraction.cfg
    points, _ = model_points(scorer.path, scorer.payload)
    return {
        "format_version": FORMAT_VERSION,
        "format": fmt,
        "inputs": [f"clips_{name}" for name in scorer.model.backbones],
        "input_shape": "(S, K, t, 3, c, c) float32: S snippets, K crops, t frames (the snippet's frames the "
                       "backbone reads: frame_indices below), c the backbone's crop size",
        "output": {"name": "scores", "shape": "(S,)", "range": [0.0, 1.0],
                   "meaning": "anomaly score of each snippet; a frame takes its snippet's score"},
        "decode": {"frames": "RGB uint8, upright", "short_side": cfg.decode_short_side,
                   "resize": "bilinear, at decode time", "snippet_len": cfg.snippet_len,
                   "snippet_stride": cfg.snippet_stride,
                   "last_snippet": "repeats the video's final frame to fill snippet_len"},
        "preprocessing": {name: {"crops": cfg.crops, **scorer.extraction.backbones[name].preprocessing.record(),
                                 "frame_indices": scorer.extraction.backbones[name].frame_indices(cfg.snippet_len),
                                 "steps": "resize (antialiased) so the shorter side is resize (or to (h, w)), "
                                          "crops of crop x crop (torchvision center/five/ten_crop order), then "
                                          "x/255 normalised by mean and std (value_range unit) or "
                                          "x/127.5 - 1 (symmetric); frames as (T, 3, c, c)"}
                          for name in scorer.model.backbones},
        "crop_reduction": scorer.features.crop,
        "window": {"max_snippets": scorer.evaluate.max_window,
                   "note": "dakd scores a longer video in consecutive windows of at most this many snippets"},
        "operating_points": points,
        "model": {"kind": scorer.payload["kind"], "checkpoint": scorer.path,
                  "config_digest": scorer.payload["provenance"]["config_digest"]},
        "extraction": scorer.extraction.describe(),
        "provenance": provenance("export-model", {"format": fmt}, checkpoint=scorer.path),
    }


def export_model(model: str | Path, fmt: str, out: str | Path, device: torch.device) -> dict[str, Any]:
    """Write ``model`` with its encoders to ``out`` as ``torchscript`` or ``onnx``; returns the metadata."""
    if fmt not in ("torchscript", "onnx"):
        raise DakdError(f"--format {fmt}: use torchscript or onnx")
    scorer = load_scorer(model, device)
    if scorer.evaluate.unit != "snippet":
        raise CheckpointError(f"{model}: evaluate.unit is {scorer.evaluate.unit!r}; an exported model scores "
                              "snippets (unit snippet)")
    module = ExportedDetector(scorer).eval()
    example = tuple(x.to(device) for x in example_clips(scorer))
    meta = export_metadata(scorer, fmt)
    text = json.dumps(meta, default=str)
    # Another sequence length than the traced one: the file must not have baked the length in.
    check = tuple(x.to(device) for x in example_clips(scorer, EXAMPLE_SNIPPETS + 2))
    with torch.no_grad(), warnings.catch_warnings(), atomic_path(out) as tmp:
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        expected = module(*check)
        if fmt == "torchscript":
            traced = torch.jit.trace(module, example, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={f"{METADATA_KEY}.json": text})
            got = torch.jit.load(str(tmp), map_location=device)(*check)
        else:
            got = _export_onnx(module, example, tmp, meta["inputs"], text, check)
        if got is not None and not torch.allclose(got.float().cpu(), expected.float().cpu(), atol=1e-4, rtol=0):
            error = (got.float().cpu() - expected.float().cpu()).abs().max().item()
            raise DakdError(f"{out}: the exported model's scores differ from dakd's by {error:.2g} on a "
                            f"{len(check[0])}-snippet check; not written")
    return meta


def _export_onnx(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path, names: list[str],
                 text: str, check: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
    """Export through the TorchScript-based ONNX exporter with the snippet axis dynamic, add
    the metadata, and return the file's scores on ``check`` (None without onnxruntime)."""
    try:
        import onnx
    except ImportError:
        raise DakdError("--format onnx needs the onnx package: pip install 'dakd[deploy]'") from None
    axes = {name: {0: "snippets"} for name in names} | {"scores": {0: "snippets"}}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused attention has no ONNX form
    try:
        torch.onnx.export(module, example, str(path), input_names=names, output_names=["scores"],
                          dynamic_axes=axes, dynamo=False, opset_version=17)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, text
    onnx.save(proto, str(path))
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {n: x.cpu().numpy() for n, x in zip(names, check)})[0])
