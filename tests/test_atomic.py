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


def test_a_full_disk_is_one_line_naming_the_file_and_the_space(tmp_path):
    """Issue 21, item 8: a full disk was an 'internal error: OSError: [Errno 28]'. It names the file,
    the space free and the space needed now; the temporary file goes, the old output stays."""
    import errno
    import shutil

    from dakd.atomic import DiskFullError

    write_json(tmp_path / "out.json", {"x": 1})
    with pytest.raises(DiskFullError) as error, atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_bytes(b"x" * 4096)
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'out.json'}: no space left on the device: writing it needs more than "
                              f"4.1 kB, ")
    assert f" free in {tmp_path}; free some space and rerun" in message and "\n" not in message
    free = shutil.disk_usage(tmp_path).free
    assert f"{free / 1e9:.1f} GB free" in message or f"{free / 1e6:.1f} MB free" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    with pytest.raises(DiskFullError, match="writing it needs up to 2.0 MB"), \
            atomic_path(tmp_path / "big.bin", size_hint=2_000_000) as tmp:
        raise OSError(errno.EDQUOT, "Disk quota exceeded")
    with pytest.raises(OSError, match="Permission denied"), atomic_path(tmp_path / "c.bin") as tmp:
        raise OSError(errno.EACCES, "Permission denied")  # any other failure is itself


def test_the_space_said_free_is_what_a_rerun_finds(tmp_path, monkeypatch):
    """The partial file is removed before the free space is read (it held the space it took, so a
    message read with it in place says less is free than a rerun will find); a RuntimeError with
    room to spare is not a full disk."""
    import collections
    import errno

    from dakd import atomic

    usage = collections.namedtuple("usage", "total used free")

    def disk_usage(path):  # a 1 GB disk holding nothing but the partial files
        partial = sum(p.stat().st_size for p in tmp_path.glob(".*.tmp"))
        return usage(10**9, partial, 10**9 - partial)

    monkeypatch.setattr(atomic.shutil, "disk_usage", disk_usage)
    with pytest.raises(atomic.DiskFullError, match=r"needs more than 500\.0 kB, 1\.0 GB free in "), \
            atomic_path(tmp_path / "big.bin") as tmp:
        tmp.write_bytes(b"x" * 500_000)
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(RuntimeError, match="not about space"), atomic_path(tmp_path / "c.pt"):
        raise RuntimeError("not about space")
    assert list(tmp_path.iterdir()) == []
