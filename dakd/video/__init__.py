"""Video decoding (decord, PyAV or torchcodec) into fixed-length snippets."""

from .decode import FRAMES, VideoDecoder, VideoInfo, probe_video, resize_frames
from .readers import READERS, DecodeError, open_reader
from .snippets import SnippetPlan, plan_snippets

__all__ = ["FRAMES", "READERS", "DecodeError", "SnippetPlan", "VideoDecoder", "VideoInfo", "open_reader",
           "plan_snippets", "probe_video", "resize_frames"]
