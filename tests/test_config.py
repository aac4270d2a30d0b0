import copy
import dataclasses
import types
import typing
from pathlib import Path

import pytest
import yaml

from dakd import config as config_module
from dakd.config import (
    AttentionTerms,
    BackboneConfig,
    ConfigError,
    DakdConfig,
    ModelConfig,
    apply_overrides,
    check_workflow_config,
    choices,
    load_config,
    section_from_dict,
)

REPO = Path(__file__).parent.parent
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def error_of(call, *args, **kwargs) -> str:
    """The message of the ConfigError ``call`` raises; it must be one line."""
    with pytest.raises(ConfigError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    return message


def set_error(*overrides: str) -> str:
    return error_of(load_config, None, list(overrides))


def shipped() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


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
    assert load_config(REPO / "config.yaml") == DakdConfig()


# ---------------------------------------------------------------- the dataclass API stays


def test_sections_stay_dataclasses():
    cfg = DakdConfig()
    assert dataclasses.is_dataclass(cfg) and dataclasses.asdict(cfg.extract)["crops"] == "ten"
    assert cfg.to_dict() == dataclasses.asdict(cfg)
    model = dataclasses.replace(ModelConfig(width=16, heads=2, ffn_dim=32), terms=AttentionTerms(cross_c2c=False))
    assert (model.width, model.terms.cross_c2c, model.terms.c2p) == (16, False, True)
    assert DakdConfig.from_dict(cfg.to_dict()) == cfg
    student = section_from_dict(ModelConfig, dataclasses.asdict(cfg.student.model))
    assert student == cfg.student.model and not student.terms.cross_c2c


def test_partial_sections_keep_their_defaults():
    cfg = DakdConfig.from_dict({"student": {"model": {"width": 256, "terms": {"c2p": False}}}, "teacher": None,
                                "datasets": {"x": {}}, "reproduce": {"seeds": [0]}})
    assert cfg.student.model.width == 256 and cfg.student.model.heads == 8
    assert (cfg.student.model.terms.cross_c2c, cfg.student.model.terms.c2p) == (False, False)
    assert cfg.teacher == DakdConfig().teacher


def test_backbones_mapping_replaces_the_default_whole():
    cfg = load_config(None, ["extract.backbones={tiny: {arch: s3d, weights: random, size: 32}}"])
    assert list(cfg.extract.backbones) == ["tiny"]
    assert cfg.extract.backbones["tiny"] == BackboneConfig("s3d", "random", size=32)


def test_constructing_a_bad_section_is_a_config_error():
    assert error_of(ModelConfig, width=10, heads=3) == "ModelConfig.heads must divide width (10) evenly, got 3"
    assert error_of(BackboneConfig, "c3d") == (
        "BackboneConfig.arch must be one of inception_i3d, i3d_r50, s3d, open_clip, got 'c3d'")
    assert error_of(dataclasses.replace, ModelConfig(), dropout=1.5) == (
        "ModelConfig.dropout must be a number in [0, 1), got 1.5")
    assert error_of(section_from_dict, ModelConfig, {"width": 0}) == (
        "ModelConfig.width must be an integer >= 1, got 0")
    assert error_of(section_from_dict, ModelConfig, [1]) == "ModelConfig must be a mapping, got [1]"


# ---------------------------------------------------------------- ranges

# (dotted key, a value out of range, the message's problem, a boundary value that is accepted)
RANGES = [
    ("seed", "-1", "must be an integer >= 0, got -1", "0"),
    ("teacher.optim.epochs", "0", "must be an integer >= 1, got 0", "1"),
    ("student.optim.epochs", "-3", "must be an integer >= 1, got -3", "1"),
    ("teacher.optim.lr_temporal", "0", "must be a number > 0, got 0", "1.0e-9"),
    ("teacher.optim.lr_other", "-0.001", "must be a number > 0, got -0.001", "0.5"),
    ("student.optim.lr_other", "0.0", "must be a number > 0, got 0.0", "0.001"),
    ("teacher.optim.weight_decay", "-0.001", "must be a number >= 0, got -0.001", "0"),
    ("teacher.optim.normal_per_batch", "0", "must be an integer >= 1, got 0", "1"),
    ("student.optim.anomalous_per_batch", "0", "must be an integer >= 1, got 0", "1"),
    ("features.segments", "0", "must be an integer >= 1, got 0", "1"),
    ("teacher.model.width", "0", "must be an integer >= 1, got 0", "8"),
    ("teacher.model.heads", "0", "must be an integer >= 1, got 0", "1"),
    ("student.model.ffn_dim", "0", "must be an integer >= 1, got 0", "1"),
    ("teacher.model.max_relative_distance", "0", "must be an integer >= 1, got 0", "1"),
    ("teacher.model.dropout", "1", "must be a number in [0, 1), got 1", "0"),
    ("teacher.model.dropout", "-0.1", "must be a number in [0, 1), got -0.1", "0.99"),
    ("student.model.head_dropout", "1.0", "must be a number in [0, 1), got 1.0", "0.0"),
    ("teacher.mil.lambda_smooth", "-0.5", "must be a number >= 0, got -0.5", "0"),
    ("teacher.mil.lambda_sparse", "-0.5", "must be a number >= 0, got -0.5", "0"),
    ("student.distill.alpha", "-1", "must be a number >= 0, got -1", "0"),
    ("student.distill.tau", "0", "must be a number > 0, got 0", "0.01"),
    ("student.distill.delta", "1.5", "must be a number in [0, 1], got 1.5", "1"),
    ("student.distill.delta", "-0.1", "must be a number in [0, 1], got -0.1", "0"),
    ("student.distill.projection_hidden", "0", "must be an integer >= 1, got 0", "1"),
    ("student.distill.projection_dim", "0", "must be an integer >= 1, got 0", "1"),
    ("pseudo_labels.window", "0", "must be an integer >= 1, got 0", "1"),
    ("pseudo_labels.flat_threshold", "1.5", "must be a number in [0, 1], got 1.5", "1"),
    ("pseudo_labels.flat_threshold", "-0.5", "must be a number in [0, 1], got -0.5", "0"),
    ("extract.snippet_len", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.snippet_stride", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.batch_snippets", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.num_workers", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.videos_per_worker", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.shard_size", "0", "must be an integer >= 1, got 0", "1"),
    ("extract.decode_short_side", "15", "must be an integer >= 16, got 15", "16"),
    ("extract.video_timeout_s", "0", "must be a number > 0, got 0", "0.5"),
    ("extract.backbones.s3d.size", "15", "must be null or an integer >= 16, got 15", "16"),
    ("evaluate.max_window", "0", "must be null or an integer >= 1, got 0", "1"),
    ("validation.every", "0", "must be an integer >= 1, got 0", "1"),
    ("probe.C", "0", "must be a number > 0, got 0", "0.5"),
    ("probe.max_iter", "0", "must be an integer >= 1, got 0", "1"),
    ("teacher.optim.min_steps", "-1", "must be an integer >= 0, got -1", "0"),
]


@pytest.mark.parametrize(("key", "bad", "problem", "good"), RANGES)
def test_a_value_out_of_range_is_a_one_line_error(key, bad, problem, good):
    assert set_error(f"{key}={bad}") == f"--set {key}={bad}: {key} {problem}"
    cfg = load_config(None, [f"{key}={good}"]).to_dict()
    for part in key.split("."):
        cfg = cfg[part]
    assert cfg == yaml.safe_load(good)


@pytest.mark.parametrize("key", ["extract.backbones.s3d.size", "evaluate.max_window"])
def test_optional_sizes_may_be_null(key):
    cfg = load_config(None, [f"{key}=null"]).to_dict()
    for part in key.split("."):
        cfg = cfg[part]
    assert cfg is None


def test_heads_must_divide_width():
    assert set_error("teacher.model.heads=7") == (
        "--set teacher.model.heads=7: teacher.model.heads must divide width (512) evenly, got 7")
    # the error names the override that broke it, even when it set the other key
    assert set_error("student.model.width=100") == (
        "--set student.model.width=100: student.model.heads must divide width (100) evenly, got 8")
    assert load_config(None, ["teacher.model.width=96", "teacher.model.heads=12"]).teacher.model.heads == 12


@pytest.mark.parametrize(("crops", "crop", "ok"), [
    ("center", "0", True), ("center", "1", False), ("five", "4", True), ("five", "5", False),
    ("ten", "9", True), ("ten", "10", False), ("ten", "mean", True), ("center", "mean", True),
])
def test_a_crop_index_must_exist(crops, crop, ok):
    overrides = [f"extract.crops={crops}", f"features.crop={crop}"]
    if ok:
        assert load_config(None, overrides).features.crop == crop
    else:
        count = {"center": 1, "five": 5, "ten": 10}[crops]
        assert set_error(*overrides) == (
            f"--set features.crop={crop}: features.crop must be 'mean', 'per_crop_bags' or a crop index in "
            f"[0, {count}) for extract.crops '{crops}', got {crop}")


def test_per_crop_bags_is_a_crop_reading_for_any_crop_count():
    for crops in ("center", "ten"):
        assert load_config(None, [f"extract.crops={crops}", "features.crop=per_crop_bags"]).features.crop == (
            "per_crop_bags")


def test_readings_that_need_another_setting_are_one_line_errors():
    assert set_error("teacher.model.projection=none") == (
        "--set teacher.model.projection=none: teacher.model.projection: none (features straight into the head) "
        "needs temporal: none, got temporal 'tam'")
    raw = load_config(None, ["teacher.model.temporal=none", "teacher.model.projection=none"])
    assert raw.teacher.model.projection == "none"
    for window in ("4", "1"):
        assert set_error(f"pseudo_labels.window={window}", "pseudo_labels.divisor=two_epsilon") == (
            f"--set pseudo_labels.divisor=two_epsilon: pseudo_labels.divisor: two_epsilon needs an odd window >= 3 "
            f"(2 epsilon + 1 taps), got window {window}")
    assert load_config(None, ["pseudo_labels.window=3", "pseudo_labels.divisor=two_epsilon"]).pseudo_labels.divisor \
        == "two_epsilon"


@pytest.mark.parametrize("crop", ["-1", "first", "true", "1.5"])
def test_a_crop_is_mean_or_an_index(crop):
    assert set_error(f"features.crop={crop}").startswith(
        f"--set features.crop={crop}: features.crop must be 'mean', 'per_crop_bags' or a crop index >= 0, got ")


def test_a_crop_index_is_what_reduce_crops_takes():
    import numpy as np

    from dakd.features.segments import reduce_crops

    cfg = DakdConfig.from_dict({"features": {"crop": 2}})
    assert cfg.features.crop == "2"  # stored as text, as before
    features = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(reduce_crops(features, cfg.features.crop), features[:, 2])


@pytest.mark.parametrize(("split", "ok"), [
    ("val", True), ("held-out_2", True), ("test", False), ("train", False), ("../x", False), ("''", False),
    ("2020", False), ("a" * 33, False),
])
def test_a_validation_split_is_a_safe_held_out_name(split, ok):
    if ok:
        assert load_config(None, [f"validation.split={split}"]).validation.split == split
    elif split in ("test", "train"):
        assert set_error(f"validation.split={split}") == (
            f"--set validation.split={split}: validation.split must not be the {split} split: null or a held-out "
            f"split name, got '{split}'")
    else:
        message = set_error(f"validation.split={split}")
        assert message.startswith(f"--set validation.split={split}: validation.split must be null or a "
                                  f"held-out split name (a letter, then letters, digits, _ or -; not train or "
                                  f"test), got "), message


@pytest.mark.parametrize(("value", "problem"), [
    ("[]", "must be a non-empty list of distinct backbone names, got []"),
    ("[i3d, clip, i3d]", "must be a non-empty list of distinct backbone names, got ['i3d', 'clip', 'i3d']"),
    ("i3d", "must be a list, got 'i3d'"),
])
def test_teacher_backbones_are_a_non_empty_list_without_duplicates(value, problem):
    assert set_error(f"teacher.backbones={value}") == f"--set teacher.backbones={value}: teacher.backbones {problem}"


# ---------------------------------------------------------------- enumerated values

CHOICES = [
    ("teacher.optim.precision", "fp16", "fp32, bf16"),
    ("student.optim.precision", "FP32", "fp32, bf16"),
    ("extract.precision", "fp16", "auto, fp32, bf16"),
    ("evaluate.unit", "frame", "snippet, segment"),
    ("evaluate.metric", "roc", "auc, ap"),
    ("student.distill.anchors", "scores", "teacher_scores, pseudo_labels"),
    ("extract.crops", "two", "center, five, ten"),
    ("extract.decoder", "ffms2", "decord, pyav, torchcodec"),
    ("extract.decode_device", "gpu", "cpu, cuda"),
    ("teacher.model.temporal", "transformer", "tam, disentangled, mha, lstm, gru, rnn, cnn1d, mtn, none"),
    ("student.model.temporal", "TAM", "tam, disentangled, mha, lstm, gru, rnn, cnn1d, mtn, none"),
    ("extract.backbones.clip.arch", "c3d", "inception_i3d, i3d_r50, s3d, open_clip"),
    ("teacher.model.layer", "transformer", "residual_ffn, bare"),
    ("student.model.attention_scale", "model", "head_dim, width"),
    ("teacher.model.projection", "linear", "mlp, none"),
    ("student.model.input_scale", "zscore", "raw, standardize"),
    ("student.model.head", "gelu", "relu, sultani"),
    ("teacher.mil.reduction", "sum", "pairwise_mean, sultani"),
    ("pseudo_labels.divisor", "epsilon", "taps, two_epsilon"),
    ("pseudo_labels.padding", "reflect", "edge, zero"),
    ("student.distill.normal_video_anchors", "forced", "thresholded, normal"),
    ("device", "gpu", "auto, cpu, cuda, cuda:N"),
    ("device", "cuda:x", "auto, cpu, cuda, cuda:N"),
    ("device", "cuda1", "auto, cpu, cuda, cuda:N"),
]


@pytest.mark.parametrize(("key", "bad", "choices"), CHOICES)
def test_an_enumerated_value_is_checked_when_the_config_loads(key, bad, choices):
    assert set_error(f"{key}={bad}") == f"--set {key}={bad}: {key} must be one of {choices}, got '{bad}'"


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_devices(device):
    assert load_config(None, [f"device={device}"]).device == device


# ---------------------------------------------------------------- types


def test_a_float_written_1e_3_is_a_number(tmp_path):
    assert yaml.safe_load("lr: 1e-3")["lr"] == "1e-3"  # PyYAML: no dot, so a string
    path = tmp_path / "config.yaml"
    path.write_text("teacher:\n  optim:\n    lr_other: 1e-3\n    lr_temporal: '0.5'\n    epochs: '7'\n")
    optim = load_config(path).teacher.optim
    assert optim.lr_other == 0.001 and type(optim.lr_other) is float
    assert optim.lr_temporal == 0.5 and optim.epochs == 7
    assert load_config(None, ["student.distill.tau=5e-1"]).student.distill.tau == 0.5
    assert type(load_config(None, ["extract.video_timeout_s=10"]).extract.video_timeout_s) is float


@pytest.mark.parametrize("key", ["teacher.model.terms.c2p", "pseudo_labels.moving_average", "student.distill.use_nce",
                                 "student.model.attention_bias"])
@pytest.mark.parametrize(("value", "shown"), [("1", "1"), ("0", "0"), ("'yes'", "'yes'"), ("'true'", "'true'"),
                                              ("off_", "'off_'")])
def test_booleans_must_be_true_or_false(key, value, shown):
    assert set_error(f"{key}={value}") == f"--set {key}={value}: {key} must be true or false, got {shown}"


@pytest.mark.parametrize(("key", "problem"), [
    ("teacher.optim.epochs", "must be an integer >= 1, got true"),
    ("seed", "must be an integer >= 0, got true"),
    ("student.distill.tau", "must be a number > 0, got true"),
])
def test_a_boolean_is_not_a_number(key, problem):
    assert set_error(f"{key}=true") == f"--set {key}=true: {key} {problem}"


FLOATS = ["teacher.optim.lr_temporal", "teacher.optim.lr_other", "teacher.optim.weight_decay",
          "teacher.model.dropout", "teacher.model.head_dropout", "teacher.mil.lambda_smooth",
          "teacher.mil.lambda_sparse", "student.distill.alpha", "student.distill.tau", "student.distill.delta",
          "pseudo_labels.flat_threshold", "extract.video_timeout_s", "score.min_gap_s", "score.min_duration_s",
          "probe.C"]


def test_floats_listed_are_every_float_of_the_config():
    def floats(cls, prefix):
        for f in dataclasses.fields(cls):
            hint = cls.__pydantic_fields__[f.name].annotation
            if dataclasses.is_dataclass(hint):
                yield from floats(hint, f"{prefix}{f.name}.")
            elif hint is float:
                yield prefix + f.name

    # the student's model and optim are the teacher's classes
    found = {k.replace("student.", "teacher.") if k.split(".")[1] in ("model", "optim") else k
             for k in floats(DakdConfig, "")}
    assert found == set(FLOATS)


@pytest.mark.parametrize("key", FLOATS)
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "nan", "inf"])
def test_nan_and_infinity_are_rejected(key, value):
    message = set_error(f"{key}={value}")
    assert message.startswith(f"--set {key}={value}: {key} must be a number"), message


