"""Property tests: arbitrary text in a released feature list (.list of paths, CSV path,label)
never crashes the reader with anything but the project's own one-line error."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dakd.errors import DakdError
from dakd.released.lists import read_video_list

NAMES = ["Abuse001_x264", "Normal_Videos_003_x264", "01_0014", "01_001"]
TOKENS = st.sampled_from([*(f"{n}{s}" for n in NAMES for s in ("_i3d.npy", "__0.npy", "__5.npy", ".npy", "_1.npy")),
                          "G:\\UCF\\", "/home/x/", "train/", "path,label\n", ",", " 1.0", " Abuse", "\n", "\r\n",
                          "..", "/", "\\", "\x00", "é", "__", "_", "-1", "nan"])
TEXT = st.one_of(st.text(max_size=200), st.lists(TOKENS, max_size=30).map("".join),
                 st.binary(max_size=80).map(lambda b: b.decode("latin-1")))


@settings(max_examples=80, deadline=None)
@given(text=TEXT, suffix=st.sampled_from([".list", ".txt", ".csv"]), kind=st.sampled_from(["ucf_crime",
                                                                                           "shanghaitech"]),
       crops=st.sampled_from(["listed", "all"]))
@example(text="\x00\\0", suffix=".list", kind="ucf_crime", crops="listed")  # was a ValueError from os.scandir
def test_arbitrary_list_text(text, suffix, kind, crops):
    root = Path(tempfile.mkdtemp())
    try:
        features = root / "features"
        features.mkdir()
        for name in NAMES:  # a few files the lists can name
            for file in (f"{name}_i3d.npy", f"{name}__0.npy", f"{name}__1.npy", f"{name}__5.npy", f"{name}.npy",
                         f"{name}_0.npy", f"{name}_1.npy"):
                np.save(features / file, np.zeros((2, 4), np.float32))
        data = text.encode("latin-1") if all(ord(c) < 256 for c in text) else text.encode()
        listing = root / f"videos{suffix}"
        listing.write_bytes(data)
        try:
            videos = read_video_list(listing, kind, features, crops=crops)
        except DakdError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert videos and all(v.files for v in videos)
    finally:
        shutil.rmtree(root)
