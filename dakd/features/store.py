"""Parquet feature shards: one row per video, one column per backbone.

Layout of a shard (schema version 1):

========================  ==============  ===============================================
column                    type            meaning
========================  ==============  ===============================================
``video_id``              string          unique id (file stem)
``split``                 string          ``train`` / ``test`` / any other split name
``label``                 int8            video-level label, 0 normal, 1 anomalous
``class_name``            string          anomaly class (``Normal`` for normal videos)
``num_frames``            int64           decodable frames of the video
``fps``                   float32         native frame rate
``snippet_len``           int32           frames per snippet (16 in the paper)
``snippet_stride``        int32           frames between snippet starts
``num_snippets``          int32           S, snippets in this video
``last_snippet_frames``   int32           real frames in the last snippet (< snippet_len
                                          when it was padded by repeating the last frame)
``feat__<backbone>``      list<float32>   the (S, crops, dim) array, flattened row-major
========================  ==============  ===============================================

The file metadata key ``dakd`` holds JSON with ``schema_version``, per backbone its
``dim``, ``crops``, ``weights`` source and ``preprocessing``, and the ``provenance`` of
the run that wrote it. Reading returns numpy views on the Arrow buffers (no copies).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path
from ..errors import DakdError
from ..ids import SPLIT, check_video_id
from .schema import META_FIELDS, feature_column, schema_problem

SCHEMA_VERSION = 1
METADATA_KEY = b"dakd"


# The files a feature folder holds per shard: the shard and, from extraction, its failure manifest.
SHARD_OUTPUT = re.compile(r"shard-\d+\.(parquet|failures\.json)")


def shard_file_name(index: int) -> str:
    """The file name of shard number ``index`` (``shard-00003.parquet``)."""
    return f"shard-{index:05d}.parquet"


def failures_file_name(index: int) -> str:
    """The file name of shard ``index``'s failure manifest (``shard-00003.failures.json``)."""
    return failure_manifest_path(shard_file_name(index)).name


def failure_manifest_path(shard_path: str | os.PathLike) -> Path:
    """The failure manifest beside a shard: the videos extraction could not read."""
    shard_path = Path(shard_path)
    return shard_path.with_name(shard_path.stem + ".failures.json")


def is_shard_output(name: str) -> bool:
    """Whether a file name is one a shard writer writes (a shard or a failure manifest)."""
    return SHARD_OUTPUT.fullmatch(name) is not None


def list_shards(folder: str | os.PathLike) -> list[Path]:
    """The shards of a folder: its ``*.parquet`` files, sorted, without hidden (temporary) ones."""
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith("."))


class FeatureStoreError(DakdError):
    """A shard is missing, malformed or does not match what the caller needs."""


@dataclass(frozen=True)
class BackboneInfo:
    """How one backbone's features were made; stored in the shard metadata."""

    name: str
    dim: int
    crops: int
    weights: str
    preprocessing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoMeta:
    """The per-video columns of a shard, without features."""

    video_id: str
    split: str
    label: int
    class_name: str
    num_frames: int
    fps: float
    snippet_len: int
    snippet_stride: int
    num_snippets: int
    last_snippet_frames: int

    @property
    def covered_frames(self) -> int:
        """Frames that the snippets span (the length frame labels are built to)."""
        if self.num_snippets == 0:
            return 0
        last_end = (self.num_snippets - 1) * self.snippet_stride + self.last_snippet_frames
        return min(self.num_frames, last_end)


@dataclass
class VideoFeatures:
    """One video's row: metadata plus ``features[backbone]`` of shape (S, crops, dim)."""

    meta: VideoMeta
    features: dict[str, np.ndarray]


@dataclass
class Shard:
    """A shard read from disk."""

    path: Path
    backbones: dict[str, BackboneInfo]
    provenance: dict[str, Any]
    videos: list[VideoFeatures]


