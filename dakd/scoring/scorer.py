"""A trained model with its extractors: snippets of decoded frames in, snippet scores out,
through the very functions evaluation uses (``embed_snippets``, ``reduce_crops``,
``score_video``), so deployment cannot drift from evaluation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..checkpoints import CheckpointError, load_detector
from ..config import ConfigError, EvaluateConfig, ExtractConfig, FeatureInputConfig, section_from_dict
from ..embed import embed_snippets
from ..evaluate import score_video, snippet_to_frames
from ..features import SnippetVideo, VideoMeta, reduce_crops
from ..models import AnomalyDetector
from .extraction import Extraction, build_extraction
from .sources import Source


@dataclass
class ScoredVideo:
    """One scored video or stream.

    ``meta`` holds its frame count, fps and snippet plan; ``snippet_scores`` is (S,);
    ``run`` says how it was scored (``mode`` offline/online, the window, how a stream
    ended, wall seconds); ``times`` is (num_frames + 1,): when each frame is shown, in
    seconds from the first, then the end of the last (:func:`dakd.video.timing.frame_times`;
    None: the constant-rate ``i / fps``).
    """

    source: Source
    meta: VideoMeta
    snippet_scores: np.ndarray
    run: dict[str, Any] = field(default_factory=dict)
    times: np.ndarray | None = None

    @property
    def frame_scores(self) -> np.ndarray:
        """(covered_frames,) each snippet's score repeated over its frames, as evaluation does."""
        return snippet_to_frames(self.snippet_scores, self.meta)

    def seconds(self, frames: int) -> np.ndarray:
        """(frames + 1,) the time each of the first ``frames`` frames is shown, then the end of the last."""
        if self.times is not None and len(self.times) > frames:
            return self.times[: frames + 1]
        return np.arange(frames + 1, dtype=np.float64) / self.meta.fps


@dataclass
class Scorer:
    """A model ready to score footage: the detector, its extractors and the checkpoint's
    own feature and evaluation settings."""

    path: str
    payload: dict[str, Any]
    model: AnomalyDetector
    extraction: Extraction
    features: FeatureInputConfig
    evaluate: EvaluateConfig
    device: torch.device

    def embed(self, frames: torch.Tensor, short_side: int | None = None) -> dict[str, np.ndarray]:
        """uint8 snippets (b, T, H, W, 3) -> per backbone the crop-reduced features (b, d)
        (or (b, crops, d) with ``features.crop: per_crop_bags``), float32; ``short_side``
        resizes the frames on the device first."""
        embedded = embed_snippets(frames, self.extraction.backbones, self.extraction.cfg.crops, self.device,
                                  self.extraction.precision, short_side)
        return {name: np.array(reduce_crops(x, self.features.crop), dtype=np.float32) for name, x in embedded.items()}

    def score(self, meta: VideoMeta, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Snippet scores (S,) of one video's features ``inputs[backbone]`` (S, d), exactly as
        ``dakd evaluate`` scores a video from its shard."""
        return score_video(self.model, SnippetVideo(meta, dict(inputs)), self.evaluate, self.features.segments,
                           self.device)


def load_scorer(path: str | os.PathLike, device: torch.device, requested: ExtractConfig | None = None,
                seed: int | None = None) -> Scorer:
    """The checkpoint at ``path`` with its extractors rebuilt and checked against the record
    (``dakd.scoring.extraction``); ``requested`` is a user's extract config to check instead."""
    model, payload = load_detector(path, device)
    try:
        features = section_from_dict(FeatureInputConfig, payload["config"].get("features") or {})
        evaluate = section_from_dict(EvaluateConfig, payload["config"].get("evaluate") or {})
    except (ConfigError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its recorded features/evaluate settings no longer load ({exc})") from None
    extraction = build_extraction(payload, model.input_dims, device, str(path), requested, seed)
    return Scorer(str(path), payload, model, extraction, features, evaluate, device)


def video_meta(name: str, num_frames: int, fps: float, cfg: ExtractConfig, num_snippets: int,
               last_snippet_frames: int) -> VideoMeta:
    """The per-video record scoring and evaluation share (no split or label: footage has none)."""
    return VideoMeta(name, "score", 0, "", num_frames, fps, cfg.snippet_len, cfg.snippet_stride, num_snippets,
                     last_snippet_frames)
