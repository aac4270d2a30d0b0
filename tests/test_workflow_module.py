"""dakd.workflow, the workflow's Python, without running Snakemake: --config leaves, config checks,
the effective config file, the map of the sections each stage reads, run-directory patterns,
input functions and the studies' jobs."""

import json
import os
import re

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from workflow_helpers import REPO

from dakd.config import ConfigError
from dakd.reproduce import plan_dataset
from dakd.workflow import configuration, inputs, sections
from dakd.workflow.configuration import (
    Datasets,
    check_config,
    command_line_overrides,
    dataset_source,
    write_effective_config,
    yaml_leaves,
)
from dakd.workflow.sections import (
    DIGEST_CHARS,
    EVALUATION_PATTERN,
    RUN_DIR_PATTERN,
    RUN_PREFIX_PATTERNS,
    run_digest_sections,
    stage_params,
    stage_sections,
)
from dakd.workflow.studies import StudyPlans

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_command_line_leaves_are_read_as_yaml():
    assert yaml_leaves({"a": {"b": "3", "c": "1e-3", "d": "mha", "e": ["true", "0.5"], "f": "null"}}) == {
        "a": {"b": 3, "c": 0.001, "d": "mha", "e": [True, 0.5], "f": None}}
    assert yaml_leaves("[1, 2]") == "[1, 2]"  # only scalars are parsed
    assert command_line_overrides({"seed": 7, "teacher": {"optim": {"epochs": "3"}}}) == {
        "teacher": {"optim": {"epochs": 3}}}
    assert command_line_overrides(None) == {}


def test_the_shipped_config_passes_the_checks(config):
    check_config(config, "config.yaml", SCHEMA)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda c: c["teacher"].setdefault("optim", {}).update(epochs=0), "dakd: here: teacher.optim.epochs"),
    (lambda c: c["datasets"]["demo"]["overrides"].setdefault("teacher", {}).setdefault("optim", {}).update(
        epochs=0), "datasets.demo"),
])
def test_a_bad_value_is_one_config_error_line(config, edit, problem):
    edit(config)
    with pytest.raises(ConfigError) as error:
        check_config(config, "here", SCHEMA)
    message = str(error.value)
    assert message.startswith("dakd: ") and problem in message and "\n" not in message


def test_the_effective_config_is_named_by_its_content(tmp_path, config):
    first = write_effective_config(config, tmp_path)
    assert write_effective_config(config, tmp_path) == first
    assert yaml.safe_load(open(first)) == config
    config["seed"] = 7
    second = write_effective_config(config, tmp_path)
    assert second != first and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]])


def test_dataset_source_leaves_out_the_overrides(config):
    assert "overrides" not in dataset_source(config, "demo")
    assert dataset_source(config, "demo") == dataset_source({"datasets": {"demo": {
        **{k: v for k, v in config["datasets"]["demo"].items() if k != "overrides"}, "overrides": {"seed": 3}}}},
        "demo")


def test_datasets_are_worked_out_once(config, monkeypatch):
    config["datasets"]["gpu"] = {**config["datasets"]["demo"], "overrides": {"device": "cuda"}}
    datasets = Datasets.of(config, "config.yaml")
    monkeypatch.setattr(configuration.DakdConfig, "from_dict", lambda *a: pytest.fail("parsed again"))
    assert datasets.gpus["gpu"] == 1 and datasets.gpus["demo"] == (0 if datasets.typed["demo"].device == "cpu"
                                                                    else 1)
    assert set(datasets.of_kind(features=False)) | set(datasets.of_kind(features=True)) == set(config["datasets"])


