import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from helpers import small_config

from dakd.checkpoints import load_checkpoint, load_detector
from dakd.config import OptimConfig
from dakd.errors import DakdError
from dakd.features import load_bags
from dakd.runtime import matmul_dtype, resolve_device
from dakd.stages import run_evaluate, run_pseudo_labels, run_train_student, run_train_teacher
from dakd.training import balanced_batches, batches_per_epoch, train_teacher


def test_balanced_batches_are_balanced_and_cover_the_larger_class():
    labels = torch.tensor([0] * 7 + [1] * 25)
    gen = torch.Generator().manual_seed(0)
    batches = list(balanced_batches(labels, 3, 5, gen))
    assert len(batches) == 5  # 25 anomalous / 5 per batch
    for b in batches:
        assert (labels[b] == 0).sum() == 3 and (labels[b] == 1).sum() == 5
    seen = torch.cat(batches)[labels[torch.cat(batches)] == 1]
    assert sorted(seen.tolist()) == list(range(7, 32))


def test_min_steps_adds_balanced_batches_to_each_epoch_of_a_small_training_set():
    """Ped2's 6 + 4 training videos fit one 30 + 30 batch: 100 epochs are 100 steps, unless
    optim.min_steps asks for more; a set that already gives enough steps is left as it is."""
    ped2 = torch.tensor([1] * 6 + [0] * 4)
    assert batches_per_epoch(ped2, OptimConfig()) == 1
    assert batches_per_epoch(ped2, OptimConfig(min_steps=1000)) == 10
    assert batches_per_epoch(ped2, OptimConfig(min_steps=1001)) == 11  # at least, never fewer
    ucf = torch.tensor([1] * 810 + [0] * 800)
    assert batches_per_epoch(ucf, OptimConfig()) == batches_per_epoch(ucf, OptimConfig(min_steps=2700)) == 27
    assert batches_per_epoch(ucf, OptimConfig(min_steps=5400)) == 54
    gen = torch.Generator().manual_seed(0)
    batches = list(balanced_batches(ped2, 30, 30, gen, num_batches=10))
    assert len(batches) == 10 and all(len(b) == 10 and ped2[b].sum() == 6 for b in batches)
    plain = list(balanced_batches(ped2, 30, 30, torch.Generator().manual_seed(0)))
    again = list(balanced_batches(ped2, 30, 30, torch.Generator().manual_seed(0), num_batches=1))
    assert len(plain) == 1 and torch.equal(plain[0], again[0])  # min_steps 0 draws what it always drew


def test_a_stage_whose_videos_fit_one_batch_warns_and_min_steps_trains_more(caplog):
    from dakd.features import BagSet

    gen = torch.Generator().manual_seed(0)
    bags = BagSet(metas=[None] * 10, labels=torch.tensor([1] * 6 + [0] * 4),
                  segments={b: torch.randn(10, 4, 8, generator=gen) for b in ("i3d", "s3d", "clip")})
    weights = {}
    for steps in (0, 6):
        cfg = small_config(**{"teacher.optim.epochs": "2", "teacher.optim.min_steps": str(steps)})
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="dakd"):
            model, history, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
        weights[steps] = model.head.net[0].weight.detach().clone()
        assert len(history) == 2
        assert f"teacher: 2 epochs of {max(1, steps // 2)} batches ({max(2, steps)} optimizer steps)" in caplog.messages
        warned = [m for m in caplog.messages if "fit one batch" in m]
        assert warned == ([] if steps else ["teacher: the 10 training bags fit one batch, so 2 epochs are only 2 "
                                            "optimizer steps; set teacher.optim.min_steps (docs/readings.md, "
                                            "'Training length')"])
    assert not torch.equal(weights[0], weights[6])


def test_balanced_batches_need_both_classes():
    with pytest.raises(ValueError, match="both normal and anomalous"):
        list(balanced_batches(torch.zeros(4, dtype=torch.long), 2, 2, torch.Generator()))


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DakdError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_teacher_training_is_deterministic_for_a_seed(synthetic, precision):
    _, shards, _ = synthetic
    cfg = small_config(**{"teacher.optim.epochs": "3", "teacher.optim.precision": precision})
    bags = load_bags(shards, cfg.teacher.backbones, "train")
    m1, h1, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
    m2, h2, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
    assert h1 == h2
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
        assert a.dtype == b.dtype == torch.float32, k  # bf16 is the matmuls' precision, not the weights'
    cfg_other = small_config(**{"teacher.optim.epochs": "3", "seed": "1", "teacher.optim.precision": precision})
    _, h3, _ = train_teacher(cfg_other, bags, torch.device("cpu"), progress=False)
    assert h3 != h1


