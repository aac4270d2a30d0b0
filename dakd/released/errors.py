"""The error of every released-feature import and export."""

from __future__ import annotations

from ..errors import DakdError


class FeatureImportError(DakdError):
    """A community feature file, list or ground-truth vector cannot be imported."""
