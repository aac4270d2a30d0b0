"""Scoring new footage with a trained model: ``dakd score`` (offline and online), alert
intervals, timelines, overlay videos, and ``dakd export-model``.

Kept free of imports: the workflow reads :mod:`dakd.scoring.sources` while it parses.
"""
