"""Typed configuration for the learning stages, read from the ``config.yaml`` the workflow uses.

Defaults are the paper's values (``docs/method.md``; where the paper is silent, the reading
taken and its alternatives are in ``docs/readings.md``). Every value is checked when the
config loads (pydantic dataclasses): an unknown key, a value of the wrong type, an enumerated
value outside its choices or a number outside its range is a one-line :class:`ConfigError`
naming the dotted key, so a typo or a bad value cannot silently fall back to a default or
train to garbage. The sections stay real dataclasses (``dataclasses.asdict``/``replace``
work on them).

This package must stay light (no torch): the Snakefile imports it while it parses.

- :mod:`.choices`: every enumerated value (``Literal`` types; tests check them against the registries)
- :mod:`.training`, :mod:`.data`: the sections; :mod:`.root`: :class:`DakdConfig`, loading, overrides
- :mod:`.datasets`: the workflow's ``datasets`` entries; :mod:`.base`, :mod:`.messages`: validation
"""

from .base import Float, Int, config_dataclass
from .data import (
    BackboneConfig,
    EvaluateConfig,
    ExtractConfig,
    FeatureInputConfig,
    ProbeConfig,
    ScoreConfig,
    ValidationConfig,
)
from .datasets import DemoSpec, check_workflow_config, dataset_entry
from .messages import ConfigError
from .root import (
    DakdConfig,
    apply_overrides,
    dataset_config,
    deep_merge,
    load_config,
    read_config_file,
    section_from_dict,
    set_dotted,
)
from .training import (
    AttentionTerms,
    DistillConfig,
    MILConfig,
    ModelConfig,
    OptimConfig,
    PseudoLabelConfig,
    StudentConfig,
    TeacherConfig,
)

__all__ = [
    "AttentionTerms", "BackboneConfig", "ConfigError", "DakdConfig", "DemoSpec", "DistillConfig", "EvaluateConfig",
    "ExtractConfig", "FeatureInputConfig", "Float", "Int", "MILConfig", "ModelConfig", "OptimConfig",
    "ProbeConfig", "PseudoLabelConfig", "ScoreConfig", "StudentConfig", "TeacherConfig", "ValidationConfig",
    "apply_overrides", "check_workflow_config", "config_dataclass", "dataset_config", "dataset_entry", "deep_merge",
    "load_config", "read_config_file", "section_from_dict", "set_dotted",
]
