"""int4 weights: GPTQ's rounding (gptq.py, gptq_models.py) and their storage in the graph (onnx_grouped.py)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from factory.gptq import GroupWeight, fingerprint, gptq, rtn
from factory.onnx_export import export_graph, ort_run
from factory.onnx_grouped import grouped_weights


class TableAndLinear(nn.Module):
    """A token table and a Linear on [B, L, D] input (a MatMul in ONNX), like MiniLM's parts."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.emb = nn.Embedding(300, 64)
        self.proj = nn.Linear(64, 96)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, ids):
        return self.proj(self.emb(ids))


def correlated_inputs(n=4096, d=64, seed=0):
    """Activations with a few strong shared directions, as a transformer's are (where GPTQ helps)."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(8, d, generator=g) * 3
    return torch.randn(n, 8, generator=g) @ basis + 0.3 * torch.randn(n, d, generator=g)


def test_levels_are_4_bit_and_dequantise_close_to_the_weight():
    w = torch.randn(48, 64, generator=torch.Generator().manual_seed(3))
    r = rtn(w, 32)
    assert r.q.dtype == np.uint8 and r.q.max() <= 15 and r.scale.shape == (48, 2) and r.zero.shape == (48, 2)
    err = np.abs(r.dequantized() - w.numpy())
    # the step is range / 15 per group: nearest rounding is within half a step (clipping aside)
    assert np.median(err) < 0.5 * (w.max() - w.min()).item() / 15
    assert r.scale.dtype == np.float16


def test_gptq_keeps_the_layer_outputs_closer_than_nearest_rounding():
    x = correlated_inputs()
    w = torch.randn(96, 64, generator=torch.Generator().manual_seed(4)) * 0.1
    h = 2 * x.T @ x / len(x)
    out = x @ w.T
    err_rtn = ((x @ torch.from_numpy(rtn(w, 32).dequantized()).T - out) ** 2).mean()
    err_gptq = ((x @ torch.from_numpy(gptq(w, h, 32, 0.01).dequantized()).T - out) ** 2).mean()
    assert err_gptq < 0.7 * err_rtn


def test_int4_graph_computes_what_the_rounded_pytorch_module_computes_and_is_smaller(tmp_path):
    net = TableAndLinear().eval()
    ids = torch.randint(0, 300, (2, 7), generator=torch.Generator().manual_seed(5))
    path = tmp_path / "fp32.onnx"
    export_graph(net, (ids,), path, ["input_ids"], ["out"], {"input_ids": {0: "batch"}})
    fp32_bytes = path.stat().st_size
    table, proj = rtn(net.emb.weight.data, 32), gptq(net.proj.weight.data, torch.eye(64), 32, 0.01)
    with torch.no_grad():
        net.emb.weight.copy_(torch.from_numpy(table.dequantized()))
        net.proj.weight.copy_(torch.from_numpy(proj.dequantized()))
    records = {fingerprint(table.dequantized()): table, fingerprint(proj.dequantized().T): proj}
    export_graph(net, (ids,), path, ["input_ids"], ["out"], {"input_ids": {0: "batch"}})
    model, replaced = grouped_weights(onnx.load(str(path)), records)
    assert replaced == 2
    assert not any(i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2 for i in model.graph.initializer)
    # no uint8 tensor: onnxruntime-web's WebGPU EP fails to compile a Gather of uint8 (int8 stays on the CPU)
    assert not any(i.data_type == onnx.TensorProto.UINT8 for i in model.graph.initializer)
    onnx.save(model, str(path))
    assert path.stat().st_size < 0.2 * fp32_bytes
    got = ort_run(path, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - net(ids).numpy()).max() < 1e-5
    # the Linear's weight is rebuilt from constants (folded at session creation); the table's rows
    # are unpacked after their Gather, at run time
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]
    assert ops.count("Floor") == 1


def test_a_rounded_weight_missing_from_the_graph_is_an_error(tmp_path):
    net = TableAndLinear().eval()
    ids = torch.zeros(1, 3, dtype=torch.int64)
    path = tmp_path / "net.onnx"
    export_graph(net, (ids,), path, ["input_ids"], ["out"], {"input_ids": {0: "batch"}})
    stray = GroupWeight(np.zeros((4, 32), np.uint8), np.ones((4, 1), np.float16), np.zeros((4, 1), np.uint8), 32)
    with pytest.raises(ValueError, match="0 of 1 rounded weights"):
        grouped_weights(onnx.load(str(path)), {fingerprint(np.ones((32, 4))): stray})


class ConvAndGemm(nn.Module):
    """A UNet's other layouts: a Conv2d ([out, in, kh, kw]) and a Linear on 2-D input (a Gemm,
    [out, in]), called as a UNet is (sample, timestep, encoder_hidden_states)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(32, 16, 3, padding=1)
        self.head = nn.Linear(16 * 4 * 4, 64)

    def forward(self, x, t, encoder_hidden_states=None):
        return self.head(torch.relu(self.conv(x)).flatten(1)) * (1 + t[:, None] / 1000)