def test_each_stage_reads_its_sections_and_evaluation_joins_training_with_a_validation_split():
    assert stage_sections("pseudo_labels") == ("device", "features", "pseudo_labels")
    assert "evaluate" not in stage_sections("teacher") and "evaluate" in stage_sections("teacher", "val")
    assert "evaluate" in stage_sections("student", "val") and "evaluate" not in stage_sections("pseudo_labels", "val")
    assert run_digest_sections() == {"teacher": ("seed", "device", "features", "teacher", "validation"),
                                     "pseudo_labels": ("pseudo_labels",), "student": ("student",)}
    assert run_digest_sections("val")["teacher"][-1] == "evaluate"
    assert run_digest_sections("val")["student"] == ("student",)


def test_stage_params_change_only_for_the_stages_that_read_an_edit():
    base = {"seed": 0, "device": "cpu", "teacher": {"a": 1}, "student": {"b": 1}, "validation": {"split": None},
            "evaluate": {"unit": "snippet"}}
    edited = {**base, "student": {"b": 2}}
    changed = {s for s in sections.STAGE_SECTIONS if stage_params(base, s) != stage_params(edited, s)}
    assert changed == {"student"}
    assert stage_params(base, "student", {"student.b": 2}) == stage_params(edited, "student")
    evaluation = {**base, "evaluate": {"unit": "segment"}}
    assert stage_params(base, "teacher") == stage_params(evaluation, "teacher")
    split = {**base, "validation": {"split": "val"}}
    assert stage_params(split, "teacher") != stage_params({**split, "evaluate": {"unit": "segment"}}, "teacher")


def test_every_run_pattern_is_built_from_the_digest_width(config):
    plan = plan_dataset(config, "demo")
    runs = [run for runs in plan.runs.values() for run in runs]
    assert all(len(part) == DIGEST_CHARS + 1 for run in runs for d in run.dirs.values() for part in d.split("/"))
    for run in runs:
        assert re.fullmatch(RUN_DIR_PATTERN, run.dirs["teacher"]) and re.fullmatch(RUN_DIR_PATTERN, run.dirs["student"])
        assert re.fullmatch(RUN_PREFIX_PATTERNS["pseudo_labels"], f"runs/{run.dirs['pseudo_labels']}/")
        assert not re.fullmatch(RUN_PREFIX_PATTERNS["teacher"], f"runs/{run.dirs['student']}/")
        if run.evaluation:
            assert re.fullmatch(EVALUATION_PATTERN, run.evaluation)
    assert all(re.fullmatch(p, "") for p in RUN_PREFIX_PATTERNS.values())
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        assert not re.search(r"\{\d+\}", re.sub(r"shard=r\"\\d\{5\}\"", "", path.read_text())), path


def test_dataset_root_inputs(config, tmp_path):
    assert inputs.dataset_root_inputs(config, "demo", "c.yaml") == [f"{config['datasets']['demo']['root']}/demo.json"]
    config["datasets"]["ucf"] = {"kind": "ucf_crime", "root": str(tmp_path / "nowhere")}
    with pytest.raises(WorkflowError) as error:
        inputs.dataset_root_inputs(config, "ucf", "c.yaml")
    assert str(error.value).strip() == (f"dakd: dataset 'ucf': {tmp_path / 'nowhere'} not found "
                                        "(set datasets.ucf.root in c.yaml)")
    (tmp_path / "nowhere").mkdir()
    assert inputs.dataset_root_inputs(config, "ucf", "c.yaml") == []


def test_imported_sources_and_shard_lists(tmp_path):
    spec = {"kind": "features", "root": "r", "ground_truth": "gt.npy",
            "sources": {"i3d": {"train": "train.list", "test": "test.list"}, "clip": {"train": "c.list"}}}
    assert inputs.imported_sources({"datasets": {"x": spec}}, "x") == ["r/gt.npy", "r/train.list", "r/test.list",
                                                                        "r/c.list"]
    manifest = tmp_path / "videos.csv"
    manifest.write_text("video_id,path,split,label,class_name\n" + "".join(f"v{i},p,train,0,N\n" for i in range(7)))
    assert inputs.shard_files("d", manifest, 3) == [f"results/d/features/shard-{i:05d}.parquet" for i in range(3)]
    assert inputs.shard_files("d", manifest, 7) == ["results/d/features/shard-00000.parquet"]
    manifest.write_text("video_id,path,split,label,class_name\n")
    assert len(inputs.shard_files("d", manifest, 7)) == 1


