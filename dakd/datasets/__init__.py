"""Dataset adapters (UCF-Crime, ShanghaiTech, XD-Violence, the synthetic demo) behind one registry."""

from . import adapters, demo  # noqa: F401  (registers the adapters)
from .base import DatasetError, DatasetIndex, VideoEntry, available_datasets, index_dataset, write_index

__all__ = ["DatasetError", "DatasetIndex", "VideoEntry", "available_datasets", "index_dataset", "write_index"]
