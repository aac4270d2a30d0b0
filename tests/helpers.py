"""Shared test helpers (importable because pytest puts tests/ on the path)."""

from dakd.config import DakdConfig, apply_overrides

SMALL_MODEL = {"width": 64, "heads": 4, "ffn_dim": 128}
SMALL_OPTIM = {"epochs": 30, "normal_per_batch": 10, "anomalous_per_batch": 10}


def small_config(**overrides: str) -> DakdConfig:
    """The paper's config scaled down (width 64, 30 epochs) so CPU tests take seconds.

    Keyword names are dotted config keys, e.g. ``small_config(**{"teacher.optim.epochs": "3"})``.
    """
    data = {
        "teacher": {"model": dict(SMALL_MODEL), "optim": dict(SMALL_OPTIM)},
        "student": {"model": {**SMALL_MODEL, "terms": {"cross_c2c": False}}, "optim": dict(SMALL_OPTIM)},
    }
    return DakdConfig.from_dict(apply_overrides(data, [f"{k}={v}" for k, v in overrides.items()]))