def test_a_mapping_where_a_number_goes():
    assert set_error("teacher.optim.epochs={a: 1}") == (
        "--set teacher.optim.epochs={a: 1}: teacher.optim.epochs must be an integer >= 1, got {'a': 1}")
    assert set_error("teacher.model=3") == "--set teacher.model=3: teacher.model must be a mapping, got 3"
    assert set_error("teacher.model.width=[1, 2]") == (
        "--set teacher.model.width=[1, 2]: teacher.model.width must be an integer >= 1, got [1, 2]")


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(("override", "key", "suggestion"), [
    ("teachr.optim.epochs=3", "teachr", "teacher"),
    ("teacher.model.temprol=tam", "teacher.model.temprol", "temporal"),
    ("extract.backbones.clip.modle=ViT-B-16", "extract.backbones.clip.modle", "model"),
    ("student.distill.tua=1", "student.distill.tua", "tau"),
    ("teacher.model.terms.cross_c2=false", "teacher.model.terms.cross_c2", "cross_c2c"),
    ("evaluate.metrics=ap", "evaluate.metrics", "metric"),
])
def test_an_unknown_key_names_the_nearest_valid_key(override, key, suggestion):
    assert set_error(override) == f"--set {override}: {key}: unknown key; did you mean '{suggestion}'?"