def test_a_run_prefix_names_its_earlier_stages():
    run = "runs/t0123456789/pabcdefabcd/s0000000000/"
    assert inputs.run_prefix(run, "teacher") == "runs/t0123456789/"
    assert inputs.run_prefix(run, "pseudo_labels") == "runs/t0123456789/pabcdefabcd/"
    assert inputs.run_prefix("", "teacher") == "" and inputs.run_dir("") == ""
    assert inputs.run_dir(run) == "t0123456789/pabcdefabcd/s0000000000"


def test_study_jobs(config):
    studies = StudyPlans(config, "config.yaml")
    plan = studies.plan("demo")
    assert studies.plan("demo") is plan  # planned once
    run = next(r for r in plan.runs["table4"] if "student" in r.row.models)
    changes = studies.run_changes("demo", f"runs/{run.dirs['student']}/")
    assert changes == run.changes["student"] and studies.run_changes("demo", "") == {}
    assert studies.set_options({"a.b": "x y", "seed": 1}) == "--set 'a.b=\"x y\"' --set seed=1"
    assert studies.set_options({}) == ""
    result = run.result("student")
    assert studies.result_changes("demo", f"runs/{run.dirs['student']}/", "student",
                                  result.rsplit("student_auc", 1)[1].removesuffix(".json")) == \
        run.evaluation_changes("student")
    assert f"results/demo/runs/{result}" in studies.results("demo", "table4")
    assert "all" in studies.groups() and "figure5" in studies.groups()
    assert studies.group_members("demo", "figure5") == [f"results/demo/tables/{n}.md" for n in plan.studies
                                                        if n.startswith("figure5_")]
    for call, message in [(lambda: studies.run_changes("demo", "runs/t0000000000/"), "is not a run of any study"),
                          (lambda: studies.results("demo", "nope"), "no study 'nope'"),
                          (lambda: studies.result_changes("demo", "", "teacher", ".e0000000000"), "a tagged result")]:
        with pytest.raises(WorkflowError, match=message) as error:
            call()
        assert str(error.value).strip().startswith("dakd: ") and "\n" not in str(error.value).strip()


def test_scored_videos(config, tmp_path):
    config["score"] = {"input_dir": str(tmp_path / "none")}
    cfg = Datasets.of(config, "c.yaml").typed["demo"]
    with pytest.raises(WorkflowError, match="score.input_dir .* not found"):
        inputs.scored_videos(cfg, "demo", "c.yaml")
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "a.mp4").write_bytes(b"")
    videos = inputs.scored_videos(cfg, "demo", "c.yaml")
    assert list(videos) == ["a"]
    assert inputs.scored_video_input(cfg, "demo", "a", videos)["video"] == videos["a"]
    with pytest.raises(WorkflowError, match="no video named 'b'"):
        inputs.scored_video_input(cfg, "demo", "b", videos)


def test_the_index_reruns_on_what_it_reads(config, tmp_path):
    """The index's inputs are the files it reads, and its sources digest changes with a video added
    or removed and with an edit to a file it reads, but not with a video's content (that is its
    shard's: shard_videos) nor with a file the index skips."""
    root = tmp_path / "XD"
    for name in ["train/v=a__#1_label_A.mp4", "test/v=b__#1_label_A.mp4"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"v")
    (root / "annotations.txt").write_text("")
    config["datasets"]["xd"] = {"kind": "xd_violence", "root": str(root)}
    assert inputs.dataset_root_inputs(config, "xd", "c.yaml") == [str(root / "annotations.txt")]
    before = inputs.dataset_sources_digest(config, "xd")
    (root / "train" / "v=a__#1_label_A.mp4").write_bytes(b"repaired")
    (root / "train" / "._v=a__#1_label_A.mp4").write_bytes(b"metadata")
    assert inputs.dataset_sources_digest(config, "xd") == before
    (root / "train" / "v=c__#1_label_A.ts").write_bytes(b"v")
    added = inputs.dataset_sources_digest(config, "xd")
    assert added != before
    os.utime(root / "annotations.txt", ns=(1, 1))
    assert inputs.dataset_sources_digest(config, "xd") != added
    assert inputs.dataset_sources_digest(config, "demo") == ""


