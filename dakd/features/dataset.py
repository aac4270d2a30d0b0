"""Loading shards into model inputs: per-video snippet sequences and fixed-size MIL bags."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .segments import reduce_crops, segment_pool
from .store import FeatureStoreError, VideoMeta, iter_shard_videos, read_metadata


@dataclass
class SnippetVideo:
    """One video's crop-reduced snippet features, ``inputs[backbone]`` of shape (S, d_t), or
    (S, crops, d_t) with ``features.crop: per_crop_bags``."""

    meta: VideoMeta
    inputs: dict[str, np.ndarray]


@dataclass
class BagSet:
    """In-memory MIL bags of a split.

    ``segments[backbone]`` is (N, n, d_t) float32; ``labels`` is (N,) with 0 normal, 1 anomalous.
    With ``crops`` > 1 (``features.crop: per_crop_bags``) every crop of a video is a bag of
    its own: bag ``v * crops + c`` is crop c of video v, and ``metas`` repeats each video.
    """

    metas: list[VideoMeta]
    labels: torch.Tensor
    segments: dict[str, torch.Tensor]
    crops: int = 1

    def __len__(self) -> int:
        return len(self.metas)

    @property
    def video_ids(self) -> list[str]:
        return [m.video_id for m in self.metas]

    def inputs(self, index: torch.Tensor, device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """Model inputs of the bags at ``index``: backbone -> (len(index), n, d_t)."""
        return {name: seg[index].to(device) for name, seg in self.segments.items()}

    @property
    def videos(self) -> list[VideoMeta]:
        """One meta per video (the bags' videos without the crop repeats)."""
        return self.metas[:: self.crops]

    def per_video(self, values: np.ndarray) -> np.ndarray:
        """(N, ...) per-bag values -> (N / crops, ...): the mean over each video's crop bags."""
        if self.crops == 1:
            return values
        return values.reshape(-1, self.crops, *values.shape[1:]).mean(axis=1)


def backbone_dims(shards: Sequence[str | os.PathLike], backbones: Sequence[str]) -> dict[str, int]:
    """Feature dimension of each backbone, read from the first shard's metadata, in ``backbones`` order."""
    if not shards:
        raise FeatureStoreError("no feature shards given")
    infos, _ = read_metadata(shards[0])
    missing = [b for b in backbones if b not in infos]
    if missing:
        raise FeatureStoreError(f"{shards[0]}: no features for backbone(s) {missing} (shard has {sorted(infos)})")
    return {b: infos[b].dim for b in backbones}


def iter_snippet_videos(shards: Sequence[str | os.PathLike], backbones: Sequence[str], split: str | None,
                        crop: str = "mean") -> Iterator[SnippetVideo]:
    """Yield the videos of ``split`` (every split when None) with crop-reduced snippet features.

    One row group (a video, in shards written by this package) is held in memory at a time.
    Dimensions must agree across shards; duplicate video ids are an error; with
    ``crop="per_crop_bags"`` every backbone must have the same number of crops.
    """
    dims = backbone_dims(shards, backbones)
    seen: dict[str, str] = {}
    for path in shards:
        for video in iter_shard_videos(path, backbones, expected_dims=dims):
            meta = video.meta
            if split is not None and meta.split != split:
                continue
            if meta.video_id in seen:
                raise FeatureStoreError(f"{path}: video {meta.video_id!r} already read from {seen[meta.video_id]}")
            if meta.num_snippets < 1:
                raise FeatureStoreError(f"{path}: video {meta.video_id!r} has no snippets")
            seen[meta.video_id] = str(path)
            try:
                inputs = {b: np.array(reduce_crops(video.features[b], crop), dtype=np.float32) for b in backbones}
            except FeatureStoreError as exc:
                raise FeatureStoreError(f"{path}: video {meta.video_id!r}: {exc}") from None
            crops = {b: x.shape[1] for b, x in inputs.items() if x.ndim == 3}
            if len(set(crops.values())) > 1:
                raise FeatureStoreError(f"{path}: video {meta.video_id!r}: features.crop per_crop_bags needs the "
                                        f"same number of crops for every backbone, got {crops}")
            yield SnippetVideo(meta=meta, inputs=inputs)


def load_snippet_videos(shards: Sequence[str | os.PathLike], backbones: Sequence[str], split: str | None,
                        crop: str = "mean") -> list[SnippetVideo]:
    """All videos of ``split`` as a list (see :func:`iter_snippet_videos`)."""
    return list(iter_snippet_videos(shards, backbones, split, crop))


def load_bags(shards: Sequence[str | os.PathLike], backbones: Sequence[str], split: str,
              num_segments: int = 32, crop: str = "mean") -> BagSet:
    """MIL bags of ``split``: every video mean-pooled into ``num_segments`` segments; with
    ``crop="per_crop_bags"`` one bag per crop of every video (see :class:`BagSet`)."""
    metas: list[VideoMeta] = []
    pooled: dict[str, list[np.ndarray]] = {b: [] for b in backbones}
    crop_counts: dict[int, str] = {}
    for video in iter_snippet_videos(shards, backbones, split, crop):
        metas.append(video.meta)
        for b in backbones:
            pooled[b].append(segment_pool(video.inputs[b], num_segments))        # (n, d) or (n, crops, d)
        if crop == "per_crop_bags":
            crop_counts.setdefault(video.inputs[backbones[0]].shape[1], video.meta.video_id)
    if not metas:
        raise FeatureStoreError(f"no {split!r} videos in {len(shards)} shard(s)")
    if len(crop_counts) > 1:
        raise FeatureStoreError(f"features.crop per_crop_bags needs the same number of crops in every {split!r} "
                                f"video, got {', '.join(f'{c} ({v!r})' for c, v in crop_counts.items())}")
    crops = next(iter(crop_counts), 1)
    segments = {b: torch.from_numpy(np.stack(pooled[b])) for b in backbones}
    if crop == "per_crop_bags":  # (N, n, crops, d) -> (N * crops, n, d), video-major
        segments = {b: x.transpose(1, 2).flatten(0, 1).contiguous() for b, x in segments.items()}
        metas = [m for m in metas for _ in range(crops)]
    labels = torch.tensor([m.label for m in metas], dtype=torch.long)
    return BagSet(metas=metas, labels=labels, segments=segments, crops=crops)
