"""How an exported graph stores its weights: fp16 with a Cast, or int8 weight-only with a dequantise.

Both keep the computation in fp32 (what the WASM backend runs and what needs no `shader-f16`); they
only shrink the download. The weights are rebuilt by Cast and Mul of constants, which ORT folds when
it builds the session, so the runtime cost is that of fp32 weights. (Not DequantizeLinear: ORT's
constant folding leaves QDQ nodes alone, and they would dequantise on every run.)

int8 is weight-only and symmetric. A MatMul's weight [K, N] gets one scale per block of BLOCK rows
of each column (as MatMulNBits does): per column alone was measured here to ruin MiniLM, whose
layer-0 FFN output weight has values 175 standard deviations out (cosine to fp32 min 0.55, layer 0
alone; every other layer >= 0.97 per column). A Conv gets one scale per output channel, an
embedding table one per row. The int8 dynamic quantisation rejected earlier (minimum cosine 0.49
on MiniLM) quantised the *activations* at run time; here nothing but the stored weights changes.

An embedding table is the largest tensor of a text encoder (MiniLM: 30,522 x 384, half its
weights). Folding its dequantise would keep a fp32 copy in memory, so its rows are gathered as
int8 and scaled after the Gather: the table stays int8 in memory too.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_SUFFIX = "__fp16"
INT8_SUFFIX = "__int8"
BLOCK = 32  # rows of a MatMul weight that share a scale
# A weight with values this many standard deviations out stays fp16: MiniLM's layer-0 and layer-2
# FFN output weights (175 and 129; every other weight <= 94) cost a minimum token cosine of 0.965
# in int8 even in blocks of 32.
OUTLIER_STD = 100.0


def fp16_weights(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    """Store large float32 initializers as float16, each followed by a Cast back to float32."""
    graph = model.graph
    new_inits, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims) >= min_elements:
            arr = numpy_helper.to_array(init)
            if np.abs(arr).max() > 65000:  # would overflow fp16: keep as is
                new_inits.append(init)
                continue
            half, cast = _as_fp16(arr, init.name)
            new_inits.append(half)
            casts.append(cast)
        else:
            new_inits.append(init)
    replace_initializers(graph, new_inits, casts)
    return model


def _as_fp16(arr: np.ndarray, name: str):
    """A float16 copy of a weight and the Cast that rebuilds `name` from it in float32."""
    half = numpy_helper.from_array(arr.astype(np.float16), name + FP16_SUFFIX)
    return half, helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT, name=name + "__cast")


def quantize_int8(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per index of `axis`: (q, scale) with w ~ q * scale."""
    other = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=other, keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_int8_blocked(w: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """A MatMul weight [K, N]: (q [K, N] int8, scale [K / block, 1, N]), one scale per block of rows per column."""
    k, n = w.shape
    q, scale = quantize_int8(w.reshape(k // block, block, n).transpose(0, 2, 1).reshape(-1, block), 0)
    q = q.reshape(k // block, n, block).transpose(0, 2, 1).reshape(k, n)
    return q, scale.reshape(k // block, 1, n)


def dequantized(w: np.ndarray, axis: int, blocked: bool = False) -> np.ndarray:
    """What the int8 graph computes with in place of `w` (for parity and quality checks in PyTorch)."""
    if blocked:
        q, scale = quantize_int8_blocked(w)
        k, n = w.shape
        return (q.astype(np.float32).reshape(k // BLOCK, BLOCK, n) * scale.astype(np.float16).astype(np.float32)).reshape(k, n)
    q, scale = quantize_int8(w, axis)
    return q.astype(np.float32) * scale


def consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    out: dict[str, list] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            out.setdefault(name, []).append((node, i))
    return out


def channel_axis(node: onnx.NodeProto, input_index: int, ndim: int) -> int | None:
    """The output-channel axis of a weight as `node` uses it, or None where int8 does not apply."""
    if node.op_type == "MatMul" and input_index == 1 and ndim == 2:
        return 1  # [K, N]: one scale per output column
    if node.op_type == "Gemm" and input_index == 1 and ndim == 2:
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if node.op_type in ("Conv", "ConvTranspose") and input_index == 1:
        return 0 if node.op_type == "Conv" else 1
    if node.op_type == "Gather" and input_index == 0 and ndim == 2:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        return 0 if axis == 0 else None  # an embedding table: one scale per row
    return None


def int8_weights(model: onnx.ModelProto, min_elements: int = 4096) -> onnx.ModelProto:
    """int8 weight-only storage for the weights of MatMul, Gemm, Conv and embedding Gathers (fp16
    for an outlier weight, see OUTLIER_STD); everything else (biases, norms) stays as it is."""
    graph = model.graph
    uses = consumers(graph)
    new_inits, pre, rewires = [], [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init) if init.data_type == TensorProto.FLOAT else None
        users = uses.get(init.name, [])
        axes = {channel_axis(n, i, arr.ndim) for n, i in users} if arr is not None and users else {None}
        if arr is None or arr.size < min_elements or len(axes) != 1 or None in axes:
            new_inits.append(init)
            continue
        (axis,) = axes
        if np.abs(arr).max() > OUTLIER_STD * arr.std():
            half, cast = _as_fp16(arr, init.name)
            new_inits.append(half)
            pre.append(cast)
            continue
        if all(n.op_type == "MatMul" for n, _ in users) and arr.shape[0] % BLOCK == 0:
            new_inits += _blocked_matmul_weight(arr, init.name, pre)
            continue
        q, scale = quantize_int8(arr, axis)
        q_init = numpy_helper.from_array(q, init.name + INT8_SUFFIX)
        new_inits.append(q_init)
        if all(n.op_type == "Gather" for n, _ in users):
            # gather int8 rows, then cast and scale the few that were picked
            s_init = numpy_helper.from_array(scale.reshape(-1, 1).astype(np.float32), init.name + "__scale")
            new_inits.append(s_init)
            for node, _ in users:
                rewires.append((node, q_init.name, s_init.name))
        else:
            # one scale per output channel, shaped to broadcast along `axis` (constants: folded by ORT)
            s_init = numpy_helper.from_array(scale.astype(np.float32), init.name + "__scale")
            new_inits.append(s_init)
            pre += [helper.make_node("Cast", [q_init.name], [init.name + "__f"], to=TensorProto.FLOAT, name=init.name + "__cast"),
                    helper.make_node("Mul", [init.name + "__f", s_init.name], [init.name], name=init.name + "__dequantize")]
    replace_initializers(graph, new_inits, pre)
    for node, q_name, s_name in rewires:
        _scaled_gather(graph, node, q_name, s_name)
    return model


def _blocked_matmul_weight(w: np.ndarray, name: str, nodes: list) -> list:
    """int8 [K, N] and fp16 scales [K / BLOCK, 1, N]; appends the constant nodes that rebuild `name`
    (Cast, Reshape to blocks, Mul, Reshape back: all folded by ORT at session creation)."""
    k, n = w.shape
    q, scale = quantize_int8_blocked(w)
    inits = [numpy_helper.from_array(q, name + INT8_SUFFIX),
             numpy_helper.from_array(scale.astype(np.float16), name + "__scale_fp16"),
             numpy_helper.from_array(np.array([k // BLOCK, BLOCK, n], np.int64), name + "__blocks"),
             numpy_helper.from_array(np.array([k, n], np.int64), name + "__shape")]
    nodes += [helper.make_node("Cast", [name + INT8_SUFFIX], [name + "__f"], to=TensorProto.FLOAT, name=name + "__cast"),
              helper.make_node("Cast", [name + "__scale_fp16"], [name + "__scale"], to=TensorProto.FLOAT, name=name + "__cast_scale"),
              helper.make_node("Reshape", [name + "__f", name + "__blocks"], [name + "__fb"], name=name + "__to_blocks"),
              helper.make_node("Mul", [name + "__fb", name + "__scale"], [name + "__wb"], name=name + "__dequantize"),
              helper.make_node("Reshape", [name + "__wb", name + "__shape"], [name], name=name + "__from_blocks")]
    return inits


def _scaled_gather(graph: onnx.GraphProto, node: onnx.NodeProto, q_name: str, s_name: str):
    """Gather(table, ids) -> Cast(Gather(int8 table, ids)) * Gather(row scales, ids)."""
    ids, out = node.input[1], node.output[0]
    base = node.name or out
    rows, scales, rows_f = f"{base}__rows_int8", f"{base}__row_scales", f"{base}__rows"
    axis = [a for a in node.attribute if a.name == "axis"]
    new = [helper.make_node("Gather", [q_name, ids], [rows], name=f"{base}__gather_int8"),
           helper.make_node("Gather", [s_name, ids], [scales], name=f"{base}__gather_scale"),
           helper.make_node("Cast", [rows], [rows_f], to=TensorProto.FLOAT, name=f"{base}__cast"),
           helper.make_node("Mul", [rows_f, scales], [out], name=f"{base}__scale")]
    for n in new[:2]:
        n.attribute.extend(axis)
    replace_node(graph, node, new)


def replace_node(graph: onnx.GraphProto, node: onnx.NodeProto, new: list):
    """`new` in `node`'s place (the graph's topological order kept)."""
    idx = list(graph.node).index(node)
    graph.node.remove(node)
    for k, n in enumerate(new):
        graph.node.insert(idx + k, n)


def replace_initializers(graph: onnx.GraphProto, initializers: list, leading_nodes: list):
    """The graph's initializers become `initializers`; `leading_nodes` (constant rebuilds) go first."""
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(leading_nodes + nodes)


def int8_module(module, *example_inputs):
    """A deep copy of `module` whose weights are what int8_weights stores for its ONNX export,
    dequantised: the same numbers the int8 graph computes with, for measuring its quality in
    PyTorch. Which path each weight takes in the graph is read from one forward pass: a Linear on
    2-D input exports as a Gemm (one scale per output channel), on longer input as a MatMul with the
    transposed weight (blocks of BLOCK rows); a Conv gets one scale per output channel, an Embedding
    one per row. The export's parity check against this copy fails loudly where a weight took
    another path."""
    import copy

    import torch

    twin = copy.deepcopy(module)
    ndim: dict = {}
    def record(m, inp, out):  # returns None: a hook's return value would replace the output
        ndim.setdefault(m, inp[0].ndim)

    hooks = [m.register_forward_hook(record) for m in twin.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        twin(*example_inputs)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for m in twin.modules():
            w = getattr(m, "weight", None)
            if not isinstance(m, (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv2d)) or w is None or w.numel() < 4096:
                continue
            a = w.detach().cpu().numpy()
            if np.abs(a).max() > OUTLIER_STD * a.std():
                d = a.astype(np.float16).astype(np.float32)
            elif isinstance(m, torch.nn.Linear) and ndim.get(m, 2) > 2:
                if a.shape[1] % BLOCK == 0:
                    d = dequantized(a.T, 1, blocked=True).T
                else:
                    d = dequantized(a.T, 1).T
            else:  # Gemm and Conv: per output channel; Embedding: per row (axis 0 of each)
                d = dequantized(a, 0)
            w.copy_(torch.from_numpy(np.ascontiguousarray(d)))
    return twin


def int8_text_encoder(enc):
    """A copy of a TextEncoder whose module is `int8_module` of its own (one forward on a prompt
    tells each Linear's path)."""
    import copy

    twin = copy.copy(enc)
    twin.module = int8_module(enc.module, enc.tokenize(["a red apple"]))
    return twin
