"""Forming MIL segments from snippet features (the Sultani / RTFM protocol)."""

from __future__ import annotations

import numpy as np

from .store import FeatureStoreError


def segment_bounds(num_snippets: int, num_segments: int) -> np.ndarray:
    """Snippet index boundaries of ``num_segments`` near-equal segments, shape (num_segments + 1,).

    Segment ``i`` covers snippets ``[b[i], b[i+1])``; when a video has fewer snippets than
    segments, an empty range stands for the single snippet ``b[i]`` (snippets repeat).
    """
    if num_snippets < 1:
        raise ValueError("a video needs at least one snippet to form segments")
    return np.linspace(0, num_snippets, num_segments + 1).astype(np.int64)  # floor, as RTFM


def segment_ranges(num_snippets: int, num_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) snippet ranges of each segment, never empty: an empty bound range
    stands for its single snippet ``b[i]``."""
    bounds = segment_bounds(num_snippets, num_segments)
    starts = np.minimum(bounds[:-1], num_snippets - 1)
    return starts, np.maximum(bounds[1:], starts + 1)


def segment_pool(snippets: np.ndarray, num_segments: int) -> np.ndarray:
    """Mean-pool snippet features into segments.

    Args:
        snippets: (S, ...) per-snippet features.
    Returns:
        (num_segments, ...) float32 array; segment ``i`` is the mean of its snippets.
    """
    starts, ends = segment_ranges(len(snippets), num_segments)
    # reduceat over a cumulative sum keeps this one vectorised pass for any S.
    csum = np.concatenate([np.zeros_like(snippets[:1], dtype=np.float64),
                           np.cumsum(snippets, axis=0, dtype=np.float64)])
    counts = (ends - starts).reshape(-1, *([1] * (snippets.ndim - 1)))
    return ((csum[ends] - csum[starts]) / counts).astype(np.float32)


def reduce_crops(features: np.ndarray, crop: str | int) -> np.ndarray:
    """Collapse the crop axis of (S, crops, dim) features to (S, dim), or keep it.

    ``crop`` is ``"mean"`` (average over crops, the usual choice for 10-crop features),
    an integer crop index, or ``"per_crop_bags"``: the features stay (S, crops, dim), every
    crop becomes its own training bag and test scores are averaged over crops.
    """
    if crop == "per_crop_bags":
        return features
    if crop == "mean":
        return features.mean(axis=1, dtype=np.float32) if features.shape[1] > 1 else features[:, 0]
    index = int(crop)
    if not 0 <= index < features.shape[1]:
        raise FeatureStoreError(f"features.crop index {index} is out of range for features of "
                                f"{features.shape[1]} crop(s)")
    return features[:, index]