def test_bf16_training_tracks_fp32_without_matching_it_bit_for_bit(synthetic):
    """Same seed, so the same batches and dropout masks: only the matmuls' rounding differs."""
    _, shards, _ = synthetic
    bags = load_bags(shards, ["i3d", "s3d", "clip"], "train")
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = small_config(**{"teacher.optim.epochs": "3", "teacher.optim.precision": precision})
        _, history, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
        losses[precision] = np.array([h["loss"] for h in history])
    assert not np.array_equal(losses["fp32"], losses["bf16"])  # autocast did run the matmuls in bf16
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=0.02)


def test_bf16_on_a_gpu_without_bfloat16_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    with pytest.raises(DakdError, match="Tesla V100-SXM2-16GB has no bfloat16 support; use fp32"):
        matmul_dtype("bf16", torch.device("cuda"))


def test_unknown_precision_is_refused_when_the_config_loads():
    from dakd.config import ConfigError

    with pytest.raises(ConfigError, match=r"teacher.optim.precision must be one of fp32, bf16, got 'fp16'"):
        small_config(**{"teacher.optim.precision": "fp16"})


def test_stage_files_carry_config_and_provenance(synthetic, tmp_path):
    _, shards, annotations = synthetic
    cfg = small_config(**{"teacher.optim.epochs": "2", "student.optim.epochs": "2"})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False)
    model, payload = load_detector(tmp_path / "teacher.pt", torch.device("cpu"))
    assert payload["kind"] == "teacher" and payload["epochs"] == 2
    assert payload["config"]["teacher"]["optim"]["epochs"] == 2
    assert payload["provenance"]["inputs"]["features"]["backbones"]["clip"]["weights"] == "synthetic"
    assert model.backbones == ["i3d", "s3d", "clip"]

    run_pseudo_labels(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet")
    run_train_student(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet", tmp_path / "student.pt",
                      progress=False)
    student, spayload = load_detector(tmp_path / "student.pt", torch.device("cpu"))
    assert student.backbones == ["clip"] and set(spayload["extra_state"]) == {"g_teacher", "g_student"}
    assert set(spayload["history"][0]) == {"epoch", "loss", "bce", "nce", "anchor_fraction", "nce_active"}
    assert set(spayload["diagnostics"]) == {"nce_active_fraction", "anchor_fraction"}

    report = run_evaluate(cfg, shards, annotations, tmp_path / "student.pt", tmp_path / "auc.json",
                          scores_out=tmp_path / "scores.parquet")
    assert report["selection"] == "last_epoch" and report["selected_epoch"] == report["epochs"] == 2
    assert report["num_videos"] == 24 and 0.0 <= report["auc"] <= 1.0
    assert report["provenance"]["inputs"]["checkpoint_provenance"]["stage"] == "train-student"
    assert (tmp_path / "scores.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auc.json", "pl.parquet", "scores.parquet",
                                                          "student.pt", "teacher.pt"]


def test_infonce_anchors_from_pseudo_labels_when_the_teacher_never_reaches_delta(synthetic, tmp_path, caplog):
    _, shards, _ = synthetic
    cfg = small_config(**{"teacher.optim.epochs": "2", "student.optim.epochs": "2"})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False)
    run_pseudo_labels(cfg, shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet")
    scores = pq.read_table(tmp_path / "pl.parquet").column("teacher_scores").to_pylist()
    assert max(max(s) for s in scores) < cfg.student.distill.delta  # a 2-epoch teacher is timid

    def student(anchors: str, epochs: int = 2) -> dict:
        out = tmp_path / f"{anchors}-{epochs}.pt"
        run_train_student(small_config(**{"student.optim.epochs": str(epochs), "student.distill.anchors": anchors}),
                          shards, tmp_path / "teacher.pt", tmp_path / "pl.parquet", out, progress=False)
        return load_checkpoint(out)

    def same_heads(a: dict, b: dict) -> bool:
        return all(torch.equal(a["extra_state"][g][k], b["extra_state"][g][k])
                   for g in ("g_teacher", "g_student") for k in a["extra_state"][g])

    with caplog.at_level("WARNING", logger="dakd"):
        raw = student("teacher_scores")
    assert all(h["nce"] == 0.0 and h["anchor_fraction"] == 0.0 for h in raw["history"])
    assert raw["diagnostics"]["nce_active_fraction"] == 0.0
    assert "L_nce never contributed" in caplog.text
    # Without L_nce the projection heads are outside the loss: weight decay must not
    # shrink them towards zero (that fills them with denormals and slows every matmul).
    assert same_heads(raw, student("teacher_scores", epochs=1))
    caplog.clear()
    with caplog.at_level("WARNING", logger="dakd"):
        refined = student("pseudo_labels")
    assert all(h["nce"] > 0.0 and 0.0 < h["anchor_fraction"] < 1.0 for h in refined["history"])
    assert 0.0 < refined["diagnostics"]["nce_active_fraction"] <= 1.0
    assert "L_nce" not in caplog.text
    assert not same_heads(refined, student("pseudo_labels", epochs=1))
    with pytest.raises(DakdError, match="student.distill.anchors must be one of"):
        student("labels")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_teacher_with_every_table1_network_trains(synthetic, precision):
    _, shards, _ = synthetic
    bags = load_bags(shards, ["i3d", "s3d", "clip"], "train")
    for name in ["mtn", "mha", "lstm", "rnn", "gru", "cnn1d", "disentangled", "none"]:
        cfg = small_config(**{"teacher.optim.epochs": "1", "teacher.model.temporal": name,
                              "teacher.optim.precision": precision})
        _, history, _ = train_teacher(cfg, bags, torch.device("cpu"), progress=False)
        assert np.isfinite(history[0]["loss"])


def test_validation_split_selects_the_best_epoch_never_the_test_split(tmp_path):
    from dakd.errors import DakdError
    from dakd.synthetic import SyntheticSpec, make_synthetic_dataset

    shards, annotations = make_synthetic_dataset(tmp_path, SyntheticSpec(signal=3.0, val_normal=4, val_anomalous=4))
    cfg = small_config(**{"teacher.optim.epochs": "4", "validation.split": "val"})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False, annotations=annotations)
    _, payload = load_detector(tmp_path / "teacher.pt", torch.device("cpu"))
    scores = [h["validation"] for h in payload["history"]]
    assert len(scores) == 4 and payload["selection"]["selection"] == "best_validation_epoch"
    assert payload["selection"]["epoch"] == 1 + int(np.argmax(scores))
    assert payload["selection"]["validation"] == max(scores)
    report = run_evaluate(cfg, shards, annotations, tmp_path / "teacher.pt", tmp_path / "auc.json")
    assert report["selection"] == "best_validation_epoch" and report["selected_epoch"] == payload["selection"]["epoch"]
    with pytest.raises(DakdError, match="must not be the test split"):
        run_train_teacher(small_config(**{"validation.split": "test"}), shards, tmp_path / "t.pt",
                          progress=False, annotations=annotations)
    with pytest.raises(DakdError, match="give --annotations"):
        run_train_teacher(cfg, shards, tmp_path / "t.pt", progress=False)


