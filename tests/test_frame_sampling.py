"""CLIP frame sampling (extract.backbones.<name>.frames_per_snippet)."""

import pytest
import torch
from helpers import write_video

from dakd.backbones import build_backbone
from dakd.backbones.preprocess import sampled_frames
from dakd.config import BackboneConfig, DakdConfig
from dakd.embed import embed_snippets
from dakd.extract import extraction_fingerprint, run_extract
from dakd.features import read_shard

CPU = torch.device("cpu")


@pytest.mark.parametrize(("sampling", "length", "expected"), [
    ("all", 16, None), ("first", 16, [0]), ("middle", 16, [8]), ("middle", 15, [7]), (1, 16, [8]),
    (2, 16, [4, 12]), (4, 16, [2, 6, 10, 14]), (3, 16, [2, 8, 13]), (16, 16, list(range(16))), (5, 5, [0, 1, 2, 3, 4]),
])
def test_sampled_frames_are_the_middles_of_equal_parts(sampling, length, expected):
    assert sampled_frames(sampling, length) == expected


def test_more_frames_than_the_snippet_has_is_an_error():
    with pytest.raises(ValueError, match="does not fit a snippet of 8 frames"):
        sampled_frames(9, 8)


def clip(sampling="all"):
    torch.manual_seed(0)
    return build_backbone(BackboneConfig("open_clip", "random", model="ViT-B-16", size=32,
                                         frames_per_snippet=sampling)).eval()


def frames(n=3, length=16):
    return torch.randint(0, 256, (n, length, 40, 52, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("sampling", ["first", "middle", 4, 16])
def test_a_sampled_snippet_is_the_mean_of_its_chosen_frames(sampling):
    x = frames()
    got = embed_snippets(x, {"clip": clip(sampling)}, "center", CPU)["clip"]
    chosen = x[:, sampled_frames(sampling, 16)]
    want = embed_snippets(chosen, {"clip": clip("all")}, "center", CPU)["clip"]
    torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(want), rtol=1e-5, atol=1e-5)
    if sampling != 16:
        everything = embed_snippets(x, {"clip": clip("all")}, "center", CPU)["clip"]
        assert not torch.allclose(torch.from_numpy(got), torch.from_numpy(everything), atol=1e-3)


@pytest.mark.parametrize(("sampling", "images_per_snippet"), [("all", 16), ("middle", 1), ("first", 1), (4, 4)])
def test_the_encoder_sees_only_the_sampled_frames(sampling, images_per_snippet):
    """The cost falls in proportion: fewer frames reach the image encoder (and its resize and crops)."""
    backbone = clip(sampling)
    seen = []
    backbone.visual.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    embed_snippets(frames(n=2), {"clip": backbone}, "five", CPU)
    assert seen == [2 * 5 * images_per_snippet]


def test_sampling_is_recorded_and_part_of_the_fingerprint():
    def cfg(sampling):
        return DakdConfig.from_dict({"extract": {"backbones": {"clip": {
            "arch": "open_clip", "model": "ViT-B-16", "weights": "random", "size": 32,
            "frames_per_snippet": sampling}}}}).extract

    prints = {s: extraction_fingerprint(cfg(s), {"clip": clip(s)}) for s in ("all", "middle", 4)}
    assert len(set(prints.values())) == 3
    assert clip("middle").describe()["frames_per_snippet"] == "middle"
    # the decoder does not change the frames (tests/test_decoders.py), so it is not part of it
    pyav = DakdConfig.from_dict({"extract": {"decoder": "pyav", "backbones": {"clip": {
        "arch": "open_clip", "model": "ViT-B-16", "weights": "random", "size": 32}}}}).extract
    assert extraction_fingerprint(pyav, {"clip": clip()}) == prints["all"]


def test_a_changed_sampling_redoes_the_shard_and_is_in_its_metadata(tmp_path):
    write_video(tmp_path / "a.mp4", 20)
    (tmp_path / "videos.csv").write_text("video_id,path,split,label,class_name\na,a.mp4,train,0,Normal\n")

    def extract(sampling):
        cfg = DakdConfig.from_dict({"extract": {
            "backbones": {"clip": {"arch": "open_clip", "model": "ViT-B-16", "weights": "random", "size": 32,
                                   "frames_per_snippet": sampling}},
            "crops": "center", "decode_short_side": 40, "num_workers": 1}}).extract
        run_extract(cfg, tmp_path / "videos.csv", tmp_path / "features", CPU, progress=False)
        return read_shard(tmp_path / "features" / "shard-00000.parquet")

    every, middle = extract("all"), extract("middle")
    assert every.backbones["clip"].preprocessing["frames_per_snippet"] == "all"
    assert middle.backbones["clip"].preprocessing["frames_per_snippet"] == "middle"
    assert middle.provenance["config"]["backbones"]["clip"]["frames_per_snippet"] == "middle"
    assert not (every.videos[0].features["clip"] == middle.videos[0].features["clip"]).all()
