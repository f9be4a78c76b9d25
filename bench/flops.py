"""FLOPs per image of each network, counted from the ONNX graphs (bench/run.mjs calls this).

Shapes come from running the graph once with onnxruntime (every intermediate exposed as an
output), so dynamic Reshape/Shape chains need no symbolic inference. A multiply-add is 2 FLOPs.
Counted: Conv, ConvTranspose, MatMul, Gemm (the ops MLAS runs as GEMMs). Element-wise ops,
norms and softmax are reported separately as "other elements touched": they are memory-bound.

usage: python bench/flops.py public/models/onestep-emoji/manifest.json > bench/results/flops.json
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from factory.onnx_pack import inline_model  # noqa: E402  (a packed graph's weights, rebuilt)

GEMM_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
DTYPES = {"float32": np.float32, "int64": np.int64}


def feeds_for(manifest, graph_name, batch):
    spec = manifest["tensors"][graph_name]["inputs"]
    feeds = {}
    for name, t in spec.items():
        shape = [batch if isinstance(d, str) else d for d in t["shape"]]
        if t["dtype"] == "int64":
            # Token ids: a short prompt padded to max_length; a timestep of 999.
            arr = np.full(shape, 999 if name == "timestep" else 0, dtype=np.int64)
            if name == "input_ids":
                arr[:, :4] = [101, 2417, 6207, 102]
        else:
            arr = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        feeds[name] = arr
    return feeds


def shapes_by_running(model, feeds):
    """Every value's shape, by making each node output a graph output and running once."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    known = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for out in node.output:
            if out and out not in known:
                m.graph.output.append(onnx.ValueInfoProto(name=out))
                known.add(out)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, feeds)
    shapes = {n: list(v.shape) for n, v in zip(names, values)}
    for name, arr in feeds.items():
        shapes[name] = list(arr.shape)
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def count(model, shapes):
    by_op = {}
    other = 0
    for node in model.graph.node:
        op = node.op_type
        f = 0
        if op in ("Conv", "ConvTranspose"):
            w = shapes[node.input[1]]  # [Cout, Cin/groups, kh, kw]
            y = shapes[node.output[0]]  # [N, Cout, H, W]
            x = shapes[node.input[0]]
            if op == "Conv":
                f = 2 * math.prod(y) * math.prod(w[1:])
            else:
                f = 2 * math.prod(x) * w[1] * math.prod(w[2:])
        elif op == "MatMul":
            a, y = shapes[node.input[0]], shapes[node.output[0]]
            f = 2 * math.prod(y) * a[-1]
        elif op == "Gemm":
            a, y = shapes[node.input[0]], shapes[node.output[0]]
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            f = 2 * math.prod(y) * (a[0] if trans_a else a[-1])
        elif node.output and node.output[0] in shapes and op not in ("Constant", "Shape", "Reshape", "Unsqueeze", "Concat", "Gather", "Slice"):
            other += math.prod(shapes[node.output[0]])
        if f:
            by_op[op] = by_op.get(op, 0) + f
    return by_op, other


def main():
    manifest_path = Path(sys.argv[1])
    manifest = json.loads(manifest_path.read_text())
    out = {"manifest": str(manifest_path), "batch": 1, "networks": {}}
    for graph_name, file_key in [("text_encoder", "text_encoder"), ("unet", "unet"), ("vae_decoder", "vae_decoder")]:
        model = inline_model(manifest_path.parent / manifest["files"][file_key]["path"])
        feeds = feeds_for(manifest, graph_name, 1)
        if graph_name == "unet":
            # The UNet graph is also the teacher's (same architecture, other weights).
            pass
        by_op, other = count(model, shapes_by_running(model, feeds))
        params = sum(math.prod(i.dims) for i in model.graph.initializer)
        out["networks"][file_key] = {
            "gflop": sum(by_op.values()) / 1e9,
            "by_op_gflop": {k: v / 1e9 for k, v in sorted(by_op.items())},
            "other_elements_m": other / 1e6,
            "params_m": params / 1e6,
        }
    u = out["networks"]["unet"]["gflop"]
    out["networks"]["unet_teacher"] = dict(out["networks"]["unet"], note="same graph as unet; teacher runs it at batch 2 (CFG) per step")
    out["per_image_gflop"] = {
        "student": out["networks"]["text_encoder"]["gflop"] + u + out["networks"]["vae_decoder"]["gflop"],
        # 25 DDIM steps × batch 2 (uncond + cond) + the prompt and the empty prompt through the encoder.
        "teacher_25_steps": 2 * out["networks"]["text_encoder"]["gflop"] + 25 * 2 * u + out["networks"]["vae_decoder"]["gflop"],
    }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
