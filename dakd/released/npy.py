"""Released ``.npy`` feature files: headers read and checked without loading the data, arrays
read as (T, crops, D) float32 by the video's layout (:mod:`.layouts`)."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FeatureImportError
from .layouts import LAYOUT_RULES, resolve_layout
from .lists import ListedVideo


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` file's header says: shape, dtype, order and where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int


_HEADERS: dict[bytes, tuple[tuple[int, ...], bool, np.dtype]] = {}


def read_npy_header(path: Path) -> NpyHeader:
    """The header of a ``.npy`` file, checked against the file's size (a truncated download
    stops here, before anything is written). Parsed headers are cached by their bytes: the
    crops of a video, and most videos, share one."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(10)
            if len(start) < 10 or start[:6] != b"\x93NUMPY":
                raise ValueError("no .npy magic string")
            if start[6] not in (1, 2, 3):
                raise ValueError(f"unknown .npy format version {start[6]}")
            length = start[8:10] if start[6] == 1 else start[8:10] + fh.read(2)
            raw = fh.read(int.from_bytes(length, "little"))
            size = os.fstat(fh.fileno()).st_size
        parsed = _HEADERS.get(raw)
        if parsed is None:
            read = np.lib.format.read_array_header_1_0 if start[6] == 1 else np.lib.format.read_array_header_2_0
            parsed = read(io.BytesIO(length + raw))
            if len(_HEADERS) < 100_000:
                _HEADERS[raw] = parsed
    except (OSError, ValueError) as exc:
        raise FeatureImportError(f"{path}: not a readable .npy feature file ({exc})") from exc
    shape, fortran, dtype = parsed
    header = NpyHeader(tuple(shape), dtype, fortran, 8 + len(length) + len(raw))
    expected = header.offset + math.prod(shape) * dtype.itemsize
    if dtype.hasobject or dtype.kind not in "fiu":
        raise FeatureImportError(f"{path}: dtype {dtype} is not a number type")
    if size != expected:
        raise FeatureImportError(f"{path}: {size} bytes, but its header {tuple(shape)} {dtype} needs {expected} "
                                 "(a truncated or damaged file)")
    return header


def _read_array(path: Path, header: NpyHeader, snippets: int | None) -> np.ndarray:
    """The first ``snippets`` rows (all when None) of a checked ``.npy`` file."""
    rows = header.shape[0] if snippets is None else min(snippets, header.shape[0])
    if header.fortran:
        return np.load(path, mmap_mode="r", allow_pickle=False)[:rows]
    per_row = math.prod(header.shape[1:]) * header.dtype.itemsize
    with open(path, "rb") as fh:
        fh.seek(header.offset)
        data = fh.read(rows * per_row)
    if len(data) != rows * per_row:
        raise FeatureImportError(f"{path}: the file changed while it was imported (shorter than its header says)")
    return np.frombuffer(data, header.dtype).reshape((rows, *header.shape[1:]))


def _open_headers(video: ListedVideo, layout: str) -> tuple[list[NpyHeader], str]:
    """The video's file headers (no data is read), checked against the layout, and the
    layout they were read as."""
    headers = [read_npy_header(path) for path in video.files]
    layout = resolve_layout(layout, bool(video.crops), len(headers[0].shape))
    rule = LAYOUT_RULES[layout]
    for path, header in zip(video.files, headers):
        if len(header.shape) != rule.ndim or header.shape[0] == 0:
            raise FeatureImportError(f"{path}: shape {header.shape} is not {rule.shape} for the {layout} layout")
    if rule.one_file and len(headers) != 1:
        raise FeatureImportError(f"{video.files[1]}: the {layout} layout has one file per video (per-crop files?)")
    if not rule.one_file and len({h.shape for h in headers}) != 1:
        raise FeatureImportError(f"{video.files[0].parent}: crops of {video.video_id!r} differ in shape "
                                 f"{sorted({h.shape for h in headers})}")
    return headers, layout


def video_shape(video: ListedVideo, layout: str) -> tuple[tuple[int, int, int], str]:
    """(T, crops, D) of the video, read from the .npy headers, and the resolved layout."""
    headers, layout = _open_headers(video, layout)
    shape = headers[0].shape
    if LAYOUT_RULES[layout].ndim == 3:  # (T, crops, D) in one file
        return (shape[0], shape[1], shape[2]), layout
    return (shape[0], len(headers), shape[1]), layout


def _finite(array: np.ndarray, path: Path, crop: int | None) -> np.ndarray:
    """``array`` as float32; a NaN or infinity (which would make every trained weight NaN)
    stops the import naming the file and where the first one is."""
    out = np.asarray(array, dtype=np.float32)
    if not np.isfinite(out).all():
        index = np.argwhere(~np.isfinite(out))[0]
        at = f"snippet {index[0]}"
        if out.ndim == 3:
            at += f", crop {index[1]}"
        elif crop is not None:
            at += f" (crop {crop})"
        raise FeatureImportError(f"{path}: non-finite value {out[tuple(index)]} at {at}; "
                                 "the file is damaged or was written from a failed extraction")
    return out


def load_video_array(video: ListedVideo, layout: str, snippets: int | None = None) -> np.ndarray:
    """The video's (T, crops, D) float32 array, cut to the first ``snippets`` when given;
    every value is checked to be finite."""
    headers, layout = _open_headers(video, layout)
    if LAYOUT_RULES[layout].ndim == 3:  # (T, crops, D) in one file
        return np.ascontiguousarray(_finite(_read_array(video.files[0], headers[0], snippets), video.files[0], None))
    crops = video.crops or [None] * len(headers)
    return np.ascontiguousarray(np.stack([_finite(_read_array(p, h, snippets), p, c)
                                          for p, h, c in zip(video.files, headers, crops)], axis=1))
