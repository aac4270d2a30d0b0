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


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """A workflow directory with the tiny demo config; the workflow and paper-table tests run
    their targets in it, so the demo is generated and its features extracted once."""
    from workflow_helpers import tiny_demo_config

    workdir = tmp_path_factory.mktemp("tiny_demo")
    tiny_demo_config(workdir)
    return workdir
