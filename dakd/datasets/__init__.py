"""Dataset adapters (UCF-Crime, ShanghaiTech, XD-Violence, the synthetic demo) behind one registry,
the benchmarks' naming rules (:mod:`.naming`) and the video manifest (:mod:`.manifest`)."""

from . import adapters, demo  # noqa: F401  (registers the adapters)
from .base import (
                   DatasetError,
                   DatasetIndex,
                   DatasetSources,
                   VideoEntry,
                   available_datasets,
                   dataset_sources,
                   index_dataset,
                   write_index,
)
from .manifest import VideoTask, count_videos, read_manifest, write_manifest
from .naming import LABEL_RULES

__all__ = ["LABEL_RULES", "DatasetError", "DatasetIndex", "DatasetSources", "VideoEntry", "VideoTask",
           "available_datasets", "count_videos", "dataset_sources", "index_dataset", "read_manifest", "write_index",
           "write_manifest"]
