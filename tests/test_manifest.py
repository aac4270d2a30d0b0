"""The video manifest (``videos.csv``) that ``dakd extract`` reads."""

import csv
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dakd.datasets.manifest import MANIFEST_COLUMNS, VideoTask, read_manifest
from dakd.errors import DakdError

HEADER = ",".join(MANIFEST_COLUMNS)


def write(tmp_path, text, name="videos.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def error_of(path, **kwargs):
    with pytest.raises(DakdError) as info:
        read_manifest(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_reads_rows_with_relative_and_absolute_paths(tmp_path):
    path = write(tmp_path, f"{HEADER}\na,a.mp4,train,0,Normal\nb,/data/b.mp4,test,1,Abuse\n")
    assert read_manifest(path) == [VideoTask("a", str(tmp_path / "a.mp4"), "train", 0, "Normal"),
                                   VideoTask("b", "/data/b.mp4", "test", 1, "Abuse")]


def test_excel_csv_utf8_with_bom_and_crlf(tmp_path):
    path = write(tmp_path, f"\ufeff{HEADER}\r\nvidéo_1,vidéo 1.mp4,train,0,Normal\r\n")
    assert read_manifest(path) == [VideoTask("vidéo_1", str(tmp_path / "vidéo 1.mp4"), "train", 0, "Normal")]


def test_columns_are_found_by_name_and_blank_lines_skipped(tmp_path):
    path = write(tmp_path, "notes,class_name,label,split,path,video_id\n\nhi,Normal,0,test,x.mp4,x\n\n")
    assert read_manifest(path) == [VideoTask("x", str(tmp_path / "x.mp4"), "test", 0, "Normal")]


@pytest.mark.parametrize("row, message", [
    ("a,a.mp4,train", ":3: 3 columns, expected 5 (video_id, path, split, label, class_name)"),
    ("a,a.mp4,train,0,Normal,extra", ":3: 6 columns, expected 5 (video_id, path, split, label, class_name)"),
    ("a", ":3: 1 column, expected 5"),
    ("a,,train,0,Normal", ":3: empty path (column 2)"),
    ("a,a.mp4,train,0,  ", ":3: empty class_name (column 5)"),
    (",a.mp4,train,0,Normal", ":3: empty video id"),
    ("../a,a.mp4,train,0,Normal", ":3: video id '../a' is not a safe file name"),
    ("a,a.mp4,trian,0,Normal", ":3: unknown split 'trian' (allowed: train, test;"),
    ("a,a.mp4,train,2,Normal", ":3: label must be 0 or 1, got '2'"),
    ("z,z.mp4,train,0,Normal", ":3: duplicate video_id 'z' (first on line 2)"),
    ("y,./z.mp4,test,1,Abuse", ":3: video './z.mp4' (video_id 'y') is already listed on line 2 as video_id 'z'"),
])
def test_bad_rows_name_their_line(tmp_path, row, message):
    path = write(tmp_path, f"{HEADER}\nz,z.mp4,train,0,Normal\n{row}\n")
    assert error_of(path).startswith(f"{path}{message}")


def test_the_line_number_counts_physical_lines(tmp_path):
    """A quoted cell spanning lines, and blank lines, move the reported line."""
    path = write(tmp_path, f'{HEADER}\na,a.mp4,train,0,"multi\nline"\n\nb,b.mp4,train,0\n')
    assert error_of(path).startswith(f"{path}:5: 4 columns")


def test_the_same_file_under_two_ids_through_a_symlink(tmp_path):
    (tmp_path / "real.mp4").write_bytes(b"")
    os.symlink(tmp_path / "real.mp4", tmp_path / "link.mp4")
    path = write(tmp_path, f"{HEADER}\na,real.mp4,train,0,Normal\nb,link.mp4,train,0,Normal\n")
    assert "is already listed on line 2 as video_id 'a'" in error_of(path)


def test_splits_are_those_the_caller_allows(tmp_path):
    path = write(tmp_path, f"{HEADER}\na,a.mp4,val,0,Normal\n")
    assert "unknown split 'val' (allowed: train, test;" in error_of(path)
    assert read_manifest(path, splits=("train", "test", "val"))[0].split == "val"


@pytest.mark.parametrize("text, message", [
    ("", ": empty manifest"),
    (f"{HEADER}\n", ": manifest lists no videos"),
    (f"{HEADER}\n\n\n", ": manifest lists no videos"),
    ("video_id,path\nx,x.mp4\n", ": manifest lacks column(s) ['split', 'label', 'class_name']"),
    (f"{HEADER},video_id\n", ":1: column 'video_id' appears twice in the header"),
])
def test_bad_headers_and_empty_manifests(tmp_path, text, message):
    path = write(tmp_path, text)
    assert error_of(path).startswith(f"{path}{message}")


def test_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, f"{HEADER}\na,a.mp4,train,0,Normal\nb,b\xe9.mp4,train,0,Normal\n", encoding="latin-1")
    assert error_of(path).startswith(f"{path}:3: not UTF-8 text")


def test_missing_manifest(tmp_path):
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: video manifest not found"


# ---------------------------------------------------------------- properties

CELL = st.text(max_size=12)  # any characters but surrogates, which UTF-8 cannot write
NEAR_VALID_CELL = st.one_of(CELL, st.sampled_from(["train", "test", "0", "1", "a", "a.mp4", "Normal", ""]))
ROW = st.lists(NEAR_VALID_CELL, min_size=0, max_size=7)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_arbitrary_text_is_read_or_a_dakd_error(tmp_path, text):
    for body in (text, f"{HEADER}\n{text}"):
        path = write(tmp_path, body)
        try:
            tasks = read_manifest(path)
        except DakdError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
        else:
            assert tasks and all(isinstance(t, VideoTask) for t in tasks)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=6), data=st.binary(max_size=200))
