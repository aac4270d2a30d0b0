"""Which files in a video folder are videos (dakd.videofiles): the one list of extensions, read by
the decoders, and the files an index or `dakd score` skips, each counted with its reason."""

import csv

import pytest
import yaml
from helpers import ffmpeg_clip

from dakd.cli import main
from dakd.video.readers import open_reader
from dakd.videofiles import VIDEO_EXTENSIONS, list_videos, skip_reason


@pytest.mark.parametrize("extension", VIDEO_EXTENSIONS)
def test_every_listed_extension_is_a_container_the_decoder_reads(extension, tmp_path):
    path = tmp_path / f"clip{extension}"
    ffmpeg_clip(path)
    reader = open_reader("pyav", path)
    try:
        assert reader.num_frames == 12
        assert reader.read(list(range(12))).shape[0] == 12
    finally:
        reader.close()


def test_skip_reasons():
    assert skip_reason("clip.MP4") is None and skip_reason("cam 1.ts") is None and skip_reason("a.m2ts") is None
    assert skip_reason("._clip.mp4") == "macOS metadata" and skip_reason(".DS_Store") == "macOS metadata"
    assert skip_reason(".clip.mp4.part") == "hidden" and skip_reason(".cache.mp4") == "hidden"
    assert skip_reason("notes.txt") == "not a video" and skip_reason("clip.mp4.part") == "not a video"


def test_a_folder_listing_counts_what_it_skips(tmp_path):
    for name in ["a.mp4", "b.TS", "c.m2ts", "._a.mp4", ".DS_Store", "__MACOSX/._b.TS", "notes.txt", "sub.srt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    listing = list_videos(tmp_path)
    assert [p.name for p in listing.videos] == ["a.mp4", "b.TS", "c.m2ts"]
    assert listing.skipped_line() == "skipped 5 files: 3 macOS metadata, 2 not videos"


def test_a_hidden_folder_is_not_footage(tmp_path):
    """A trash folder on a USB drive keeps deleted videos under their names: they used to come back
    as videos (or as a second copy of a listed one). A hidden root is searched as any other."""
    root = tmp_path / ".footage"
    for name in ["a.mp4", ".Trash-1000/files/a.mp4", ".Trash-1000/files/b.mp4", "cam/.cache/c.mkv"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    listing = list_videos(root)
    assert listing.videos == [root / "a.mp4"]
    assert listing.skipped_line() == "skipped 3 files: 3 hidden"


def _xd_dataset(tmp_path, extra: dict[str, bytes]):
    """A tiny XD-Violence tree (the names carry the labels) plus ``extra`` files, and its config."""
    root = tmp_path / "XD"
    for name in ["train/v=a__#1_label_A.mp4", "train/v=b__#1_label_B1-0-0.mp4", "test/v=c__#1_label_B2-0-0.mp4",
                 "test/v=d__#1_label_A.mp4"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"v")
    for name, data in extra.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "annotations.txt").write_text("v=c__#1_label_B2-0-0 3 9\nv=t__#1_label_B1-0-0 0 4\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"xd": {"kind": "xd_violence", "root": str(root)}}}))
    return config


def _index(tmp_path, config, capsys) -> tuple[int, list[dict], str]:
    code = main(["index-dataset", "--config", str(config), "--dataset", "xd", "--manifest", str(tmp_path / "v.csv"),
                 "--annotations", str(tmp_path / "a.parquet")])
    out = capsys.readouterr()
    rows = list(csv.DictReader(open(tmp_path / "v.csv"))) if code == 0 else []
    return code, rows, out.out + out.err


def test_the_index_takes_every_container_and_says_what_it_skipped(tmp_path, capsys):
    """Issue 21, items 3 and 9: a .ts (and .m2ts) video was left out without a word, and a macOS
    AppleDouble file was indexed as a video (and stopped the index on its unsafe name)."""
    config = _xd_dataset(tmp_path, {"test/v=t__#1_label_B1-0-0.ts": b"v", "train/v=e__#1_label_A.m2ts": b"v",
                                    "train/._v=a__#1_label_A.mp4": b"\0" * 4096, "test/._v=t__#1_label_B1-0-0.ts": b"",
                                    "train/README.txt": b"notes"})
    code, rows, output = _index(tmp_path, config, capsys)
    assert code == 0, output
    assert sorted(r["video_id"] for r in rows) == ["v=a__#1_label_A", "v=b__#1_label_B1-0-0", "v=c__#1_label_B2-0-0",
                                                   "v=d__#1_label_A", "v=e__#1_label_A", "v=t__#1_label_B1-0-0"]
    assert "xd: skipped 3 files: 2 macOS metadata, 1 not a video in the video folders" in output.splitlines()
