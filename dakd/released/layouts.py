"""The layouts released features come in and the crop modes of a list: the choices that
config.yaml (``dakd.config``'s ``FeatureLayout`` / ``FeatureCrops``, checked equal by the tests)
and ``dakd import-features`` accept. Light on purpose: the command line reads it to parse."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """What each file of a layout holds: ``ndim`` axes (``shape`` in words) and whether a video
    is one file (``rtfm``, ``center``) or one file per crop (``per_crop``)."""

    ndim: int
    shape: str
    one_file: bool


LAYOUT_RULES = {
    "rtfm": Layout(3, "(T, crops, D)", True),
    "per_crop": Layout(2, "(T, D)", False),
    "center": Layout(2, "(T, D)", True),
}
# "auto" reads the layout from the files: per_crop when the list names crops, else by the array's axes.
LAYOUTS = ("auto", *LAYOUT_RULES)
AUTO_BY_NDIM = {3: "rtfm", 2: "center"}

# The crops a list's video takes: those the list names, or every crop file on disk beside them.
CROP_MODES = ("listed", "all")


def resolve_layout(layout: str, has_crops: bool, ndim: int) -> str:
    """The layout a video's files are read as: ``layout`` itself, or for ``auto`` the one the
    files show (per-crop files, else an array of 3 axes is rtfm and any other center)."""
    if layout != "auto":
        return layout
    return "per_crop" if has_crops else AUTO_BY_NDIM.get(ndim, "center")