def test_a_non_finite_loss_stops_training_naming_epoch_and_step(synthetic):
    from dakd.training import NonFiniteLossError

    _, shards, _ = synthetic
    bags = load_bags(shards, ["i3d", "s3d", "clip"], "train")
    bags.segments["clip"][3, 5, 0] = float("nan")  # one value of one training bag
    cfg = small_config(**{"teacher.optim.epochs": "3"})
    with pytest.raises(NonFiniteLossError, match=r"teacher: non-finite loss at epoch 1, step \d+ \(loss=nan"):
        train_teacher(cfg, bags, torch.device("cpu"), progress=False)


def test_a_checkpoint_that_would_run_code_is_refused(synthetic, tmp_path):
    """A .pt whose provenance is a pickled os.system call must not run it when loaded."""
    import os

    from dakd.checkpoints import CheckpointError

    _, shards, _ = synthetic
    cfg = small_config(**{"teacher.optim.epochs": "1"})
    run_train_teacher(cfg, shards, tmp_path / "teacher.pt", progress=False)
    payload = torch.load(tmp_path / "teacher.pt", weights_only=True)  # plain data: loads under weights_only
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    payload["provenance"] = Exploit()
    torch.save(payload, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: refused: the file holds Python objects"):
        load_detector(tmp_path / "evil.pt", torch.device("cpu"))
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: cannot read checkpoint"):
        load_detector(tmp_path / "junk.pt", torch.device("cpu"))
    torch.save({"kind": "teacher"}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"partial.pt: not a dakd checkpoint \(missing \['input_dims'"):
        load_detector(tmp_path / "partial.pt", torch.device("cpu"))
