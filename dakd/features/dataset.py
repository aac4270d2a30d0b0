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
    """One video's crop-reduced snippet features, ``inputs[backbone]`` of shape (S, d_t)."""

    meta: VideoMeta
    inputs: dict[str, np.ndarray]


@dataclass
class BagSet:
    """In-memory MIL bags of a split.

    ``segments[backbone]`` is (N, n, d_t) float32; ``labels`` is (N,) with 0 normal, 1 anomalous.
    """

    metas: list[VideoMeta]
    labels: torch.Tensor
    segments: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return len(self.metas)

    @property
    def video_ids(self) -> list[str]:
        return [m.video_id for m in self.metas]

    def inputs(self, index: torch.Tensor, device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """Model inputs of the bags at ``index``: backbone -> (len(index), n, d_t)."""
        return {name: seg[index].to(device) for name, seg in self.segments.items()}


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
    Dimensions must agree across shards; duplicate video ids are an error.
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
            yield SnippetVideo(meta=meta, inputs=inputs)


def load_snippet_videos(shards: Sequence[str | os.PathLike], backbones: Sequence[str], split: str | None,
                        crop: str = "mean") -> list[SnippetVideo]:
    """All videos of ``split`` as a list (see :func:`iter_snippet_videos`)."""
    return list(iter_snippet_videos(shards, backbones, split, crop))


def load_bags(shards: Sequence[str | os.PathLike], backbones: Sequence[str], split: str,
              num_segments: int = 32, crop: str = "mean") -> BagSet:
    """MIL bags of ``split``: every video mean-pooled into ``num_segments`` segments."""
    metas: list[VideoMeta] = []
    pooled: dict[str, list[np.ndarray]] = {b: [] for b in backbones}
    for video in iter_snippet_videos(shards, backbones, split, crop):
        metas.append(video.meta)
        for b in backbones:
            pooled[b].append(segment_pool(video.inputs[b], num_segments))
    if not metas:
        raise FeatureStoreError(f"no {split!r} videos in {len(shards)} shard(s)")
    segments = {b: torch.from_numpy(np.stack(pooled[b])) for b in backbones}
    labels = torch.tensor([m.label for m in metas], dtype=torch.long)
    return BagSet(metas=metas, labels=labels, segments=segments)