def test_an_unknown_key_without_a_near_one_lists_the_valid_keys():
    assert set_error("teacher.mil.zzz=1") == (
        "--set teacher.mil.zzz=1: teacher.mil.zzz: unknown key (valid: lambda_smooth, lambda_sparse, reduction)")


def test_unknown_keys_in_a_file_name_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("teachr:\n  optim: {epochs: 3}\n")
    assert error_of(load_config, path) == f"{path}: teachr: unknown key; did you mean 'teacher'?"
    path.write_text("extract:\n  backbones:\n    clip: {arch: open_clip, modle: ViT-B-16}\n")
    assert error_of(load_config, path) == f"{path}: extract.backbones.clip.modle: unknown key; did you mean 'model'?"


def test_workflow_sections_are_not_config_errors():
    cfg = DakdConfig.from_dict({"seed": 2, "datasets": {"d": {"kind": "demo"}}, "reproduce": {"seeds": [0]}})
    assert cfg.seed == 2
    assert error_of(DakdConfig.from_dict, {"dataset": {}}) == "dataset: unknown key; did you mean 'datasets'?"


# ---------------------------------------------------------------- malformed --set


@pytest.mark.parametrize(("overrides", "message"), [
    (["teacher=5", "teacher.optim.epochs=3"],
     "--set teacher.optim.epochs=3: teacher.optim.epochs: cannot set a key inside teacher, which is 5, not a mapping"),
    (["teacher=5"], "--set teacher=5: teacher must be a mapping, got 5"),
    (["teacher.backbones=[a]", "teacher.backbones.x=1"],
     "--set teacher.backbones.x=1: teacher.backbones.x: cannot set a key inside teacher.backbones, which is ['a'], "
     "not a mapping"),
    (["a.b"], "--set a.b: not of the form key.path=value (e.g. teacher.optim.epochs=50)"),
    (["=3"], "--set =3: not of the form key.path=value (e.g. teacher.optim.epochs=50)"),
    (["teacher..epochs=3"], "--set teacher..epochs=3: teacher..epochs: not a dotted config key (an empty part)"),
    (["teacher.optim.epochs=[1"], "--set teacher.optim.epochs=[1: the value '[1' is not valid YAML"),
    (["teacher.optim.epochs=3", "seed=x"], "--set seed=x: seed must be an integer >= 0, got 'x'"),
])
def test_a_malformed_override_is_a_one_line_config_error(overrides, message):
    assert set_error(*overrides) == message