def write_shard(
    path: str | os.PathLike,
    videos: Sequence[VideoFeatures],
    backbones: Iterable[BackboneInfo],
    provenance: dict[str, Any],
) -> None:
    """Write ``videos`` to a Parquet shard at ``path`` atomically (temp file + rename).

    Every video must carry every backbone with shape (num_snippets, crops, dim).
    """
    infos = {b.name: b for b in backbones}
    columns: dict[str, list[Any]] = {f.name: [] for f in META_FIELDS}
    flat: dict[str, list[np.ndarray]] = {name: [] for name in infos}
    for video in videos:
        for key, value in asdict(video.meta).items():
            columns[key].append(value)
        for name, info in infos.items():
            array = video.features.get(name)
            expected = (video.meta.num_snippets, info.crops, info.dim)
            if array is None or array.shape != expected:
                got = None if array is None else tuple(array.shape)
                raise FeatureStoreError(f"{path}: video {video.meta.video_id!r} backbone {name!r} has shape {got}, "
                                        f"expected {expected}")
            array = np.ascontiguousarray(array, dtype=np.float32)
            check_finite(array, f"{path}: video {video.meta.video_id!r} backbone {name!r}")
            flat[name].append(array.reshape(-1))

    # One row group per video, feature lists built zero-copy from each video's array: the
    # writer then encodes a video at a time instead of copying and encoding the whole shard.
    arrays = [pa.array(columns[f.name], type=f.type) for f in META_FIELDS]
    fields = list(META_FIELDS)
    for name in infos:
        arrays.append(pa.chunked_array([_one_row_list(row) for row in flat[name]], type=pa.list_(pa.float32())))
        fields.append(pa.field(feature_column(name), pa.list_(pa.float32()), nullable=False))
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "backbones": {name: asdict(info) for name, info in infos.items()},
        "provenance": provenance,
    }
    schema = pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata, default=str)})
    table = pa.Table.from_arrays(arrays, schema=schema)
    with atomic_path(path, size_hint=table.nbytes) as tmp:  # uncompressed: an upper bound
        pq.write_table(table, tmp, compression="zstd", row_group_size=1,
                       use_dictionary=[f.name for f in META_FIELDS])


def check_finite(array: np.ndarray, where: str) -> None:
    """A FeatureStoreError naming ``where`` and the first snippet holding NaN or infinity:
    one such value turns every weight of a model trained on it into NaN."""
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        count = int(finite.size - np.count_nonzero(finite))
        raise FeatureStoreError(f"{where}: {count} non-finite feature value(s), the first "
                                f"{array[tuple(bad)]} at snippet {bad[0]} (index {tuple(int(i) for i in bad)})")


def _one_row_list(values: np.ndarray) -> pa.ListArray:
    """A one-row list<float32> array viewing ``values`` (no copy)."""
    if values.size >= 2**31:
        raise FeatureStoreError(f"a video with {values.size} feature values exceeds a Parquet list (2^31)")
    return pa.ListArray.from_arrays(pa.array(np.array([0, values.size], dtype=np.int32)), pa.array(values))


