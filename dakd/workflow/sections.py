"""Which config sections each stage reads: the one map the workflow's rerun triggers (rule
params) and the studies' content-addressed run directories (:mod:`dakd.reproduce`) share.

A stage's job reruns when the sections it reads change (Snakemake compares the params), so
editing ``student.*`` reruns only the student and its evaluation. The run directories of a
study are named by digests of the same sections: ``runs/t<digest>`` covers every section the
teacher reads, ``t<..>/p<digest>`` what the pseudo-labels read beyond that, and
``t<..>/p<..>/s<digest>`` what the student reads beyond both.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import set_dotted

EVALUATION = "evaluate"
# The sections each stage's output depends on. EVALUATION joins the training stages' when
# validation.split is set: then it picks the epoch (:func:`stage_sections`).
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "extract": ("extract", "seed", "device"),
    "teacher": ("seed", "device", "features", "teacher", "validation"),
    "pseudo_labels": ("device", "features", "pseudo_labels"),
    "student": ("seed", "device", "features", "student", "validation"),
    EVALUATION: ("device", "features", EVALUATION),
    # The linear probe's default backbone sets are the teacher's backbones: that key, not the section.
    "probe": ("seed", "features", "probe", EVALUATION, "teacher.backbones"),
    "score": ("device", "seed", "extract", "score"),
}
TRAINING_STAGES = ("teacher", "student")
# The learning stages in pipeline order, and the letter of each one's run directory.
RUN_STAGES: dict[str, str] = {"teacher": "t", "pseudo_labels": "p", "student": "s"}

# Hex digits of a run directory's (and an evaluation tag's) digest; every pattern below is built from it.
DIGEST_CHARS = 10


def tagged(letter: str) -> str:
    """The pattern of a directory or tag named ``<letter><digest>``."""
    return rf"{letter}[0-9a-f]{{{DIGEST_CHARS}}}"


RUN_DIR_PATTERN = rf"{tagged('t')}(/{tagged('p')}/{tagged('s')})?"
# A result file evaluated with settings other than the dataset's: <model>_auc.<tag>.json
EVALUATION_PATTERN = tagged("e")
# The optional prefix under results/<dataset>/ of each stage's output: empty for the dataset's own
# run, runs/t<..>/ (p<..>/, s<..>/) for a study's; the evaluation takes a teacher's or a student's.
RUN_PREFIX_PATTERNS: dict[str, str] = {
    stage: "(runs/" + "/".join(tagged(RUN_STAGES[s]) for s in list(RUN_STAGES)[: i + 1]) + "/)?"
    for i, stage in enumerate(RUN_STAGES)
}
RUN_PREFIX_PATTERNS[EVALUATION] = f"(runs/{RUN_DIR_PATTERN}/)?"


def stage_sections(stage: str, validation_split: Any = None) -> tuple[str, ...]:
    """The sections ``stage`` reads; a training stage's include EVALUATION when a validation split is set."""
    sections = STAGE_SECTIONS[stage]
    if stage in TRAINING_STAGES and validation_split:
        sections += (EVALUATION,)
    return sections


def run_digest_sections(validation_split: Any = None) -> dict[str, tuple[str, ...]]:
    """Per learning stage, the sections its run directory's digest covers: those it reads that no
    earlier stage reads (a stage's directory lies inside the earlier stages')."""
    seen: list[str] = []
    out = {}
    for stage in RUN_STAGES:
        out[stage] = tuple(s for s in stage_sections(stage, validation_split) if s not in seen)
        seen.extend(out[stage])
    return out


def stage_params(config: dict[str, Any], stage: str, changes: dict[str, Any] | None = None) -> str:
    """The sections ``stage`` reads in ``config`` (a dataset's merged config mapping), after the dotted
    ``changes`` of a study run, as one JSON string: Snakemake reruns a job when its params change."""
    if changes:
        config = set_dotted(config, changes)
    split = (config.get("validation") or {}).get("split")
    return json.dumps({s: _read(config, s) for s in stage_sections(stage, split)}, sort_keys=True)


def _read(config: dict[str, Any], key: str) -> Any:
    """A section, or a dotted key inside one (None where absent)."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