def test_a_shard_reruns_on_its_own_rows_and_videos(tmp_path):
    videos = [tmp_path / f"v{i}.mp4" for i in range(5)]
    for path in videos:
        path.write_bytes(b"v")
    manifest = tmp_path / "videos.csv"
    manifest.write_text("video_id,path,split,label,class_name\n"
                        + "".join(f"v{i},{p},train,0,Normal\n" for i, p in enumerate(videos)))
    before = [inputs.shard_videos(manifest, n, 2) for n in range(3)]
    assert [len(json.loads(b)["videos"]) for b in before] == [2, 2, 1]
    videos[2].write_bytes(b"a repaired video")
    assert [inputs.shard_videos(manifest, n, 2) == b for n, b in enumerate(before)] == [True, False, True]


def test_a_command_line_value_wins_over_a_dataset_override_and_says_what_it_replaced(config):
    """Issue 21, item 2: --config 'teacher={optim: {epochs: 50}}' (the README's example) did nothing on
    the demo, whose overrides set 30. The command line wins, in one line naming both values; the
    per-dataset form sets one dataset's value and beats the top-level one there."""
    from dakd.workflow.precedence import command_line_values, merge_command_line

    settings = {"teacher": {"optim": {"epochs": "50"}}, "seed": 3}
    assert merge_command_line(config, command_line_values(settings)) == [
        "dakd: --config teacher.optim.epochs=50 replaces 30 from datasets.demo.overrides"]
    datasets = Datasets.of(config, "c.yaml")
    assert datasets.typed["demo"].teacher.optim.epochs == 50 and datasets.typed["ucf"].teacher.optim.epochs == 50
    assert datasets.typed["demo"].student.optim.epochs == 30  # what --config does not set stays
    settings = {"datasets": {"demo": {"overrides": {"teacher": {"optim": {"epochs": "9"}}}}},
                "teacher": {"optim": {"epochs": "50"}}}
    fresh = yaml.safe_load((REPO / "config.yaml").read_text())
    assert merge_command_line(fresh, command_line_values(settings)) == []
    datasets = Datasets.of(fresh, "c.yaml")
    assert (datasets.typed["demo"].teacher.optim.epochs, datasets.typed["ucf"].teacher.optim.epochs) == (9, 50)


@pytest.mark.parametrize("settings", [{"datasets": {"demo": {"overrides": {"teacher": {"optim": {"epochs": "9"}}}}}},
                                      {"set": "datasets.demo.overrides.teacher.optim.epochs=9"}])
def test_a_per_dataset_command_line_value_wins_over_a_dotted_key_of_the_file(settings):
    """A dataset's overrides in the file with a dotted key (teacher.optim.epochs: 30) and the per-dataset
    --config form: the command line wins. The dotted key used to be expanded after --config merged in,
    so the file's 30 won without a word."""
    from dakd.workflow.precedence import command_line_values, merge_command_line

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["demo"]["overrides"]["teacher.optim.epochs"] = 30
    assert merge_command_line(config, command_line_values(settings)) == []
    assert Datasets.of(config, "c.yaml").typed["demo"].teacher.optim.epochs == 9


