import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dakd.synthetic import SyntheticSpec, make_synthetic_dataset  # noqa: E402


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """Shards + annotations with clearly planted anomalies (signal 3)."""
    root = tmp_path_factory.mktemp("synthetic")
    shards, annotations = make_synthetic_dataset(root, SyntheticSpec(signal=3.0, seed=1))
    return root, shards, annotations
