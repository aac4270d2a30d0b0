import dataclasses
import math

import pytest
import torch

from dakd.config import AttentionTerms, ConfigError, ModelConfig
from dakd.models import (
    AnomalyDetector,
    DisentangledAttention,
    DisentangledAttentionLayer,
    available_temporal_networks,
    build_temporal,
    relative_bucket,
)
from dakd.models.mtn import MultiScaleTemporalNetwork
from dakd.models.temporal import TEMPORAL_NETWORKS


def test_relative_bucket_matches_the_papers_gamma():
    expected = [[2, 1, 0, 0], [3, 2, 1, 0], [3, 3, 2, 1], [3, 3, 3, 2]]
    assert relative_bucket(4, 2).tolist() == expected
    gamma = relative_bucket(40, 25)
    assert gamma.min() == 0 and gamma.max() == 49
    for i, j in [(0, 39), (39, 0), (10, 12), (30, 5)]:
        d = i - j
        want = 0 if d <= -25 else 49 if d >= 25 else d + 25
        assert gamma[i, j] == want


def _reference(attn: DisentangledAttention, streams: torch.Tensor, terms: AttentionTerms,
               scale_dim: int | None = None) -> torch.Tensor:
    """The paper's Eq. 4-5 written as explicit loops over streams, heads and positions; the
    scale's d is the head dimension unless ``scale_dim`` is given."""
    t_count, b, n, d = streams.shape
    hd, heads = attn.head_dim, attn.heads
    qkv = [streams[t] @ attn.qkv_weight[t] + (0.0 if attn.qkv_bias is None else attn.qkv_bias[t])
           for t in range(t_count)]
    q = [x[..., :d] for x in qkv]
    k = [x[..., d : 2 * d] for x in qkv]
    v = [x[..., 2 * d :] for x in qkv]
    table = attn.rel_embedding.weight
    qr, kr = attn.rel_query(table), attn.rel_key(table)
    kdist = attn.max_distance

    def gamma(i, j):
        return 0 if i - j <= -kdist else 2 * kdist - 1 if i - j >= kdist else i - j + kdist

    out = torch.zeros(b, n, d)
    for bi in range(b):
        for h in range(heads):
            sl = slice(h * hd, (h + 1) * hd)
            for t in range(t_count):
                logits = torch.zeros(n, n)
                for i in range(n):
                    for j in range(n):
                        a = 0.0
                        if terms.self_c2c:
                            a = a + q[t][bi, i, sl] @ k[t][bi, j, sl]
                        if terms.cross_c2c:
                            for o in range(t_count):
                                if o != t:
                                    a = a + q[t][bi, i, sl] @ k[o][bi, j, sl]
                        if terms.c2p:
                            a = a + q[t][bi, i, sl] @ kr[gamma(i, j), sl]
                        if terms.p2c:
                            a = a + k[t][bi, j, sl] @ qr[gamma(j, i), sl]
                        logits[i, j] = a
                weights = torch.softmax(logits / math.sqrt((t_count + 2) * (scale_dim or hd)), dim=-1)
                out[bi, :, sl] += weights @ v[t][bi, :, sl] / t_count
    return out