def test_a_command_line_value_that_cannot_apply_says_so():
    from dakd.workflow.precedence import command_line_first, shadowed_by_rows

    config = {"extract": {"backbones": {"a": {"size": 9}}},
              "datasets": {"d": {"kind": "demo", "root": "r", "overrides": {"extract": {"backbones": {"b": {}}}}}}}
    assert command_line_first(config, {"extract": {"backbones": {"a": {"size": 9}}}}) == [
        "dakd: --config extract.backbones.a.size=9 does not apply to dataset 'd': its overrides set "
        "extract.backbones to {'b': {}}"]
    config["datasets"]["d"]["overrides"]["extract"]["backbones"] = {"a": {"arch": "y"}}
    assert command_line_first(config, {"extract": {"backbones": {"a": {"size": 9}}}}) == [
        "dakd: --config extract.backbones.a.size=9 is added to datasets.d.overrides (they replace a mapping it is "
        "in, without this key)"]
    assert config["datasets"]["d"]["overrides"]["extract"]["backbones"] == {"a": {"arch": "y", "size": 9}}
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    shipped["teacher"]["model"]["temporal"] = "gru"
    lines = shadowed_by_rows(plan_dataset(shipped, "ucf").studies, shipped, ["teacher.model.temporal"])
    assert lines[0] == ("dakd: study 'table1': row 'MTN (RTFM)' sets teacher.model.temporal='mtn' over --config "
                        "teacher.model.temporal='gru' (and 6 more rows); a row's set is its experiment")



def test_a_study_row_over_a_per_dataset_command_line_value_says_so(capsys):
    """The per-dataset form (--config set=datasets.ucf.overrides....) is shadowed by a study row
    as the top-level form is, and is said as it is (it used to be left out of the check)."""
    from dakd.workflow.precedence import command_line_values, merge_command_line

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    values = command_line_values({"set": "datasets.ucf.overrides.teacher.model.temporal=gru"})
    merge_command_line(config, values)
    StudyPlans(config, "c.yaml", values).plan("ucf")
    StudyPlans(config, "c.yaml", values).plan("demo")  # not set for the demo: nothing to say
    said = [line for line in capsys.readouterr().err.splitlines() if "over --config" in line]
    assert said[0] == ("dakd: study 'table1': row 'MTN (RTFM)' sets teacher.model.temporal='mtn' over --config "
                       "teacher.model.temporal='gru' (and 6 more rows); a row's set is its experiment")
    assert len(said) == 2 and said[1].startswith("dakd: study 'table4': ")  # the ucf's two studies, not the demo's


def test_the_dotted_form_goes_through_set():
    """Issue 21, item 7: Snakemake's parser refuses --config teacher.optim.epochs=5; dakd takes the
    dotted form as --config set=... (one item or a list), read and checked as dakd --set reads it."""
    from dakd.workflow.precedence import command_line_keys, command_line_values

    values = command_line_values({"set": ["teacher.optim.epochs=50", "datasets.demo.overrides.seed=3"],
                                  "seed": 7, "student": {"distill": {"tau": "0.5"}}})
    assert values == {"seed": 7, "student": {"distill": {"tau": 0.5}}, "teacher": {"optim": {"epochs": 50}},
                      "datasets": {"demo": {"overrides": {"seed": 3}}}}
    assert command_line_keys(values) == ["seed", "student.distill.tau", "teacher.optim.epochs"]
    assert command_line_values({"set": "evaluate.unit=segment"}) == {"evaluate": {"unit": "segment"}}
    for item, problem in [("teacher.optim.epochs", "not of the form key.path=value"),
                          ("teacher..epochs=5", "not a dotted config key"),
                          ("teacher.optim.epochs=[5", "is not valid YAML")]:
        with pytest.raises(ConfigError, match=rf"^--config set={re.escape(item)}: .*{problem}"):
            command_line_values({"set": item})
    with pytest.raises(ConfigError, match=r"^--config set=teacher\.optim\.epochs=3: .*inside teacher"):
        command_line_values({"set": ["teacher=5", "teacher.optim.epochs=3"]})