def test_conv_and_gemm_weights_round_trip_through_their_own_layouts(tmp_path):
    from factory.gptq_models import quantize_unet

    torch.manual_seed(6)
    net = ConvAndGemm().eval()
    inputs = [(torch.randn(8, 32, 4, 4), torch.full((8,), 999)) for _ in range(4)]
    twin, records = quantize_unet(net, lambda m: [m(x, t) for x, t in inputs], 32, 0.01, rows_per_call=64)
    assert len({id(r) for r in records.values()}) == 2  # both layers, each under [out, in] and [in, out]
    x, t = torch.randn(2, 32, 4, 4), torch.tensor([999, 10])
    path = tmp_path / "net.onnx"
    export_graph(twin, (x, t), path, ["x", "t"], ["y"], {"x": {0: "batch"}, "t": {0: "batch"}})
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Conv", "Gemm"} <= ops
    model, replaced = grouped_weights(onnx.load(str(path)), records)
    assert replaced == 2
    onnx.save(model, str(path))
    got = ort_run(path, {"x": x.numpy(), "t": t.numpy()})[0]
    with torch.no_grad():
        want, exact = twin(x, t).numpy(), net(x, t).numpy()
    assert np.abs(got - want).max() < 1e-5
    assert np.abs(got - exact).max() < 0.2 * np.abs(exact).max()  # and the rounding is only a rounding


def test_8_bit_groups_are_stored_one_level_per_byte_and_compute_as_the_module(tmp_path):
    """The teacher's setting: 8-bit levels in groups (no nibbles), for a table and a MatMul."""
    net = TableAndLinear().eval()
    ids = torch.randint(0, 300, (2, 5), generator=torch.Generator().manual_seed(7))
    table, proj = rtn(net.emb.weight.data, 32, bits=8), gptq(net.proj.weight.data, torch.eye(64), 32, 0.01, bits=8)
    assert table.q.max() > 15  # the 8-bit range is used
    exact = net(ids).detach().numpy()
    with torch.no_grad():
        net.emb.weight.copy_(torch.from_numpy(table.dequantized()))
        net.proj.weight.copy_(torch.from_numpy(proj.dequantized()))
    path = tmp_path / "net8.onnx"
    export_graph(net, (ids,), path, ["input_ids"], ["out"], {"input_ids": {0: "batch"}})
    records = {fingerprint(table.dequantized()): table, fingerprint(proj.dequantized().T): proj}
    model, replaced = grouped_weights(onnx.load(str(path)), records)
    assert replaced == 2 and "Floor" not in {n.op_type for n in model.graph.node}
    used = {i for n in model.graph.node for i in n.input}
    assert all(i.name in used for i in model.graph.initializer)  # ORT warns of unused initializers
    onnx.save(model, str(path))
    got = ort_run(path, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - net(ids).numpy()).max() < 1e-5
    assert np.abs(got - exact).max() < 0.01 * np.abs(exact).max()  # 8 bits: far closer than 4