def test_apply_overrides_reports_the_item():
    assert error_of(apply_overrides, {"teacher": 5}, ["teacher.optim.epochs=3"]) == (
        "--set teacher.optim.epochs=3: teacher.optim.epochs: cannot set a key inside teacher, which is 5, "
        "not a mapping")
    assert apply_overrides({"teacher": None}, ["teacher.optim.epochs=3"]) == {"teacher": {"optim": {"epochs": 3}}}


def test_a_config_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- a\n- b\n")
    assert error_of(load_config, path) == f"{path}: a config file is a mapping of sections, got ['a', 'b']"


def test_an_error_names_where_the_value_came_from(tmp_path):
    path = tmp_path / "config.yaml"
    data = {"teacher": {"optim": {"epochs": 5}},
            "datasets": {"d": {"kind": "demo", "root": "x", "overrides": {"teacher": {"optim": {"epochs": 0}}}}}}
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).teacher.optim.epochs == 5
    assert error_of(load_config, path, dataset="d") == (
        f"{path}: datasets.d.overrides: teacher.optim.epochs must be an integer >= 1, got 0")
    assert load_config(path, ["teacher.optim.epochs=2"], dataset="d").teacher.optim.epochs == 2
    assert error_of(load_config, path, ["teacher.optim.lr_other=-1.0"], dataset="d") == (  # the first, and a count
        f"{path}: datasets.d.overrides: teacher.optim.epochs must be an integer >= 1, got 0 (and 1 more problem)")
    data["teacher"]["optim"]["epochs"] = -2
    path.write_text(yaml.safe_dump(data))
    assert error_of(load_config, path) == f"{path}: teacher.optim.epochs must be an integer >= 1, got -2"
    assert error_of(load_config, path, dataset="nope") == f"{path}: no dataset 'nope' under 'datasets' (have ['d'])"


