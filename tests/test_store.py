import numpy as np
import pyarrow.parquet as pq
import pytest

from dakd.errors import DakdError
from dakd.features import (
    BackboneInfo,
    FeatureStoreError,
    VideoFeatures,
    VideoMeta,
    load_bags,
    read_metadata,
    read_shard,
    reduce_crops,
    segment_bounds,
    segment_pool,
    write_shard,
)


def _video(vid, snippets, dims, crops=2, label=0, split="train", seed=0):
    rng = np.random.default_rng(seed)
    meta = VideoMeta(video_id=vid, split=split, label=label, class_name="Normal" if label == 0 else "Arrest",
                     num_frames=(snippets - 1) * 16 + 7, fps=30.0, snippet_len=16, snippet_stride=16,
                     num_snippets=snippets, last_snippet_frames=7)
    feats = {n: rng.standard_normal((snippets, crops, d)).astype(np.float32) for n, d in dims.items()}
    return VideoFeatures(meta=meta, features=feats)


DIMS = {"i3d": 6, "clip": 4}
INFOS = [BackboneInfo("i3d", 6, 2, "random", {"size": 224}), BackboneInfo("clip", 4, 2, "random")]


def test_round_trip_keeps_values_metadata_and_provenance(tmp_path):
    videos = [_video("a", 5, DIMS, seed=1), _video("b", 3, DIMS, label=1, seed=2)]
    path = tmp_path / "shard.parquet"
    write_shard(path, videos, INFOS, {"code_version": "test"})
    shard = read_shard(path)
    assert [v.meta for v in shard.videos] == [v.meta for v in videos]
    for got, want in zip(shard.videos, videos):
        for name in DIMS:
            np.testing.assert_array_equal(got.features[name], want.features[name])
            assert got.features[name].shape == want.features[name].shape
    assert shard.backbones["i3d"].preprocessing == {"size": 224}
    assert shard.backbones["clip"].weights == "random"
    assert shard.provenance == {"code_version": "test"}
    infos, prov = read_metadata(path)
    assert infos["i3d"].dim == 6 and prov["code_version"] == "test"


def test_features_are_views_not_copies(tmp_path):
    path = tmp_path / "shard.parquet"
    write_shard(path, [_video("a", 5, DIMS), _video("b", 4, DIMS)], INFOS, {})
    shard = read_shard(path, ["i3d"])
    a, b = (v.features["i3d"] for v in shard.videos)
    # read-only views on Arrow's buffers (one per row group, i.e. per video), not numpy copies
    assert not a.flags.owndata and not b.flags.owndata
    assert not a.flags.writeable and not b.flags.writeable


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "shard.parquet"
    bad = _video("a", 5, {"i3d": 5, "clip": 4})  # i3d is 5-d, info says 6-d
    with pytest.raises(FeatureStoreError, match="shape"):
        write_shard(path, [bad], INFOS, {})
    assert list(tmp_path.iterdir()) == []


def test_missing_backbone_names_the_shard(tmp_path):
    path = tmp_path / "shard.parquet"
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    with pytest.raises(FeatureStoreError, match=r"shard\.parquet: no features for backbone 's3d'"):
        read_shard(path, ["s3d"])


def test_wrong_dimension_names_the_shard(tmp_path):
    path = tmp_path / "shard.parquet"
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    with pytest.raises(FeatureStoreError, match=r"shard\.parquet: backbone 'i3d' features are 6-d, expected 1024-d"):
        read_shard(path, ["i3d"], expected_dims={"i3d": 1024})


def test_inconsistent_dims_across_shards_is_an_error(tmp_path):
    write_shard(tmp_path / "a.parquet", [_video("a", 5, DIMS)], INFOS, {})
    write_shard(tmp_path / "b.parquet", [_video("b", 5, {"i3d": 8, "clip": 4})],
                [BackboneInfo("i3d", 8, 2, "random"), INFOS[1]], {})
    with pytest.raises(FeatureStoreError, match=r"b\.parquet: backbone 'i3d' features are 8-d, expected 6-d"):
        load_bags([tmp_path / "a.parquet", tmp_path / "b.parquet"], ["i3d"], "train")