@pytest.mark.parametrize("terms", [
    AttentionTerms(),
    AttentionTerms(self_c2c=False, cross_c2c=False, p2c=False),   # c2p only (Table 5)
    AttentionTerms(self_c2c=False, cross_c2c=False, c2p=False),   # p2c only
    AttentionTerms(self_c2c=False, c2p=False, p2c=False),         # cross only
    AttentionTerms(cross_c2c=False, c2p=False, p2c=False),        # self only
    AttentionTerms(c2p=False, p2c=False),                         # content terms only
    AttentionTerms(cross_c2c=False),                              # per-stream keys with positions
    AttentionTerms(self_c2c=False, p2c=False),                    # cross + c2p
])
@pytest.mark.parametrize("num_streams", [3, 1])
def test_disentangled_attention_matches_the_equations(terms, num_streams):
    torch.manual_seed(0)
    if num_streams == 1 and not (terms.self_c2c or terms.c2p or terms.p2c):
        with pytest.raises(ValueError, match="a single stream has no cross term"):
            DisentangledAttention(num_streams, 8, 2, 2, terms)
        return
    attn = DisentangledAttention(num_streams=num_streams, width=8, heads=2, max_distance=2, terms=terms).eval()
    with torch.no_grad():
        attn.qkv_bias.normal_()
        streams = torch.randn(num_streams, 2, 5, 8)
        torch.testing.assert_close(attn(streams), _reference(attn, streams, terms), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("num_streams", [3, 1])
def test_bias_free_projections_and_the_width_scale_match_the_equations(num_streams):
    """Eqs. 2-3 without biases; Eq. 5's d read as the model width instead of the head dimension."""
    torch.manual_seed(0)
    terms = AttentionTerms(cross_c2c=num_streams > 1)
    streams = torch.randn(num_streams, 2, 5, 8)
    bare = DisentangledAttention(num_streams, 8, 2, 2, terms, bias=False).eval()
    assert bare.qkv_bias is None and not [k for k in bare.state_dict() if "bias" in k]
    with torch.no_grad():
        torch.testing.assert_close(bare(streams), _reference(bare, streams, terms), rtol=1e-4, atol=1e-5)
    wide = DisentangledAttention(num_streams, 8, 2, 2, terms, scale_dim="width").eval()
    assert wide.scale == pytest.approx(math.sqrt((num_streams + 2) * 8))
    with torch.no_grad():
        wide.qkv_bias.normal_()
        torch.testing.assert_close(wide(streams), _reference(wide, streams, terms, scale_dim=8), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(wide(streams), _reference(wide, streams, terms), rtol=1e-4, atol=1e-5)


def test_model_config_readings_reach_the_attention():
    cfg = ModelConfig(width=16, heads=2, ffn_dim=32, attention_bias=False, attention_scale="width")
    layer = build_temporal("tam", 3, cfg)
    assert isinstance(layer, DisentangledAttentionLayer)
    assert layer.attention.qkv_bias is None and layer.attention.rel_query.bias is None
    assert layer.attention.scale == pytest.approx(math.sqrt(5 * 16))
    assert build_temporal("tam", 3, ModelConfig(width=16, heads=2)).attention.scale == pytest.approx(math.sqrt(5 * 8))


@pytest.mark.parametrize("temporal, streams", [("tam", 3), ("disentangled", 3)])
def test_a_bare_layer_hands_the_attention_output_h_to_the_head(temporal, streams):
    """layer: bare drops the output projection, residual, LayerNorms and feed-forward: the
    head sees H = mean_t H_t itself, the very tensor the full layer wraps."""
    torch.manual_seed(0)
    dims = {f"b{i}": 6 + i for i in range(streams)}
    full = AnomalyDetector(dims, ModelConfig(width=16, heads=2, ffn_dim=32, temporal=temporal)).eval()
    bare = AnomalyDetector(dims, ModelConfig(width=16, heads=2, ffn_dim=32, temporal=temporal, layer="bare")).eval()
    assert not [k for k in bare.state_dict() if "ffn" in k or "norm" in k or "out_proj" in k]
    renamed = {k.replace(".attention.", ".", 1): v for k, v in full.state_dict().items()}
    assert bare.state_dict().keys() <= renamed.keys()  # every bare weight is one of the full model's
    bare.load_state_dict({k: renamed[k] for k in bare.state_dict()})
    inputs = {k: torch.randn(2, 9, d) for k, d in dims.items()}
    with torch.no_grad():
        projected = torch.stack([full.projections[k](inputs[k]) for k in dims])
        if temporal == "disentangled":
            projected = full.temporal.fusion(projected)[None]
            attention = full.temporal.network.layer.attention
        else:
            attention = full.temporal.attention
        out = bare(inputs)
        torch.testing.assert_close(out.hidden, attention(projected))
        torch.testing.assert_close(out.scores, full.head(attention(projected)))
        assert not torch.allclose(out.hidden, full(inputs).hidden)


def test_terms_change_the_output_and_all_off_is_rejected():
    torch.manual_seed(0)
    streams = torch.randn(3, 1, 6, 8)
    full = DisentangledAttention(3, 8, 2, 3, AttentionTerms())
    no_c2p = DisentangledAttention(3, 8, 2, 3, AttentionTerms(c2p=False))
    no_c2p.load_state_dict(full.state_dict())
    assert not torch.allclose(full(streams), no_c2p(streams))
    with pytest.raises(ValueError, match="at least one attention term"):
        DisentangledAttention(3, 8, 2, 3, AttentionTerms(False, False, False, False))


def test_student_scale_is_sqrt_3d_and_teacher_scale_sqrt_t_plus_2_d():
    student = DisentangledAttention(1, 512, 8, 25, AttentionTerms(cross_c2c=False))
    teacher = DisentangledAttention(3, 512, 8, 25, AttentionTerms())
    assert student.scale == pytest.approx(math.sqrt(3 * 64))
    assert teacher.scale == pytest.approx(math.sqrt(5 * 64))


def test_relative_table_is_shared_by_all_streams():
    attn = DisentangledAttention(3, 8, 2, 4, AttentionTerms())
    assert attn.rel_embedding.weight.shape == (8, 8)
    assert sum(1 for name, _ in attn.named_parameters() if "rel_embedding" in name) == 1


@pytest.mark.parametrize("name", available_temporal_networks())
def test_every_registered_temporal_network_maps_streams_to_one_sequence(name):
    cfg = ModelConfig(width=16, heads=2, ffn_dim=32, max_relative_distance=4)
    net = build_temporal(name, 3, cfg)
    out = net(torch.randn(3, 2, 32, 16))
    assert out.shape == (2, 32, 16)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_table1_networks_are_all_registered():
    assert set(available_temporal_networks()) == {"tam", "disentangled", "mha", "lstm", "rnn", "gru", "cnn1d", "mtn",
                                                  "none"}
    with pytest.raises(ConfigError, match=r"unknown temporal network 'transformer'; choose from \['cnn1d'.*'tam'"):
        build_temporal("transformer", 3, ModelConfig())


def test_a_name_registered_twice_is_refused_naming_both_definitions():
    before = TEMPORAL_NETWORKS.names()
    with pytest.raises(ValueError, match=r"temporal network 'gru' is registered twice: dakd\.models\.temporal\..*"
                                         r" and test_models\..*impostor"):
        @TEMPORAL_NETWORKS.register("gru")
        def impostor(num_streams, cfg): ...
    assert TEMPORAL_NETWORKS.names() == before


def test_detector_shapes_head_and_parameter_groups():
    cfg = ModelConfig(width=32, heads=4, ffn_dim=64)
    model = AnomalyDetector({"i3d": 20, "s3d": 12, "clip": 8}, cfg)
    out = model({"i3d": torch.randn(4, 32, 20), "s3d": torch.randn(4, 32, 12), "clip": torch.randn(4, 32, 8)})
    assert out.scores.shape == (4, 32) and out.hidden.shape == (4, 32, 32)
    assert ((out.scores >= 0) & (out.scores <= 1)).all()
    head = [m.out_features for m in model.head.net if isinstance(m, torch.nn.Linear)]
    assert head == [512, 32, 1]
    temporal, other = model.parameter_groups(1e-4, 1e-3)
    assert temporal["lr"] == 1e-4 and other["lr"] == 1e-3
    assert len(temporal["params"]) + len(other["params"]) == len(list(model.parameters()))
    assert {id(p) for p in temporal["params"]} == {id(p) for p in model.temporal.parameters()}


@pytest.mark.parametrize("layout", ["relu", "sultani"])
def test_scoring_head_layouts_by_hand(layout):
    """relu: sigmoid(W3 relu(W2 relu(W1 h))); sultani (his paper and code): the 32-unit layer is linear."""
    torch.manual_seed(0)
    model = AnomalyDetector({"i3d": 12}, ModelConfig(width=16, heads=2, ffn_dim=32, head=layout)).eval()
    linears = [m for m in model.head.net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [512, 32, 1]
    h = torch.randn(3, 7, 16)
    with torch.no_grad():
        first = torch.relu(linears[0](h))
        second = linears[1](first) if layout == "sultani" else torch.relu(linears[1](first))
        torch.testing.assert_close(model.head(h), torch.sigmoid(linears[2](second)).squeeze(-1))
        assert (linears[1](first) < 0).any()  # so the two layouts do differ here


def test_sultanis_detector_scores_raw_features_with_the_head_alone():
    """projection: none (Table 4 baseline): no projection MLP, no temporal network; the
    backbones' features, concatenated, are the head's input."""
    torch.manual_seed(0)
    cfg = ModelConfig(temporal="none", projection="none", head="sultani")
    model = AnomalyDetector({"i3d": 20, "clip": 12}, cfg).eval()
    assert len(model.projections) == 0 and not list(model.temporal.parameters())
    assert model.head.net[0].in_features == 32
    assert {name.split(".")[0] for name, _ in model.named_parameters()} == {"head"}
    inputs = {"i3d": torch.randn(2, 5, 20), "clip": torch.randn(2, 5, 12)}
    with torch.no_grad():
        out = model(inputs)
        torch.testing.assert_close(out.hidden, torch.cat([inputs["i3d"], inputs["clip"]], dim=-1))
        torch.testing.assert_close(out.scores, model.head(out.hidden))
    temporal, other = model.parameter_groups(1e-4, 1e-3)
    assert temporal["params"] == [] and len(other["params"]) == 6


def _rtfm_aggregate(mtn: MultiScaleTemporalNetwork, x: torch.Tensor) -> torch.Tensor:
    """RTFM's ``Aggregate.forward`` (tianyu0207/RTFM, model.py) in eval mode, written out as
    loops from its definition, on (B, n, d) with 2048 read as d and 512 as d / 4:
    out_k = BN(ReLU(conv_k(x))) for dilations 1, 2, 4; out = conv_4 -> ReLU -> non-local,
    whose affinity theta^T phi is divided by N (the positions), no softmax;
    out = BN(ReLU(conv_5(cat(out_1, out_2, out_3, out)))) + x."""

    def conv(module, inp, dilation=1):
        weight, bias = module.weight, module.bias          # (C_out, C_in, k)
        k, n = weight.shape[-1], inp.shape[-1]
        out = torch.zeros(weight.shape[0], n)
        for t in range(n):
            for j in range(k):
                source = t + (j - (k - 1) // 2) * dilation
                if 0 <= source < n:
                    out[:, t] += weight[:, :, j] @ inp[:, source]
            if bias is not None:
                out[:, t] += bias
        return out

    def bn(module, inp):
        std = torch.sqrt(module.running_var + module.eps)
        return (inp - module.running_mean[:, None]) / std[:, None] * module.weight[:, None] + module.bias[:, None]

    def non_local(block, inp):
        theta, phi, g = conv(block.theta, inp), conv(block.phi, inp), conv(block.g, inp)
        n = inp.shape[-1]
        f = torch.zeros(n, n)
        for a in range(n):
            for b in range(n):
                f[a, b] = theta[:, a] @ phi[:, b] / n
        y = torch.zeros_like(theta)
        for a in range(n):
            for b in range(n):
                y[:, a] += f[a, b] * g[:, b]
        return bn(block.out[1], conv(block.out[0], y)) + inp

    out = torch.empty_like(x)
    for i in range(len(x)):
        c = x[i].T                                          # (d, n)
        pyramid = [bn(p[2], torch.relu(conv(p[0], c, d))) for p, d in zip(mtn.pyramid, (1, 2, 4))]
        reduced = non_local(mtn.non_local, torch.relu(conv(mtn.reduce[0], c)))
        fused = bn(mtn.fuse[2], torch.relu(conv(mtn.fuse[0], torch.cat([*pyramid, reduced]))))
        out[i] = (fused + c).T
    return out


def test_mtn_is_rtfms_aggregate():
    torch.manual_seed(0)
    mtn = MultiScaleTemporalNetwork(16).eval()
    # RTFM's conv biases: the dilated convolutions have one, conv_4 and conv_5 have none.
    assert all(p[0].bias is not None for p in mtn.pyramid)
    assert mtn.reduce[0].bias is None and mtn.fuse[0].bias is None
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        # A fresh block is the identity in its non-local branch (its BatchNorm starts at zero).
        branch = torch.randn(2, 4, 7)  # the non-local block runs on the d / 4 reduced branch
        torch.testing.assert_close(mtn.non_local(branch), branch)
        for module in mtn.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_var.uniform_(0.5, 2.0)
                module.running_mean.normal_()
        for parameter in mtn.parameters():
            parameter.normal_(0, 0.3)
        torch.testing.assert_close(mtn(x), _rtfm_aggregate(mtn, x), rtol=1e-4, atol=1e-4)


def test_student_detector_runs_on_long_sequences_beyond_k():
    cfg = dataclasses.replace(ModelConfig(width=16, heads=2, ffn_dim=32), terms=AttentionTerms(cross_c2c=False))
    model = AnomalyDetector({"clip": 8}, cfg).eval()
    assert model({"clip": torch.randn(1, 300, 8)}).scores.shape == (1, 300)


@pytest.mark.parametrize("p", [0.1, 0.6])
def test_dropout_is_inverted_dropout_and_identity_in_eval(p):
    from dakd.models.dropout import Dropout

    torch.manual_seed(0)
    drop = Dropout(p)
    x = torch.ones(400_003, requires_grad=True)  # not a multiple of the four mask entries per draw
    y = drop(x)
    dropped = (y == 0).float()
    assert y.unique().tolist() == pytest.approx([0.0, 1 / (1 - p)])
    assert dropped.mean().item() == pytest.approx(p, abs=4 * (p * (1 - p) / len(x)) ** 0.5)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    # Neighbours come from the same 64-bit draw: they must still be independent.
    for lag in (1, 2, 3, 4):
        joint = (dropped[:-lag] * dropped[lag:]).mean().item()
        assert joint == pytest.approx(p * p, abs=0.005)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * mask * scale) / dx = mask * scale
    assert drop(torch.ones(4, 5, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


@pytest.mark.parametrize("projection", ["mlp", "none"])
def test_standardized_inputs_make_the_detector_blind_to_each_dimensions_offset_and_scale(projection):
    """input_scale: standardize: every dimension is z-scored with the training segments'
    statistics (a constant one keeps std 1), so features shifted and scaled per dimension
    give a detector of the same initial weights exactly the same scores; raw inputs do not."""
    temporal = "tam" if projection == "mlp" else "none"
    segments = torch.randn(6, 8, 10) * torch.linspace(0.1, 3, 10) + 5
    segments[..., 3] = 2.0  # a dimension that never varies (a dead ReLU unit)
    offset, scale = torch.randn(10) * 10, torch.rand(10) * 4 + 0.5
    scores = {}
    for name in ("raw", "standardize"):
        cfg = ModelConfig(width=16, heads=2, ffn_dim=32, temporal=temporal, projection=projection, input_scale=name)
        for key, x in (("plain", segments), ("moved", segments * scale + offset)):
            torch.manual_seed(0)
            model = AnomalyDetector({"f": 10}, cfg)
            model.fit_inputs({"f": x})
            with torch.no_grad():
                scores[name, key] = model.eval()({"f": x}).scores
    torch.testing.assert_close(scores["standardize", "plain"], scores["standardize", "moved"], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(scores["raw", "plain"], scores["raw", "moved"], atol=1e-3)
    torch.manual_seed(0)
    model = AnomalyDetector({"f": 10}, ModelConfig(width=16, heads=2, ffn_dim=32, input_scale="standardize"))
    model.fit_inputs({"f": segments})
    z = model.scales["f"](segments).reshape(-1, 10)
    torch.testing.assert_close(z.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
    assert model.scales["f"].std[3] == 1 and torch.allclose(z.std(0, unbiased=False)[[0, 1, 2, 4]], torch.ones(4))
    assert {"scales.f.mean", "scales.f.std"} <= set(model.state_dict())  # a checkpoint carries them
    assert not AnomalyDetector({"f": 10}, ModelConfig(width=16, heads=2, ffn_dim=32)).scales  # raw: nothing added