def test_a_dataset_whose_overrides_are_not_a_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"d": {"kind": "demo", "root": "x", "overrides": [1]}}}))
    assert error_of(load_config, path, dataset="d") == (
        f"{path}: datasets.d.overrides must be a mapping of config sections, got [1]")


# ---------------------------------------------------------------- the workflow's config.yaml


def test_the_shipped_config_passes_the_workflow_check():
    check_workflow_config(shipped(), "config.yaml")


def workflow_error(change) -> str:
    data = shipped()
    change(data)
    return error_of(check_workflow_config, data, "config.yaml")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["teacher"]["optim"].update(lr_other=-0.001),
     "config.yaml: teacher.optim.lr_other must be a number > 0, got -0.001"),
    (lambda d: d.update(teachr={}), "config.yaml: teachr: unknown key; did you mean 'teacher'?"),
    (lambda d: d["datasets"]["demo"]["overrides"]["teacher"]["optim"].update(epochs=0),
     "config.yaml: datasets.demo.overrides: teacher.optim.epochs must be an integer >= 1, got 0"),
    (lambda d: d["datasets"]["demo"]["overrides"]["teacher"]["optim"].update(epoch=3),
     "config.yaml: datasets.demo.overrides: teacher.optim.epoch: unknown key; did you mean 'epochs'?"),
    (lambda d: d["datasets"]["demo"]["overrides"]["extract"]["backbones"]["clip"].update(modle="x"),
     "config.yaml: datasets.demo.overrides: extract.backbones.clip.modle: unknown key; did you mean 'model'?"),
    (lambda d: d["datasets"]["xdviolence"]["overrides"]["evaluate"].update(metric="map"),
     "config.yaml: datasets.xdviolence.overrides: evaluate.metric must be one of auc, ap, got 'map'"),
    (lambda d: d["datasets"]["ucf"].update(overrides={"features": {"crop": 12}}),
     "config.yaml: datasets.ucf.overrides: features.crop must be 'mean', 'per_crop_bags' or a crop index in "
     "[0, 10) for extract.crops 'ten', got 12"),
    (lambda d: d["datasets"]["demo"].update(kidn="demo"),
     "config.yaml: datasets.demo.kidn: unknown key; did you mean 'kind'?"),
    (lambda d: d["datasets"]["demo"].update(kind="dmeo"),
     "config.yaml: datasets.demo.kind must be one of demo, ucf_crime, shanghaitech, xd_violence, features, "
     "got 'dmeo'"),
    (lambda d: d["datasets"]["demo"].pop("root"),
     "config.yaml: datasets.demo.root must be the dataset's directory (a non-empty string), got null"),
    (lambda d: d["datasets"]["ucf"].update(naming="ucf_crime"),
     "config.yaml: datasets.ucf.naming: only a dataset of kind 'features' has this key (this one is 'ucf_crime')"),
    (lambda d: d["datasets"]["demo"].update(options={"fps": 0}),
     "config.yaml: datasets.demo.options.fps must be an integer >= 1, got 0"),
    (lambda d: d["datasets"]["demo"].update(options={"width": 0}),
     "config.yaml: datasets.demo.options.width must be an integer >= 16, got 0"),
    (lambda d: d["datasets"]["demo"].update(options={"fsp": 10}),
     "config.yaml: datasets.demo.options.fsp: unknown key; did you mean 'fps'?"),
    (lambda d: d["datasets"]["demo"].update(options={"min_seconds": 3, "max_seconds": 2}),
     "config.yaml: datasets.demo.options.max_seconds must be >= min_seconds (3), got 2"),
    (lambda d: d["datasets"]["ucf"].update(options={"train_lst": "a.txt"}),
     "config.yaml: datasets.ucf.options.train_lst: unknown key; did you mean 'train_list'?"),
    (lambda d: d["datasets"]["shanghaitech"].update(options={"test_list": 3}),
     "config.yaml: datasets.shanghaitech.options.test_list must be a path under the root (a string), got 3"),
    (lambda d: d["datasets"]["xdviolence"].update(options={"train_list": "x"}),
     "config.yaml: datasets.xdviolence.options.train_list: unknown key; did you mean 'train_dir'?"),
    (lambda d: d["datasets"].update(bad=[1]),
     "config.yaml: datasets.bad must be a mapping (kind, root, options, overrides), got [1]"),
    (lambda d: d.pop("datasets"),
     "config.yaml: datasets must be a non-empty mapping of dataset names to entries (kind, root, ...), got null"),
])
def test_the_workflow_check_names_the_key(change, message):
    assert workflow_error(change) == message


