"""Video decoding (decord) into fixed-length snippets."""

from .decode import DecodeError, VideoDecoder, probe_video
from .snippets import SnippetPlan, plan_snippets

__all__ = ["DecodeError", "SnippetPlan", "VideoDecoder", "plan_snippets", "probe_video"]
