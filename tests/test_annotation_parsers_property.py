"""Property tests: arbitrary text in a dataset's list or annotation files never crashes the
adapters with anything but the project's own one-line error."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dakd.datasets import index_dataset
from dakd.errors import DakdError

# Text made of the characters these files are built from, plus anything else.
TOKENS = st.sampled_from(["Abuse028_x264.mp4", "Normal_Videos_003_x264.mp4", "Abuse", "Normal", "-1", "0", "1",
                          "165", "240", "01_0014", "01_001", "v_label_A", "v_label_B1-0-0", "  ", "\t", "\n",
                          "/", "\\", "..", "é", "\x00", "1e3", "-5", "99999999999999999999"])
TEXT = st.one_of(st.text(max_size=200), st.lists(TOKENS, max_size=40).map("".join),
                 st.binary(max_size=100).map(lambda b: b.decode("latin-1")))  # not UTF-8 once written back
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _index(kind: str, files: dict[str, str], videos: list[str], masks: dict[str, np.ndarray] | None = None) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            data = text.encode("latin-1") if text and all(ord(c) < 256 for c in text) else text.encode()
            (root / name).write_bytes(data)
        for video in videos:
            (root / video).parent.mkdir(parents=True, exist_ok=True)
            (root / video).touch()
        for name, mask in (masks or {}).items():
            (root / "test_frame_mask").mkdir(exist_ok=True)
            np.save(root / "test_frame_mask" / f"{name}.npy", mask)
        try:
            index_dataset(kind, root)
        except DakdError as exc:
            assert "\n" not in str(exc) and str(exc)
    finally:
        shutil.rmtree(root)


@SETTINGS
@given(train=TEXT, test=TEXT)
def test_ucf_crime_files(train, test):
    _index("ucf_crime", {"Anomaly_Train.txt": train, "Temporal_Anomaly_Annotation_for_Testing_Videos.txt": test},
           ["videos/Abuse028_x264.mp4", "videos/Normal_Videos_003_x264.mp4"])


@SETTINGS
@given(train=TEXT, test=TEXT, mask=st.lists(st.integers(-1, 2), max_size=20))
def test_shanghaitech_files(train, test, mask):
    _index("shanghaitech", {"SH_Train_new.txt": train, "SH_Test_NEW.txt": test},
           ["v/01_001.avi", "v/01_0014.avi"], {"01_0014": np.array(mask)})


@SETTINGS
@given(annotations=TEXT)
def test_xd_violence_annotations(annotations):
    _index("xd_violence", {"annotations.txt": annotations},
           ["train/a_label_A.mp4", "train/b_label_B1-0-0.mp4", "test/c_label_B2-0-0.mp4", "test/d_label_A.mp4"])