def read_metadata(path: str | os.PathLike) -> tuple[dict[str, BackboneInfo], dict[str, Any]]:
    """Backbone infos and provenance of a shard, read from the footer only, with its columns
    checked against them (:func:`dakd.features.schema.schema_problem`)."""
    path = Path(path)
    if not path.is_file():
        raise FeatureStoreError(f"{path}: feature shard not found")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise FeatureStoreError(f"{path}: not a readable Parquet shard ({_first_line(exc)})") from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise FeatureStoreError(f"{path}: no dakd metadata; not a dakd feature shard")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise FeatureStoreError(f"{path}: dakd metadata is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        version = meta.get("schema_version") if isinstance(meta, dict) else None
        raise FeatureStoreError(f"{path}: schema version {version} is not the supported {SCHEMA_VERSION}")
    try:
        infos = {name: BackboneInfo(**info) for name, info in meta["backbones"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise FeatureStoreError(f"{path}: malformed backbone metadata ({_first_line(exc)})") from None
    for info in infos.values():
        if not (isinstance(info.dim, int) and info.dim >= 1 and isinstance(info.crops, int) and info.crops >= 1):
            raise FeatureStoreError(f"{path}: backbone {info.name!r} metadata says {info.crops} crops of "
                                    f"{info.dim}-d features")
    if problem := schema_problem(schema, list(infos)):
        raise FeatureStoreError(f"{path}: {problem}")
    return infos, meta.get("provenance", {})


def check_meta(meta: VideoMeta, path: Path) -> VideoMeta:
    """A video's row as read from ``path``, its values checked (ids and splits name files
    downstream; counts decide how frame labels line up)."""
    where = f"{path}: video {meta.video_id!r}"
    check_video_id(meta.video_id, f"{path}")
    if not SPLIT.fullmatch(meta.split):
        raise FeatureStoreError(f"{where}: split {meta.split!r} is not a split name")
    problems = [
        (meta.label in (0, 1), f"label {meta.label} is not 0 or 1"),
        (meta.snippet_len >= 1 and meta.snippet_stride >= 1,
         f"snippet length/stride {meta.snippet_len}/{meta.snippet_stride}"),
        (meta.num_snippets >= 0, f"{meta.num_snippets} snippets"),
        (1 <= meta.last_snippet_frames <= meta.snippet_len,
         f"{meta.last_snippet_frames} real frames in a {meta.snippet_len}-frame last snippet"),
        (meta.num_frames >= 1, f"{meta.num_frames} frames"),
        (np.isfinite(meta.fps) and meta.fps > 0, f"frame rate {meta.fps}"),
    ]
    for ok, what in problems:
        if not ok:
            raise FeatureStoreError(f"{where}: {what}")
    return meta


def read_shard(path: str | os.PathLike, backbones: Sequence[str] | None = None,
               expected_dims: dict[str, int] | None = None) -> Shard:
    """Read a whole shard; ``features`` arrays are zero-copy views on the Arrow buffers.

    Args:
        backbones: columns to read (all when None). A missing one is a FeatureStoreError.
        expected_dims: backbone -> dimension the caller's model needs; a mismatch is a
            FeatureStoreError naming the shard.
    """
    path = Path(path)
    infos, prov, wanted = _check_columns(path, backbones, expected_dims)
    videos = list(_read_videos(path, infos, wanted))
    return Shard(path=path, backbones={n: infos[n] for n in wanted}, provenance=prov, videos=videos)


def iter_shard_videos(path: str | os.PathLike, backbones: Sequence[str] | None = None,
                      expected_dims: dict[str, int] | None = None) -> Iterator[VideoFeatures]:
    """Yield a shard's videos one row group at a time (a video per row group in shards written
    by :func:`write_shard`), so a reader holds one video rather than the whole shard."""
    path = Path(path)
    infos, _, wanted = _check_columns(path, backbones, expected_dims)
    return _read_videos(path, infos, wanted)


def _read_videos(path: Path, infos: dict[str, BackboneInfo], wanted: list[str]) -> Iterator[VideoFeatures]:
    columns = [f.name for f in META_FIELDS] + [feature_column(n) for n in wanted]
    try:
        parquet = pq.ParquetFile(path, memory_map=True)
    except (pa.ArrowException, OSError) as exc:
        raise FeatureStoreError(f"{path}: not a readable Parquet shard ({_first_line(exc)})") from None
    for group in range(parquet.num_row_groups):
        try:
            table = parquet.read_row_group(group, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise FeatureStoreError(f"{path}: row group {group} of {parquet.num_row_groups} is corrupt "
                                    f"({_first_line(exc)}); extract or import this shard again") from None
        if empty := [name for name in columns if table.column(name).null_count]:
            raise FeatureStoreError(f"{path}: column {empty[0]!r} has empty (null) values in row group {group}")
        metas = [check_meta(VideoMeta(**row), path) for row in table.select([f.name for f in META_FIELDS]).to_pylist()]
        videos = [VideoFeatures(meta=m, features={}) for m in metas]
        for name in wanted:
            info = infos[name]
            for video, flat in zip(videos, _iter_rows(table.column(feature_column(name)))):
                expected = video.meta.num_snippets * info.crops * info.dim
                if flat.size != expected:
                    raise FeatureStoreError(f"{path}: video {video.meta.video_id!r} backbone {name!r} holds "
                                            f"{flat.size} values, expected "
                                            f"{video.meta.num_snippets}x{info.crops}x{info.dim}")
                check_finite(flat.reshape(video.meta.num_snippets, -1), f"{path}: video {video.meta.video_id!r} "
                             f"backbone {name!r}")
                video.features[name] = flat.reshape(video.meta.num_snippets, info.crops, info.dim)
        yield from videos


def _check_columns(path: Path, backbones: Sequence[str] | None, expected_dims: dict[str, int] | None,
                   ) -> tuple[dict[str, BackboneInfo], dict[str, Any], list[str]]:
    infos, prov = read_metadata(path)
    wanted = list(infos) if backbones is None else list(backbones)
    for name in wanted:
        if name not in infos:
            raise FeatureStoreError(f"{path}: no features for backbone {name!r} (shard has {sorted(infos)})")
        if expected_dims and name in expected_dims and infos[name].dim != expected_dims[name]:
            raise FeatureStoreError(f"{path}: backbone {name!r} features are {infos[name].dim}-d, "
                                    f"expected {expected_dims[name]}-d")
    return infos, prov, wanted


def _iter_rows(column: pa.ChunkedArray) -> Iterable[np.ndarray]:
    """Yield each list row as a numpy view on the column's value buffer."""
    for chunk in column.chunks:
        values = chunk.values.to_numpy(zero_copy_only=True)
        offsets = chunk.offsets.to_numpy()
        for i in range(len(chunk)):
            yield values[offsets[i] : offsets[i + 1]]


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