FEATURES = {"kind": "features", "root": "data/ucf", "naming": "ucf_crime", "ground_truth": "gt.npy",
            "sources": {"i3d": {"train": "train.list", "test": "test.list", "layout": "rtfm"}},
            "options": {"snippet_len": 16, "fps": 30}}


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: None, None),
    (lambda e: e.update(naming="ucf"),
     "config.yaml: datasets.ucf.naming must be one of ucf_crime, shanghaitech, xd_violence (the rule that labels "
     "the videos by name), got 'ucf'"),
    (lambda e: e.pop("naming"), None),  # labels may come from the lists' order, a label column or the truth
    (lambda e: e.update(anomalous_first={"train": 810, "test": 140}), None),
    (lambda e: e.update(anomalous_first={"trian": 810}),
     "config.yaml: datasets.ucf.anomalous_first.trian: unknown key; did you mean 'train'?"),
    (lambda e: e.update(anomalous_first={"train": -1}),
     "config.yaml: datasets.ucf.anomalous_first.train must be a whole number >= 0, got -1"),
    (lambda e: e.update(anomalous_first=810),
     "config.yaml: datasets.ucf.anomalous_first must map a split (train, test) to N, the number of anomalous "
     "videos that open its lists, got 810"),
    (lambda e: e["sources"]["i3d"].update(tag="x/y"),
     "config.yaml: datasets.ucf.sources.i3d.tag must be the extractor tag of the file names (Video_<tag>.npy: a "
     "letter, then letters, digits, _ or -), got 'x/y'"),
    (lambda e: e.update(compare_ground_truth=3),
     "config.yaml: datasets.ucf.compare_ground_truth must be a second ground-truth file or folder (a string), "
     "got 3"),
    (lambda e: e.pop("ground_truth"),
     "config.yaml: datasets.ucf.ground_truth must be the frame ground-truth file (a string), got null"),
    (lambda e: e["sources"]["i3d"].update(tset="t"),
     "config.yaml: datasets.ucf.sources.i3d.tset: unknown key; did you mean 'test'?"),
    (lambda e: e["sources"]["i3d"].update(layout="tencrop"),
     "config.yaml: datasets.ucf.sources.i3d.layout must be one of auto, rtfm, per_crop, center, got 'tencrop'"),
    (lambda e: e.update(sources={}),
     "config.yaml: datasets.ucf.sources must be a non-empty mapping of backbone names to {train, test, "
     "feature_root, layout}, got {}"),
])
def test_the_workflow_check_of_a_features_dataset(change, message):
    entry = copy.deepcopy(FEATURES)
    change(entry)

    def put(data):
        data["datasets"]["ucf"] = entry

    if message is None:
        data = shipped()
        put(data)
        check_workflow_config(data, "config.yaml")
    else:
        assert workflow_error(put) == message


def test_the_demo_options_are_range_checked():
    from dakd.datasets.demo import DemoSpec

    assert dataclasses.asdict(DemoSpec(min_seconds=2))["min_seconds"] == 2.0
    assert error_of(DemoSpec, fps=0) == "DemoSpec.fps must be an integer >= 1, got 0"
    assert error_of(DemoSpec, width=0) == "DemoSpec.width must be an integer >= 16, got 0"
    assert error_of(DemoSpec, height=8) == "DemoSpec.height must be an integer >= 16, got 8"
    assert error_of(DemoSpec, train_normal=0) == "DemoSpec.train_normal must be an integer >= 1, got 0"
    assert error_of(DemoSpec, train_anomalous=0) == "DemoSpec.train_anomalous must be an integer >= 1, got 0"
    assert error_of(DemoSpec, test_normal=-1) == "DemoSpec.test_normal must be an integer >= 0, got -1"
    assert error_of(DemoSpec, cameras=0) == "DemoSpec.cameras must be an integer >= 1, got 0"
    assert error_of(DemoSpec, min_seconds=0) == "DemoSpec.min_seconds must be a number > 0, got 0"
    assert error_of(DemoSpec, max_seconds=5) == "DemoSpec.max_seconds must be >= min_seconds (8), got 5"
    assert error_of(DemoSpec, min_seconds=0.1, fps=15) == (
        "DemoSpec.min_seconds: min_seconds * fps must be at least 5 frames, got 0.1 * 15 = 1.5")
    assert error_of(DemoSpec, fsp=3) == "DemoSpec.fsp: unknown key; did you mean 'fps'?"
    assert DemoSpec(test_normal=0, test_anomalous=0, min_seconds="1", fps=5).min_seconds == 1.0


# ---------------------------------------------------------------- the lists cannot drift


def test_choices_equal_the_registries():
    from dakd.backbones import available_backbones
    from dakd.backbones.preprocess import CROP_MODES
    from dakd.datasets import available_datasets
    from dakd.datasets.naming import LABEL_RULES
    from dakd.evaluate import UNITS
    from dakd.losses import MIL_REDUCTIONS
    from dakd.models.attention import SCALE_DIMS
    from dakd.models.detector import HEAD_LAYOUTS
    from dakd.models.temporal import available_temporal_networks
    from dakd.pseudo_labels import DIVISORS, PADDINGS
    from dakd.released.layouts import CROP_MODES as LISTED_CROP_MODES
    from dakd.released.layouts import LAYOUTS
    from dakd.runtime import PRECISIONS
    from dakd.training import ANCHOR_SOURCES

    args = typing.get_args
    assert sorted(args(choices.TemporalNetwork)) == available_temporal_networks()
    assert sorted(args(choices.BackboneArch)) == available_backbones()
    assert sorted(args(choices.DatasetKind)) == sorted([*available_datasets(), "features"])
    assert sorted(args(choices.FeatureNaming)) == LABEL_RULES.names()
    assert args(choices.FeatureLayout) == LAYOUTS
    assert args(choices.FeatureCrops) == LISTED_CROP_MODES
    assert choices.CROPS_PER_MODE == CROP_MODES and set(args(choices.Crops)) == set(CROP_MODES)
    assert set(args(choices.TrainPrecision)) == set(PRECISIONS)
    assert args(choices.AnchorSource) == ANCHOR_SOURCES
    assert args(choices.MILReduction) == tuple(MIL_REDUCTIONS)
    assert args(choices.EvaluateUnit) == tuple(UNITS)
    assert args(choices.AttentionScale) == tuple(SCALE_DIMS)
    assert args(choices.ScoringHeadLayout) == tuple(HEAD_LAYOUTS)
    assert args(choices.WindowDivisor) == tuple(DIVISORS) and args(choices.WindowPadding) == tuple(PADDINGS)


