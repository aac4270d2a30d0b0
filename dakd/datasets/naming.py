"""How each benchmark names its videos and their labels: the rules shared by the dataset
adapters (:mod:`dakd.datasets.adapters`) and the import of released features
(:mod:`dakd.released`), which reads labels from feature file names.

Each rule maps a video name to ``(label, class)`` (0 normal, 1 anomalous) or None when the
name carries no label; :data:`LABEL_RULES` holds them by dataset kind (the ``naming`` of a
``features`` dataset in config.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..registry import Registry
from .base import DatasetError

LabelRule = Callable[[str], tuple[int, str] | None]
LABEL_RULES: Registry[LabelRule] = Registry("naming rule (dataset kind)", DatasetError)
register_label_rule = LABEL_RULES.register


@register_label_rule("ucf_crime")
def ucf_label(video_id: str) -> tuple[int, str] | None:
    """(label, class) from a UCF-Crime name: ``Normal_Videos_003_x264`` normal,
    ``Abuse001_x264`` anomalous of class Abuse; None when the name carries neither."""
    if "normal" in video_id.lower():
        return 0, "Normal"
    match = re.match(r"([A-Za-z]+?)\d", video_id)
    return (1, match.group(1)) if match else None


@register_label_rule("shanghaitech")
def shanghaitech_label(video_id: str) -> tuple[int, str] | None:
    """(label, class) of a ShanghaiTech video in Zhong et al.'s split: the original training
    videos (``01_001``) are normal, the original test videos (``01_0014``) anomalous."""
    if re.fullmatch(r"\d{2}_\d{3}", video_id):
        return 0, "Normal"
    if re.fullmatch(r"\d{2}_\d{4}", video_id):
        return 1, "Anomaly"
    return None


XD_CLASSES = {"A": "Normal", "B1": "Fighting", "B2": "Shooting", "B4": "Riot", "B5": "Abuse",
              "B6": "Car accident", "G": "Explosion"}
XD_LABEL = re.compile(r"label_([A-Z]\d?)")


@register_label_rule("xd_violence")
def xd_label(name: str) -> tuple[int, str] | None:
    """(label, class) from an XD-Violence name: ``..._label_A`` normal, ``..._label_B1-0-0``
    violent with the class of the first code; None when the name carries no label."""
    match = XD_LABEL.search(name)
    if match is None:
        return None
    code = match.group(1)
    return int(code != "A"), XD_CLASSES.get(code, code)
