import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dakd.config import DakdConfig, load_config  # noqa: E402
from dakd.synthetic import SyntheticSpec, make_synthetic_dataset  # noqa: E402

SMALL_MODEL = {"width": 64, "heads": 4, "ffn_dim": 128}
SMALL_OPTIM = {"epochs": 30, "normal_per_batch": 10, "anomalous_per_batch": 10}


def small_config(**overrides: str) -> DakdConfig:
    """Paper config scaled down (width 64, 30 epochs) so CPU tests take seconds."""
    data = {
        "teacher": {"model": dict(SMALL_MODEL), "optim": dict(SMALL_OPTIM)},
        "student": {"model": {**SMALL_MODEL, "terms": {"cross_c2c": False}}, "optim": dict(SMALL_OPTIM)},
    }
    cfg = DakdConfig.from_dict(data)
    if overrides:
        import yaml
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dakd-test-config.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(data, fh)
        cfg = load_config(path, [f"{k}={v}" for k, v in overrides.items()])
    return cfg


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """Shards + annotations with clearly planted anomalies (signal 3)."""
    root = tmp_path_factory.mktemp("synthetic")
    shards, annotations = make_synthetic_dataset(root, SyntheticSpec(signal=3.0, seed=1))
    return root, shards, annotations
