"""The label of a listed video: a list's label column (CSV class names, PEL4VAD's 0 / 1), else
the dataset's naming rule (:data:`dakd.datasets.naming.LABEL_RULES`) applied to its name."""

from __future__ import annotations

import re

from ..datasets.naming import LABEL_RULES, XD_CLASSES
from .errors import FeatureImportError

NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")
NORMAL_CLASS_NAMES = {"normal", "a", "0"}


def label_from_name(kind: str, video_id: str, where: str) -> tuple[int, str]:
    found = LABEL_RULES.get(kind)(video_id)
    if found is None:
        raise FeatureImportError(f"{where}: cannot read a {kind} label from the name {video_id!r}")
    return found


def numeric_label(value: str, where: str) -> int | None:
    """0 / 1 from ``0``, ``1``, ``0.0``, ``1.0``; None when ``value`` is not a number."""
    if not NUMBER.fullmatch(value):
        return None
    number = float(value)
    if number not in (0.0, 1.0):
        raise FeatureImportError(f"{where}: label {value!r} is neither 0 (normal) nor 1 (anomalous)")
    return int(number)


def label_from_csv(value: str, kind: str, where: str = "list") -> tuple[int, str]:
    """A CSV label: a class name (``Normal`` / XD ``A`` are normal) or 0/1."""
    value = value.strip()
    number = numeric_label(value, where)
    if number is not None:
        return (0, "Normal") if number == 0 else (1, "Anomaly")
    if value.lower() in NORMAL_CLASS_NAMES:
        return 0, "Normal"
    if kind == "xd_violence":
        code = value.split("-")[0]
        return 1, XD_CLASSES.get(code, code)
    return 1, value


def label_of(kind: str, video_id: str, value: str | None, where: str) -> tuple[int, str]:
    """The label a list line gives: its CSV / label column, else the naming rule. A numeric
    column (PEL4VAD's ``1.0``) keeps the class the naming rule reads when the two agree."""
    if value is None:
        return label_from_name(kind, video_id, where)
    label, class_name = label_from_csv(value, kind, where)
    if numeric_label(value.strip(), where) is not None and label == 1:
        named = LABEL_RULES.get(kind)(video_id)
        if named is not None and named[0] == 1:
            class_name = named[1]
    return label, class_name
