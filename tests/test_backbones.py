import pytest
import torch

from dakd.backbones import BackboneError, available_backbones, build_backbone, make_crops, num_crops
from dakd.backbones.preprocess import Preprocessing
from dakd.config import BackboneConfig

TINY = {
    "i3d_r50": BackboneConfig("i3d_r50", "random", size=32),
    "inception_i3d": BackboneConfig("inception_i3d", "random", size=32),
    "s3d": BackboneConfig("s3d", "random", size=32),
    "open_clip": BackboneConfig("open_clip", "random", model="ViT-B-16", size=32),
}
DIMS = {"i3d_r50": 2048, "inception_i3d": 1024, "s3d": 1024, "open_clip": 512}


def test_registry_lists_every_backbone():
    assert available_backbones() == sorted(TINY)


@pytest.fixture(scope="module")
def tiny_backbones():
    torch.manual_seed(0)
    return {arch: build_backbone(cfg) for arch, cfg in TINY.items()}


@pytest.mark.parametrize("arch", sorted(TINY))
@pytest.mark.parametrize("mode", ["center", "five", "ten"])
def test_feature_shapes_per_backbone_and_crop_mode(tiny_backbones, arch, mode):
    backbone = tiny_backbones[arch]
    frames = torch.randint(0, 256, (2, 16, 40, 53, 3), dtype=torch.uint8)
    clips = make_crops(frames, backbone.preprocessing, mode)
    assert clips.shape == (2, num_crops(mode), 16, 3, 32, 32)
    with torch.no_grad():
        feats = backbone(clips.flatten(0, 1))
    assert backbone.dim == DIMS[arch] and feats.shape == (2 * num_crops(mode), DIMS[arch])
    assert torch.isfinite(feats).all()
    assert not any(p.requires_grad for p in backbone.parameters()) and not backbone.training


def test_ten_crop_is_five_crop_plus_flips():
    spec = Preprocessing(8, 4)
    frames = torch.randint(0, 256, (1, 2, 8, 8, 3), dtype=torch.uint8)
    ten, five = make_crops(frames, spec, "ten"), make_crops(frames, spec, "five")
    torch.testing.assert_close(ten[:, :5], five)
    torch.testing.assert_close(ten[:, 5:], make_crops(frames.flip(3), spec, "five"))


def test_value_ranges():
    frames = torch.full((1, 1, 4, 4, 3), 255, dtype=torch.uint8)
    assert make_crops(frames, Preprocessing(4, 4, value_range="symmetric"), "center").max() == pytest.approx(1.0)
    unit = Preprocessing(4, 4, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert make_crops(frames, unit, "center").max() == pytest.approx(2.0)


def test_preprocessing_comes_from_the_weights_definition():
    from torchvision.models.video import S3D_Weights

    s3d = build_backbone(BackboneConfig("s3d", "random"))
    ref = S3D_Weights.KINETICS400_V1.transforms()
    assert s3d.preprocessing.resize == tuple(ref.resize_size) and s3d.preprocessing.crop == ref.crop_size[0]
    assert s3d.preprocessing.mean == tuple(ref.mean)
    clip = build_backbone(BackboneConfig("open_clip", "random", model="ViT-B-16", size=32))
    assert clip.preprocessing.interpolation == "bicubic" and clip.preprocessing.mean[0] == pytest.approx(0.48145466)
    assert build_backbone(TINY["inception_i3d"]).preprocessing.value_range == "symmetric"


def test_local_checkpoint_loads_and_reproduces_features(tmp_path):
    torch.manual_seed(0)
    source = build_backbone(BackboneConfig("inception_i3d", "random"))
    path = tmp_path / "rgb_imagenet.pt"
    torch.save({"module." + k: v for k, v in source.net.state_dict().items()}, path)  # DataParallel-style keys
    loaded = build_backbone(BackboneConfig("inception_i3d", str(path)))
    assert loaded.weights_source == str(path)
    x = torch.randn(1, 16, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), source(x))


@pytest.mark.parametrize("cfg, message", [
    (BackboneConfig("s3d", "/nowhere/s3d.pt"), "/nowhere/s3d.pt: checkpoint for backbone 's3d' not found"),
    (BackboneConfig("s3d", "pretrained", size=32), "'size' may only shrink randomly initialised models"),
    (BackboneConfig("inception_i3d", "pretrained"), "no library ships these weights"),
    (BackboneConfig("open_clip", "pretrained", model="ViT-B-16", pretrained_tag="openai"), "ViT-B-16-quickgelu"),
    (BackboneConfig("open_clip", "random", model="ViT-Q-99"), "unknown open_clip model 'ViT-Q-99'"),
])
def test_configuration_errors_are_clear_and_early(cfg, message):
    with pytest.raises(BackboneError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_backbone(cfg)


def test_checkpoint_that_does_not_fit_is_a_clear_error(tmp_path):
    path = tmp_path / "wrong.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(BackboneError, match="wrong.pt: weights do not fit backbone 'inception_i3d'"):
        build_backbone(BackboneConfig("inception_i3d", str(path)))


def test_an_unknown_backbone_is_refused_when_the_config_loads():
    from dakd.config import ConfigError

    with pytest.raises(ConfigError, match="BackboneConfig.arch must be one of"):
        BackboneConfig("c3d")
