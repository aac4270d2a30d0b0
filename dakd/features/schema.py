"""The columns of a feature shard (:mod:`dakd.features.store`), and the check every shard read
starts with: a column missing, renamed or of another type is one line naming the file and the
column, before a value is read."""

from __future__ import annotations

import pyarrow as pa

FEATURE_PREFIX = "feat__"

META_FIELDS: tuple[pa.Field, ...] = (
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("label", pa.int8(), nullable=False),
    pa.field("class_name", pa.string(), nullable=False),
    pa.field("num_frames", pa.int64(), nullable=False),
    pa.field("fps", pa.float32(), nullable=False),
    pa.field("snippet_len", pa.int32(), nullable=False),
    pa.field("snippet_stride", pa.int32(), nullable=False),
    pa.field("num_snippets", pa.int32(), nullable=False),
    pa.field("last_snippet_frames", pa.int32(), nullable=False),
)


def feature_column(backbone: str) -> str:
    return f"{FEATURE_PREFIX}{backbone}"


def _kind(type_: pa.DataType) -> str:
    """What a column holds, as far as reading it goes: widths may differ (another tool may write
    int64 labels or float64 rates), kinds may not."""
    if pa.types.is_integer(type_):
        return "integer"
    if pa.types.is_floating(type_):
        return "float"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    if (pa.types.is_list(type_) or pa.types.is_large_list(type_)) and pa.types.is_floating(type_.value_type):
        return "list of floats"
    return str(type_)


def schema_problem(schema: pa.Schema, backbones: list[str]) -> str | None:
    """What keeps ``schema`` from being a shard's with ``backbones`` (the metadata's): a missing
    column (and any unexpected one, a renamed column's new name), or a column of another kind;
    None when it fits."""
    expected = {f.name: _kind(f.type) for f in META_FIELDS}
    expected.update({feature_column(b): "list of floats" for b in backbones})
    names = schema.names
    missing = [name for name in expected if name not in names]
    unexpected = [name for name in names if name not in expected]
    if missing:
        name = missing[0]
        backbone = name.removeprefix(FEATURE_PREFIX)
        backbone = f" (backbone {backbone!r} of its metadata)" if backbone != name else ""
        extra = f" and has unexpected column(s) {', '.join(map(repr, unexpected))}" if unexpected else ""
        return f"no column {name!r}{backbone}{extra} (a renamed or dropped column; not a shard dakd wrote?)"
    if unexpected:
        return (f"unexpected column(s) {', '.join(map(repr, unexpected))} (a backbone column the metadata does not "
                f"describe, or a column another tool added)")
    for name, kind in expected.items():
        found = _kind(schema.field(name).type)
        if found != kind:
            return f"column {name!r} holds {found} values, expected {kind}"
    return None