def test_corrupt_and_foreign_files_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(FeatureStoreError, match="junk.parquet: not a readable Parquet shard"):
        read_shard(junk)
    foreign = tmp_path / "foreign.parquet"
    import pyarrow as pa
    pq.write_table(pa.table({"x": [1]}), foreign)
    with pytest.raises(FeatureStoreError, match="foreign.parquet: no dakd metadata"):
        read_shard(foreign)
    with pytest.raises(FeatureStoreError, match="missing.parquet: feature shard not found"):
        read_shard(tmp_path / "missing.parquet")


def test_covered_frames_counts_the_padded_last_snippet():
    meta = _video("a", 5, DIMS).meta
    assert meta.covered_frames == 4 * 16 + 7 == meta.num_frames


def test_segment_bounds_follow_rtfm():
    np.testing.assert_array_equal(segment_bounds(10, 4), [0, 2, 5, 7, 10])
    np.testing.assert_array_equal(segment_bounds(3, 4), [0, 0, 1, 2, 3])


def test_segment_pool_means_snippets_and_repeats_short_videos():
    x = np.arange(10, dtype=np.float32)[:, None]
    np.testing.assert_allclose(segment_pool(x, 4)[:, 0], [0.5, 3.0, 5.5, 8.0])
    short = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    # bounds [0,0,1,2,3]: empty first segment takes snippet 0
    np.testing.assert_allclose(segment_pool(short, 4)[:, 0], [1.0, 1.0, 2.0, 3.0])
    assert segment_pool(np.ones((100, 3, 8), np.float32), 32).shape == (32, 3, 8)


def test_reduce_crops():
    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    np.testing.assert_allclose(reduce_crops(x, "mean"), x.mean(axis=1))
    np.testing.assert_array_equal(reduce_crops(x, 2), x[:, 2])
    np.testing.assert_array_equal(reduce_crops(x, "1"), x[:, 1])
    with pytest.raises(FeatureStoreError, match="crop index 3 is out of range for features of 3 crop"):
        reduce_crops(x, 3)


def test_load_bags_forms_segments_and_rejects_duplicates(tmp_path):
    write_shard(tmp_path / "a.parquet", [_video("a", 40, DIMS), _video("b", 8, DIMS, label=1),
                                          _video("t", 8, DIMS, split="test")], INFOS, {})
    bags = load_bags([tmp_path / "a.parquet"], ["i3d", "clip"], "train", num_segments=32)
    assert bags.video_ids == ["a", "b"]
    assert bags.segments["i3d"].shape == (2, 32, 6) and bags.segments["clip"].shape == (2, 32, 4)
    assert bags.labels.tolist() == [0, 1]
    write_shard(tmp_path / "b.parquet", [_video("a", 5, DIMS)], INFOS, {})
    with pytest.raises(FeatureStoreError, match="'a' already read"):
        load_bags([tmp_path / "a.parquet", tmp_path / "b.parquet"], ["i3d"], "train")


def test_non_finite_features_are_refused_on_write_and_on_read(tmp_path):
    bad = _video("a", 5, DIMS)
    bad.features["clip"][3, 1, 2] = np.nan
    with pytest.raises(FeatureStoreError, match=r"'a' backbone 'clip': 1 non-finite feature value\(s\), the first nan "
                                                r"at snippet 3"):
        write_shard(tmp_path / "w.parquet", [bad], INFOS, {})
    assert not (tmp_path / "w.parquet").exists()
    # A shard written by something else (or damaged in a way Parquet cannot see) is checked on read.
    path = tmp_path / "r.parquet"
    write_shard(path, [_video("a", 5, DIMS), _video("b", 3, DIMS, label=1)], INFOS, {})
    table = pq.read_table(path)
    values = table.column("feat__i3d").to_pylist()
    values[1][7] = float("inf")
    import pyarrow as pa
    patched = table.set_column(table.schema.get_field_index("feat__i3d"), table.schema.field("feat__i3d"),
                               pa.array(values, pa.list_(pa.float32())))
    pq.write_table(patched.replace_schema_metadata(table.schema.metadata), path)
    with pytest.raises(FeatureStoreError, match=r"r.parquet: video 'b' backbone 'i3d': 1 non-finite .* inf at "
                                                r"snippet 0"):
        read_shard(path)
    with pytest.raises(FeatureStoreError, match="r.parquet: video 'b'"):
        load_bags([path], ["i3d"], "train")


