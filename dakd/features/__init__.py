"""The feature store: Parquet shards of per-snippet backbone features."""

from .dataset import BagSet, SnippetVideo, backbone_dims, iter_snippet_videos, load_bags, load_snippet_videos
from .segments import reduce_crops, segment_bounds, segment_pool, segment_ranges
from .store import (
    SCHEMA_VERSION,
    BackboneInfo,
    FeatureStoreError,
    Shard,
    VideoFeatures,
    VideoMeta,
    failure_manifest_path,
    failures_file_name,
    list_shards,
    read_metadata,
    read_shard,
    shard_file_name,
    write_shard,
)

__all__ = [
    "SCHEMA_VERSION",
    "BackboneInfo",
    "BagSet",
    "FeatureStoreError",
    "Shard",
    "SnippetVideo",
    "VideoFeatures",
    "VideoMeta",
    "backbone_dims",
    "failure_manifest_path",
    "failures_file_name",
    "iter_snippet_videos",
    "list_shards",
    "load_bags",
    "load_snippet_videos",
    "read_metadata",
    "read_shard",
    "reduce_crops",
    "segment_bounds",
    "segment_pool",
    "segment_ranges",
    "shard_file_name",
    "write_shard",
]