def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def test_the_schema_lists_the_dataset_entry_choices():
    """The datasets entries are checked by hand (dakd.config.datasets); the sections' choices by the
    test below that walks the typed config."""
    dataset = schema()["properties"]["datasets"]["additionalProperties"]["properties"]
    args = typing.get_args
    pairs = [
        (dataset["kind"], choices.DatasetKind),
        (dataset["naming"], choices.FeatureNaming),
        (dataset["sources"]["additionalProperties"]["properties"]["layout"], choices.FeatureLayout),
        (dataset["sources"]["additionalProperties"]["properties"]["crops"], choices.FeatureCrops),
    ]
    for node, literal in pairs:
        assert node["enum"] == list(args(literal))


def test_the_schema_accepts_and_rejects_what_the_config_does():
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    assert not list(validator.iter_errors(shipped()))
    for key, bad, _, good in RANGES:
        for value, ok in ((bad, False), (good, True)):
            data = config_module.set_dotted(shipped(), {key: yaml.safe_load(value)})
            assert (not list(validator.iter_errors(data))) == ok, (key, value)
    for key, bad, _ in CHOICES:
        assert list(validator.iter_errors(config_module.set_dotted(shipped(), {key: bad}))), key
    for key in ("teacher.model.terms.c2p", "pseudo_labels.min_max", "student.distill.use_bce",
                "teacher.model.attention_bias"):
        for value in (1, "yes"):
            assert list(validator.iter_errors(config_module.set_dotted(shipped(), {key: value}))), key
    for key in FLOATS:
        assert list(validator.iter_errors(config_module.set_dotted(shipped(), {key: "nan"}))), key
        assert not list(validator.iter_errors(config_module.set_dotted(shipped(), {key: "1e-3"}))), key
    for split, ok in (("val", True), ("test", False), ("train", False), ("../x", False), (None, True)):
        data = config_module.set_dotted(shipped(), {"validation.split": split})
        assert (not list(validator.iter_errors(data))) == ok, split


@pytest.mark.parametrize(("value", "expected"), [("all", "all"), ("middle", "middle"), ("first", "first"),
                                               ("1", 1), ("4", 4), ("16", 16)])
def test_clip_frames_per_snippet(value, expected):
    cfg = load_config(REPO / "config.yaml", [f"extract.backbones.clip.frames_per_snippet={value}"])
    assert cfg.extract.backbones["clip"].frames_per_snippet == expected
    assert cfg.extract.backbones["clip"].arch == "open_clip"


@pytest.mark.parametrize(("override", "problem"), [
    ("extract.backbones.clip.frames_per_snippet=0",
     "extract.backbones.clip.frames_per_snippet must be 'all', 'middle', 'first' or a number of frames >= 1, got 0"),
    ("extract.backbones.clip.frames_per_snippet=mid",
     "extract.backbones.clip.frames_per_snippet must be 'all', 'middle', 'first' or a number of frames >= 1, "
     "got 'mid'"),
    ("extract.backbones.clip.frames_per_snippet=17",
     "extract.snippet_len must be at least backbone clip's frames_per_snippet (17), got 16"),
    ("extract.backbones.s3d.frames_per_snippet=middle",
     "extract.backbones.s3d.frames_per_snippet: applies to image backbones (open_clip) only; a s3d sees the whole "
     "snippet, so it must be 'all', got 'middle'"),
])
def test_bad_frames_per_snippet_is_a_config_error(override, problem):
    assert error_of(load_config, REPO / "config.yaml", [override]) == f"--set {override}: {problem}"


def test_the_schema_takes_the_frame_samplings_the_config_takes():
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    for value, ok in (("all", True), ("middle", True), (4, True), ("4", True), (0, False), ("mid", False)):
        data = config_module.set_dotted(shipped(), {"extract.backbones.clip.frames_per_snippet": value})
        assert (not list(validator.iter_errors(data))) == ok, value


