import os
import stat

import pytest

from dakd.atomic import atomic_path, read_text, write_json
from dakd.errors import DakdError


@pytest.fixture
def umask():
    def set_mask(mask: int) -> None:
        os.umask(mask)

    previous = os.umask(0o022)
    yield set_mask
    os.umask(previous)


def test_outputs_respect_the_umask(tmp_path, umask):
    """mkstemp alone creates 0600 files, unreadable to colleagues on a shared cluster."""
    umask(0o022)
    write_json(tmp_path / "a.json", {"x": 1})
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    umask(0o007)
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o660


def test_temp_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".out.json.abc123.tmp"
    stale.write_text("half written")
    other = tmp_path / ".other.json.abc123.tmp"
    other.write_text("another output's temp file")
    write_json(tmp_path / "out.json", {"x": 1})
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abc123.tmp", "out.json"]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    write_json(tmp_path / "out.json", {"x": 1})
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed")
    assert (tmp_path / "out.json").read_text().strip().endswith("}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_nul_byte_in_a_text_input_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "train.list"
    path.write_bytes(b"Abuse001_x264.npy\nAbuse\x00002_x264.npy\n")
    with pytest.raises(DakdError) as error:
        read_text(path)
    assert str(error.value) == f"{path}:2: not text (a NUL byte at byte 23)"
    path.write_bytes(b"\xef\xbb\xbfAbuse001_x264.npy\n")
    assert read_text(path) == "Abuse001_x264.npy\n"
