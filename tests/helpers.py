"""Shared test helpers (importable because pytest puts tests/ on the path)."""

from dakd.config import DakdConfig, apply_overrides

SMALL_MODEL = {"width": 64, "heads": 4, "ffn_dim": 128}
SMALL_OPTIM = {"epochs": 30, "normal_per_batch": 10, "anomalous_per_batch": 10}


def small_config(**overrides: str) -> DakdConfig:
    """The paper's config scaled down (width 64, 30 epochs) so CPU tests take seconds.

    Keyword names are dotted config keys, e.g. ``small_config(**{"teacher.optim.epochs": "3"})``.
    """
    data = {
        "teacher": {"model": dict(SMALL_MODEL), "optim": dict(SMALL_OPTIM)},
        "student": {"model": {**SMALL_MODEL, "terms": {"cross_c2c": False}}, "optim": dict(SMALL_OPTIM)},
    }
    return DakdConfig.from_dict(apply_overrides(data, [f"{k}={v}" for k, v in overrides.items()]))


def write_video(path, num_frames: int, width: int = 64, height: int = 48, fps: int = 25, step: int = 3,
                b_frames: int = 2) -> None:
    """H.264 (yuv444p, lossless, with B-frames) whose frame i is a flat grey of level (step*i) % 256.

    yuv444p allows odd frame sizes; the grey level lets a test read back which frame it got.
    """
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        stream.options = {"bf": str(b_frames), "qp": "0"}
        for i in range(num_frames):
            image = np.full((height, width, 3), (step * i) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# An encoder each container takes (FFmpeg picks the container from the extension; H.264 elsewhere).
FFMPEG_CODECS = {".webm": ["-c:v", "libvpx"], ".ogv": ["-c:v", "libtheora"], ".flv": ["-c:v", "flv"],
                 ".wmv": ["-c:v", "wmv2"], ".asf": ["-c:v", "wmv2"], ".mpg": ["-c:v", "mpeg1video"],
                 ".mpeg": ["-c:v", "mpeg1video"], ".vob": ["-c:v", "mpeg2video"], ".avi": ["-c:v", "mpeg4"],
                 ".3gp": ["-c:v", "h263", "-s", "128x96"], ".3g2": ["-c:v", "h263", "-s", "128x96"]}


def ffmpeg_clip(path, frames: int = 12, fps: int = 25, source: str = "testsrc", extra: tuple[str, ...] = ()) -> None:
    """A ``source`` (testsrc, mandelbrot, ...) clip of ``frames`` frames at 64x48 (or the codec's
    size) in the container ``path``'s extension names, made by the ffmpeg command."""
    import subprocess

    codec = FFMPEG_CODECS.get(path.suffix.lower(), ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=size=64x48:rate={fps}",
                    "-frames:v", str(frames), *codec, *extra, str(path)], check=True, timeout=60)


def vfr_clip(path) -> None:
    """80 frames, 64x48: 2 s at 10 fps (testsrc) then 2 s at 30 fps (mandelbrot), timestamps kept
    (a variable frame rate: frame 19 is shown at 1.9 s, frame 20 at 2.0 s, frame 21 at 2.033 s)."""
    import subprocess

    graph = ("[1:v]trim=duration=2,setpts=PTS-STARTPTS,settb=1/30[b];[0:v]settb=1/30,setpts=PTS-STARTPTS[a];"
             "[a][b]concat=n=2:v=1[v]")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2",
                    "-f", "lavfi", "-i", "mandelbrot=size=64x48:rate=30", "-filter_complex", graph, "-map", "[v]",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
