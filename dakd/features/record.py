"""What a checkpoint records about the features it was trained on.

Training calls :func:`extraction_record`; ``dakd score`` reads the record back
(:mod:`dakd.scoring.extraction`) to rebuild the extractors. It reads shard metadata only, so
training imports neither the backbones (torchvision is slow to import) nor deployment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .store import read_metadata


def extraction_record(shards: Sequence[Path], backbones: Sequence[str]) -> dict[str, Any]:
    """How the features of ``backbones`` in the shards were made, from the first shard's
    metadata: the stage that wrote them (``extract``, ``import-features``, ...), its config
    (the extract config for ``extract``), the seed of random weights and each backbone's
    :class:`~dakd.features.BackboneInfo`. ``dakd score`` rebuilds the extractors from it."""
    infos, prov = read_metadata(shards[0])
    stage = prov.get("stage")
    backbone_infos = {b: dataclasses.asdict(infos[b]) for b in backbones if b in infos}
    return {"stage": stage, "shard": str(shards[0]), "config": prov.get("config") if stage == "extract" else None,
            "frames": prov.get("inputs", {}).get("frames"),
            "seed": random_weights_seed(backbone_infos), "code_version": prov.get("code_version"),
            "backbones": backbone_infos}


RANDOM_WEIGHTS = re.compile(r"random \(seed (\d+); not a pretrained model\)")


def random_weights_seed(infos: dict[str, dict[str, Any]]) -> int:
    """The seed random backbone weights were drawn from, as ``dakd.extract.build_backbones``
    stamps it into their weights source; 0 when no backbone is random (the seed is then unused)."""
    for info in infos.values():
        found = RANDOM_WEIGHTS.fullmatch(str(info.get("weights")))
        if found:
            return int(found.group(1))
    return 0
