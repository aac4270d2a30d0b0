import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dakd.synthetic import SyntheticSpec, make_synthetic_dataset  # noqa: E402


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """Shards + annotations with clearly planted anomalies (signal 3)."""
    root = tmp_path_factory.mktemp("synthetic")
    shards, annotations = make_synthetic_dataset(root, SyntheticSpec(signal=3.0, seed=1))
    return root, shards, annotations


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """A workflow directory with the tiny demo config; the workflow and paper-table tests run
    their targets in it, so the demo is generated and its features extracted once."""
    from workflow_helpers import tiny_demo_config

    workdir = tmp_path_factory.mktemp("tiny_demo")
    tiny_demo_config(workdir)
    return workdir


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system (tmpfs) a test can fill, to see what a full disk does; mounting needs
    root (CI runs as root), so elsewhere the test is skipped."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        import gc

        gc.collect()  # a failed write's traceback may still hold a file open on the disk
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(mount)], check=False)  # never leave the mount behind


def fill(disk, leave: int):
    """Fill ``disk`` with one file so that about ``leave`` bytes stay free; returns the file."""
    import shutil

    filler = disk / "filler"
    filler.write_bytes(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return filler
