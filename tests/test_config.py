import pytest

from dakd.config import ConfigError, DakdConfig, load_config


def test_defaults_are_the_papers_values():
    cfg = DakdConfig()
    assert cfg.teacher.backbones == ["i3d", "s3d", "clip"]
    assert cfg.features.segments == 32
    m = cfg.teacher.model
    assert (m.temporal, m.width, m.heads, m.ffn_dim, m.max_relative_distance) == ("tam", 512, 8, 1024, 25)
    o = cfg.teacher.optim
    assert (o.epochs, o.lr_temporal, o.lr_other, o.weight_decay) == (100, 1e-4, 1e-3, 1e-3)
    assert (o.normal_per_batch, o.anomalous_per_batch) == (30, 30)
    assert cfg.teacher.mil.lambda_smooth == cfg.teacher.mil.lambda_sparse == 8e-5
    d = cfg.student.distill
    assert (d.alpha, d.delta) == (7.5, 0.9)
    assert cfg.student.backbone == "clip" and not cfg.student.model.terms.cross_c2c
    assert cfg.device == "auto"


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("seed: 3\nstudent:\n  distill:\n    tau: 0.5\ndatasets: {ucf: {root: x}}\n")
    cfg = load_config(path, ["teacher.model.terms.c2p=false", "teacher.optim.epochs=7"])
    assert cfg.seed == 3 and cfg.student.distill.tau == 0.5
    assert cfg.teacher.model.terms.c2p is False and cfg.teacher.model.terms.p2c is True
    assert cfg.teacher.optim.epochs == 7
    assert cfg.student.distill.alpha == 7.5  # untouched siblings keep defaults


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("teacher:\n  optim:\n    learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_config(path)


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match="teacher.optim.epochs"):
        load_config(None, ["teacher.optim.epochs=many"])


def test_shipped_config_yaml_restates_the_defaults():
    from pathlib import Path

    assert load_config(Path(__file__).parent.parent / "config.yaml") == DakdConfig()