def test_the_config_module_stays_light():
    """The Snakefile imports dakd.config while it parses: no torch, numpy or dataset adapters."""
    import subprocess
    import sys

    code = ("import sys, dakd.config; "
            "print(sorted(m for m in ('torch', 'numpy', 'dakd.datasets') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("threshold", ["fpr:2", "fpr:0", "fpr:x", "abc", "nan", "inf", "f2"])
def test_a_score_threshold_is_a_number_f1_or_a_false_alarm_rate(threshold):
    assert set_error(f"score.threshold={threshold}") == (
        f"--set score.threshold={threshold}: score.threshold must be null, a number, f1 or fpr:<rate> with a rate "
        f"in (0, 1), got '{threshold}'")
    assert load_config(None, ["score.threshold=fpr:0.01"]).score.threshold == "fpr:0.01"


def test_score_model_and_window_are_checked():
    assert set_error("score.model=both") == (
        "--set score.model=both: score.model must be one of student, teacher, got 'both'")
    assert set_error("score.window=0") == "--set score.window=0: score.window must be an integer >= 1, got 0"


def _schema_node(node: dict, defs: dict) -> dict:
    """``node`` with a ``$ref`` to a section definition (``stage``) replaced by that definition."""
    ref = node.get("$ref", "")
    return defs[ref.rsplit("/", 1)[1]] if ref.startswith("#/$defs/") and "properties" in defs[
        ref.rsplit("/", 1)[1]] else node


def _schema_disagreements(cls: type, node: dict, defs: dict, path: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Where the schema ``node`` and the typed section ``cls`` differ: keys, enums, bounds, null."""
    from pydantic.fields import FieldInfo

    node = _schema_node(node, defs)
    props, fields = node.get("properties", {}), cls.__pydantic_fields__
    problems = [f"{path}.{k}: in the schema, not in {cls.__name__}" for k in set(props) - set(fields) - set(extra)]
    problems += [f"{path}.{k}: in {cls.__name__}, not in the schema" for k in set(fields) - set(props)]
    for name in set(fields) & set(props):
        info: FieldInfo = fields[name]
        problems += _field_disagreements(info, _schema_node(props[name], defs), defs, f"{path}.{name}")
    return problems


def _field_disagreements(info, node: dict, defs: dict, path: str) -> list[str]:
    hint, optional = info.annotation, False
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        optional, hint = True, next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is typing.Annotated:
        if any(type(m).__name__ == "BeforeValidator" and m.func.__name__ not in ("not_bool",) for m in
               typing.get_args(hint)[1:]):
            return []  # a value with its own reading (crop index, frames per snippet): its tests are above
        hint = typing.get_args(hint)[0]
    # an empty section (`teacher:` in YAML) is null, and means its defaults
    optional = optional or dataclasses.is_dataclass(hint) or typing.get_origin(hint) is dict
    options = node.get("oneOf") or node.get("anyOf") or [node]
    accepts_null = any("null" in (o.get("type") if isinstance(o.get("type"), list) else [o.get("type")])
                       for o in options)
    problems = [f"{path}: null allowed in one only"] if optional != accepts_null else []
    node = next((o for o in options if o.get("type") != "null"), node)
    if dataclasses.is_dataclass(hint):
        return problems + _schema_disagreements(hint, node, defs, path)
    if typing.get_origin(hint) is dict:
        return problems + _schema_disagreements(typing.get_args(hint)[1], node["additionalProperties"], defs, path)
    if typing.get_origin(hint) is typing.Literal:
        if node.get("enum") != list(typing.get_args(hint)):
            problems.append(f"{path}: enum {node.get('enum')} != {list(typing.get_args(hint))}")
    elif hint in (int, float):
        kind = {int: "integer", float: "number"}[hint]
        if node.get("$ref") != f"#/$defs/{kind}":
            problems.append(f"{path}: not a $defs/{kind}")
        names = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
        bounds = {names[a]: getattr(m, a) for m in info.metadata for a in names if getattr(m, a, None) is not None}
        schema_bounds = {k: node[k] for k in names.values() if k in node}
        if bounds != schema_bounds:
            problems.append(f"{path}: bounds {schema_bounds} != {bounds}")
    elif hint is bool:
        if node.get("type") != "boolean":
            problems.append(f"{path}: not a boolean")
    return problems


def test_the_schema_has_every_key_choice_and_bound_of_the_typed_config():
    """workflow/schemas/config.schema.yaml against dakd.config, in both directions."""
    s = schema()
    problems = _schema_disagreements(DakdConfig, s, s["$defs"], "config", extra=choices.WORKFLOW_KEYS)
    # teacher and student share the schema's 'stage' definition: each of its keys is one of theirs
    stage = set(s["$defs"]["stage"]["properties"])
    owned = set(config_module.TeacherConfig.__pydantic_fields__) | set(config_module.StudentConfig.__pydantic_fields__)
    shared = tuple(f"config.{model}.{key}: in the schema, not in" for model in ("teacher", "student") for key in owned)
    problems = [p for p in problems if not p.startswith(shared)]
    assert stage == owned and not problems, problems


def test_the_schema_check_sees_a_difference():
    s = schema()
    s["properties"]["extract"]["properties"]["crops"]["enum"] = ["center", "five"]
    s["properties"]["evaluate"]["properties"]["max_window"]["oneOf"][1]["minimum"] = 2
    del s["properties"]["score"]["properties"]["window"]
    s["properties"]["seed"]["maximum"] = 10
    problems = _schema_disagreements(DakdConfig, s, s["$defs"], "config", extra=choices.WORKFLOW_KEYS)
    for expected in ("config.extract.crops: enum", "config.evaluate.max_window: bounds",
                     "config.score.window: in ScoreConfig, not in the schema", "config.seed: bounds"):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_a_dataset_override_may_be_dotted(tmp_path):
    """Issue 21, item 7: the dotted form is taken wherever dakd takes overrides, a dataset's too,
    and checked like the nested form (a misspelt key names the nearest one)."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"optim": {"epochs": 9}}, "datasets": {"d": {
        "kind": "ucf_crime", "root": "x", "overrides": {"teacher.optim.epochs": 30, "teacher": {"optim": {
            "epochs": 5, "lr_other": 0.002}}}}}}))
    cfg = load_config(path, dataset="d")
    assert (cfg.teacher.optim.epochs, cfg.teacher.optim.lr_other) == (30, 0.002)  # the dotted key is the specific one
    assert load_config(path, ["teacher.optim.epochs=4"], dataset="d").teacher.optim.epochs == 4
    path.write_text(yaml.safe_dump({"datasets": {"d": {"kind": "ucf_crime", "root": "x", "overrides": {
        "teacher.optim.epoch": 30}}}}))
    with pytest.raises(ConfigError, match=r"datasets\.d\.overrides: teacher\.optim\.epoch: unknown key; did you "
                                          r"mean 'epochs'\?"):
        load_config(path, dataset="d")
    with pytest.raises(ConfigError, match=r"datasets\.d\.overrides.*teacher\.optim\.epoch: unknown key"):
        check_workflow_config(yaml.safe_load(path.read_text()), "c.yaml")
