import json

import numpy as np

from dakd.cli import main
from dakd.features import BackboneInfo, VideoFeatures, VideoMeta, write_shard


def test_cli_runs_all_stages(synthetic, tmp_path, capsys):
    root, _, annotations = synthetic
    cfg = tmp_path / "config.yaml"
    cfg.write_text("teacher:\n  model: {width: 32, heads: 2, ffn_dim: 64}\n  optim: {epochs: 1}\n"
                   "student:\n  model: {width: 32, heads: 2, ffn_dim: 64}\n  optim: {epochs: 1}\n")
    common = ["--config", str(cfg), "--features", str(root / "features"), "--no-progress"]
    assert main(["train-teacher", *common, "--out", str(tmp_path / "t.pt")]) == 0
    assert main(["pseudo-labels", *common, "--teacher", str(tmp_path / "t.pt"),
                 "--out", str(tmp_path / "p.parquet")]) == 0
    assert main(["train-student", *common, "--teacher", str(tmp_path / "t.pt"),
                 "--pseudo-labels", str(tmp_path / "p.parquet"), "--out", str(tmp_path / "s.pt")]) == 0
    assert main(["evaluate", *common, "--model", str(tmp_path / "s.pt"), "--annotations", str(annotations),
                 "--out", str(tmp_path / "s.json")]) == 0
    assert "student: frame AUC" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["model"] == "student"


def test_cli_errors_are_one_line_and_name_the_file(tmp_path, capsys):
    meta = VideoMeta("v", "train", 0, "Normal", 32, 30.0, 16, 16, 2, 16)
    write_shard(tmp_path / "bad.parquet", [VideoFeatures(meta, {"i3d": np.zeros((2, 1, 8), np.float32)})],
                [BackboneInfo("i3d", 8, 1, "random")], {})
    cases = [
        (["--features", str(tmp_path / "nope")], "nope: feature shard or directory not found"),
        (["--features", str(tmp_path / "bad.parquet")], "bad.parquet: no features for backbone(s) ['s3d', 'clip']"),
        (["--features", str(tmp_path / "bad.parquet"), "--set", "teacher.optim.lr=1"],
         "teacher.optim.lr: unknown key (valid: epochs, min_steps, lr_temporal, lr_other"),
    ]
    for args, message in cases:
        assert main(["train-teacher", *args, "--out", str(tmp_path / "t.pt"), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "t.pt").exists()


def test_threads_option_reaches_torch_and_zero_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import torch

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)  # restored after the test
    before = torch.get_num_threads()
    try:
        assert main(["synthetic-features", "--threads", "1", "--out-dir", str(tmp_path / "a")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    capsys.readouterr()
    assert main(["synthetic-features", "--threads", "0", "--out-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err == "dakd synthetic-features: error: --threads must be at least 1, got 0\n"
    assert not (tmp_path / "b").exists()