def test_corrupt_pages_name_the_shard(tmp_path):
    path = tmp_path / "c.parquet"
    write_shard(path, [_video(f"v{i}", 40, DIMS, seed=i) for i in range(3)], INFOS, {})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 1024] = bytes(1024)  # 1 KB of zeros inside the compressed pages
    path.write_bytes(bytes(data))
    with pytest.raises(FeatureStoreError, match=r"c.parquet: (row group \d of 3 is corrupt|video 'v\d' backbone)"):
        load_bags([path], ["i3d", "clip"], "train")


def test_row_values_are_checked_on_read(tmp_path):
    path = tmp_path / "m.parquet"
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    table = pq.read_table(path)
    for column, value, message in [("video_id", "../../x", "not a safe file name"), ("label", 3, "label 3"),
                                   ("last_snippet_frames", 0, "0 real frames")]:
        import pyarrow as pa
        index = table.schema.get_field_index(column)
        field = table.schema.field(column)
        patched = table.set_column(index, field, pa.array([value], field.type))
        pq.write_table(patched.replace_schema_metadata(table.schema.metadata), path)
        with pytest.raises(DakdError, match=message):
            read_shard(path)


def _rewrite(path, change) -> None:
    """Rewrite a shard's table through ``change`` (another tool's edit), keeping its dakd metadata."""
    table = pq.read_table(path)
    pq.write_table(change(table).replace_schema_metadata(table.schema.metadata), path)


def test_every_read_checks_the_columns_first(tmp_path):
    """Issue 21, item 6: a renamed column was an internal KeyError naming no file. Every read
    (footer, whole shard, video by video, training) now names the file and the columns."""
    import pyarrow as pa

    from dakd.features.store import iter_shard_videos

    path = tmp_path / "s.parquet"
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.rename_columns(["n_snippets" if n == "num_snippets" else n for n in t.column_names]))
    message = (r"s\.parquet: no column 'num_snippets' and has unexpected column\(s\) 'n_snippets' \(a renamed or "
               r"dropped column")
    for read in (read_metadata, read_shard, lambda p: list(iter_shard_videos(p)),
                 lambda p: load_bags([p], ["i3d", "clip"], "train")):
        with pytest.raises(FeatureStoreError, match=message):
            read(path)
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.drop_columns(["feat__clip"]))
    with pytest.raises(FeatureStoreError, match=r"s\.parquet: no column 'feat__clip' \(backbone 'clip' of its "
                                                r"metadata\)"):
        read_shard(path, ["i3d"])
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.append_column("notes", pa.array(["x"])))
    with pytest.raises(FeatureStoreError, match=r"s\.parquet: unexpected column\(s\) 'notes'"):
        read_shard(path)
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.set_column(t.schema.get_field_index("num_frames"), "num_frames", pa.array(["80"])))
    with pytest.raises(FeatureStoreError, match=r"s\.parquet: column 'num_frames' holds string values, expected "
                                                r"integer"):
        read_shard(path)
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.set_column(t.schema.get_field_index("fps"), "fps", pa.array([None], pa.float64())))
    with pytest.raises(FeatureStoreError, match=r"s\.parquet: column 'fps' has empty \(null\) values"):
        read_shard(path)
    write_shard(path, [_video("a", 5, DIMS)], INFOS, {})
    _rewrite(path, lambda t: t.set_column(t.schema.get_field_index("label"), "label", pa.array([0], pa.int64())))
    assert read_shard(path).videos[0].meta.label == 0  # another integer width reads the same