def test_arbitrary_rows_and_bytes_are_read_or_a_dakd_error(tmp_path, rows, data):
    path = tmp_path / "videos.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([list(MANIFEST_COLUMNS), *rows])
    for _ in range(2):
        try:
            read_manifest(path)
        except DakdError as exc:
            assert "\n" not in str(exc) and re.match(re.escape(str(path)) + r"(:\d+)?: ", str(exc))
        path.write_bytes(data)


VIDEO_ID = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_ .=#-]{0,20}[A-Za-z0-9_]", fullmatch=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(VIDEO_ID, min_size=1, max_size=8, unique=True),
       extra=st.lists(st.tuples(st.sampled_from(["train", "test"]), st.sampled_from(["0", "1"]),
                                st.text(min_size=1, max_size=10).filter(lambda s: s.strip() and "\0" not in s)),
                      min_size=8, max_size=8))
def test_what_csv_writes_reads_back(tmp_path, ids, extra):
    path = tmp_path / "videos.csv"
    rows = [(vid, f"videos/{vid}.mp4", split, label, name) for vid, (split, label, name) in zip(ids, extra)]
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows([MANIFEST_COLUMNS, *rows])
    assert read_manifest(path) == [VideoTask(vid, str(tmp_path / p), s, int(label), name)
                                   for vid, p, s, label, name in rows]


def test_an_odd_extra_header_cell_keeps_the_message_on_one_line(tmp_path):
    path = write(tmp_path, f'{HEADER},"note\nmore"\na,a.mp4,train,0,Normal\n')
    assert error_of(path).startswith(f"{path}:3: 5 columns, expected 6 (video_id, path, split, label, class_name, "
                                     "'note\\nmore')")


# ---------------------------------------------------------------- finding a dataset's videos


def test_find_videos_follows_symlinked_folders_without_looping(tmp_path):
    from dakd.videofiles import list_videos

    storage = tmp_path / "storage"
    (storage / "Abuse").mkdir(parents=True)
    (storage / "Abuse" / "Abuse001_x264.mp4").write_bytes(b"v")
    (storage / "Abuse" / "notes.txt").write_text("not a video")
    root = tmp_path / "ucf"
    (root / "Normal").mkdir(parents=True)
    (root / "Normal" / "Normal001_x264.MP4").write_bytes(b"v")
    os.symlink(storage / "Abuse", root / "Abuse")                # a linked video folder
    os.symlink(root, root / "Normal" / "loop")                   # a link back to an ancestor
    os.symlink(storage, root / "storage_again")                  # the linked folder reached twice
    os.symlink(tmp_path / "gone", root / "dangling")              # a broken link
    os.symlink(storage / "Abuse" / "Abuse001_x264.mp4", root / "Arrest001_x264.mp4")  # a linked file
    found = list_videos(root)
    assert found.by_name() == {"Abuse001_x264.mp4": [root / "Abuse" / "Abuse001_x264.mp4"],
                               "Normal001_x264.MP4": [root / "Normal" / "Normal001_x264.MP4"],
                               "Arrest001_x264.mp4": [root / "Arrest001_x264.mp4"]}
    assert found.skipped_line() == "skipped 2 files: 2 not videos"  # notes.txt and the broken link


def test_find_videos_in_a_symlinked_root(tmp_path):
    from dakd.videofiles import list_videos

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "a.avi").write_bytes(b"v")
    os.symlink(tmp_path / "real", tmp_path / "root")
    os.symlink(tmp_path / "real", tmp_path / "real" / "sub" / "up")
    assert list_videos(tmp_path / "root").videos == [tmp_path / "root" / "sub" / "a.avi"]


@pytest.mark.parametrize(("video_id", "problem"), [
    ("Überwachung 01 – Straße", None), ("監視カメラ 3 (夜)", None), ("v=-MxVS6BWK-0__#1_label_A", None),
    ("Mr.&.Mrs.Smith.2005__#00-01-00_label_B1-0-0", None), ("clip: 12:00 «2»", None), ("a..b", None),
    ("../x", "holds '/'"), ("a\\b", "holds '\\\\'"), ("a\0b", "holds '\\x00'"), ("a\nb", "holds '\\n'"),
    ("a\u202eb", "holds '\\u202e'"), ("..", "starts with '.'"), (".hidden", "starts with '.'"),
    ("-rf", "starts with '-'"), ("a ", "ends with a space"), ("ü" * 101, "202 bytes in UTF-8, at most 200")])
def test_video_ids_take_any_script_and_refuse_only_the_unsafe(video_id, problem):
    """Issue 21, item 10: an en dash stopped a whole index. Letters and punctuation of any script are
    ids; path separators, control characters, '.'/'..'/hidden names and a leading '-' are not."""
    from dakd.ids import check_video_id

    if problem is None:
        assert check_video_id(video_id, "here") == video_id
    else:
        with pytest.raises(DakdError) as error:
            check_video_id(video_id, "here")
        assert str(error.value).startswith(f"here: video id {video_id!r} is not a safe file name (")
        assert problem in str(error.value) and "\n" not in str(error.value)
