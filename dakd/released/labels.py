"""The label of a listed video, from what the list says of it: a label column (CSV class names,
PEL4VAD's 0 / 1), its place in the list (``anomalous_first``: the first N videos of the list
are anomalous, as RTFM's and TEVAD's code read their lists), the dataset's naming rule
(:data:`dakd.datasets.naming.LABEL_RULES`) applied to its name, or none of these (a test
video then takes its label from the ground truth). Where two of them speak, they must agree."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..datasets.naming import LABEL_RULES, XD_CLASSES
from .errors import FeatureImportError

NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")
NORMAL_CLASS_NAMES = {"normal", "a", "0"}
CLASS_OF = {0: "Normal", 1: "Anomaly"}


@dataclass(frozen=True)
class ListOrder:
    """``anomalous_first``: the first ``count`` videos of a list (in order of first appearance) are
    anomalous and the rest normal; ``key`` is the setting's dotted name, for messages."""

    count: int
    key: str

    def label(self, index: int) -> int:
        return int(index < self.count)

    def describe(self, index: int) -> str:
        kind = "anomalous" if index < self.count else "normal"
        return f"the list's video {index + 1}: {kind} by {self.key}={self.count}"


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


def label_from_csv(value: str, kind: str | None, where: str = "list") -> tuple[int, str]:
    """A CSV label: a class name (``Normal`` / XD ``A`` are normal) or 0/1."""
    value = value.strip()
    number = numeric_label(value, where)
    if number is not None:
        return number, CLASS_OF[number]
    if value.lower() in NORMAL_CLASS_NAMES:
        return 0, "Normal"
    if kind == "xd_violence":
        code = value.split("-")[0]
        return 1, XD_CLASSES.get(code, code)
    return 1, value


def label_of(kind: str | None, video_id: str, value: str | None, where: str,
             order: ListOrder | None = None, index: int = 0) -> tuple[int, str] | None:
    """The label of the list's ``index``-th video (0-based, in order of first appearance):
    its label column, else its place in the list (``order``), else the naming rule ``kind``;
    None when nothing says (no column, no order, no rule). The class is the naming rule's
    where it agrees; a column or an order that the name (or each other) contradicts is an error."""
    named = None if kind is None else LABEL_RULES.get(kind)(video_id)
    found: tuple[int, str] | None = None
    said = ""
    if value is not None:
        found, said = label_from_csv(value, kind, where), f"its label column says {value.strip()!r}"
    if order is not None:
        by_order = order.label(index)
        if found is not None and found[0] != by_order:
            raise FeatureImportError(f"{where}: video {video_id!r} is {order.describe(index)}, but {said}; "
                                     "the list's order contradicts its labels")
        found, said = found or (by_order, CLASS_OF[by_order]), said or f"it is {order.describe(index)}"
    if found is None:
        return None if kind is None else label_from_name(kind, video_id, where)
    if named is not None and named[0] != found[0]:
        raise FeatureImportError(f"{where}: video {video_id!r} is {CLASS_OF[named[0]].lower()} by its name "
                                 f"({kind} naming), but {said}; the list contradicts its names")
    if named is not None and named[0] == 1 and found[0] == 1 and (value is None or numeric_label(
            value.strip(), where) is not None):
        return 1, named[1]  # a numeric column or the order keep the class the name reads
    return found
