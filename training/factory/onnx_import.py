"""Rebuild a student's PyTorch weights from its exported `unet/model.onnx`.

The shipped student lives on only as ONNX (its .pt is not committed: repository size), yet a later
run wants to continue from it (`distill.init_from`). About 60 % of the graph's initializers carry
their parameter's name (`unet.<param>`, or `unet.<param>__fp16` + a Cast when `export` stored them
as fp16); the rest — every GroupNorm/LayerNorm weight and bias — were constant-folded by the
exporter into anonymous tensors (`onnx::Mul_123`) of the InstanceNorm decomposition.

Rather than pattern-match that decomposition, we export a *probe*: the same architecture whose
parameters hold distinct integers (parameter p, element j -> offset_p + j, exact in fp32 because
the UNet has fewer than 2^24 - 2^20 weights). Each of the probe's initializers then says which
parameter elements it holds and in which order, under the same name the shipped graph uses, so
reshapes and transposes done by constant folding are undone exactly. Anything the mapping cannot
explain (a folded constant that mixes parameters, a name the shipped graph lacks) is an error, and
`import_student` finally compares the rebuilt UNet with the ONNX graph through onnxruntime.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .common import checkpoint_state, save_checkpoint, write_json
from .config import FactoryConfig, from_dict
from .onnx_weights import FP16_SUFFIX  # fp16_weights' name for a half-precision copy of an initializer

MARKER_BASE = 1 << 20  # above every small constant the exporter adds itself (0, 1, shapes, epsilons)


class OnnxImportError(RuntimeError):
    """The ONNX graph does not match the architecture it is being imported into."""


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """name -> fp32 array, with fp16 copies filed under the name their Cast restores, and int8
    weights (onnx_weights.int8_weights) under the name their dequantizing nodes restore."""
    out = {}
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        name = init.name[:-len(FP16_SUFFIX)] if init.name.endswith(FP16_SUFFIX) else init.name
        out[name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
    out.update(_dequantized(model))
    return out


def _dequantized(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The values of the constant subgraphs that int8_weights writes before the network (Cast,
    Reshape, Mul of initializers only), computed as ORT computes them at session creation."""
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    known = {i.name for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type in ("Cast", "Reshape", "Mul") and all(i in known for i in node.input if i):
            nodes.append(node)
            known.update(node.output)
    if not any(i.data_type == onnx.TensorProto.INT8 for i in graph.initializer):
        return {}
    outputs = [o for n in nodes for o in n.output]
    sub = onnx.helper.make_model(
        onnx.helper.make_graph(nodes, "dequantize", [], [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outputs],
                               list(graph.initializer)),
        opset_imports=model.opset_import)
    values = ReferenceEvaluator(sub).run(None, {})
    return {name: v for name, v in zip(outputs, values) if v.dtype == np.float32}


def _probe_initializers(unet, sample_args) -> tuple[dict[str, np.ndarray], list[tuple[str, int, int]]]:
    """Export `unet`'s architecture with marker weights; return its initializers and the marker table
    [(param name, offset, numel)] in offset order."""
    from .export import UNetForExport, export_unet_graph

    probe = type(unet).from_config(unet.config).eval()
    table, offset = [], MARKER_BASE
    with torch.no_grad():
        for name, p in probe.named_parameters():
            p.copy_(torch.arange(offset, offset + p.numel(), dtype=torch.float64).reshape(p.shape).float())
            table.append((name, offset, p.numel()))
            offset += p.numel()
    if offset >= 1 << 24:
        raise OnnxImportError(f"{offset - MARKER_BASE} weights: too many for exact fp32 markers")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.onnx"
        export_unet_graph(UNetForExport(probe), sample_args, path)
        return _initializers(onnx.load(str(path))), table


def _decode(values: np.ndarray, table, starts: np.ndarray, end: int) -> tuple[str, np.ndarray] | None:
    """Which parameter a probe initializer holds and each element's flat index in it; None when the
    tensor is not made of markers (an exporter constant: 0, 1, epsilons, shapes, masks)."""
    if values.dtype != np.float32 or values.size == 0:
        return None
    flat = values.reshape(-1)
    if not np.isfinite(flat).all() or flat.min() < MARKER_BASE or flat.max() >= end:
        return None
    v = flat.astype(np.int64)
    if not np.array_equal(v.astype(np.float32), flat):
        return None
    k = np.searchsorted(starts, v, side="right") - 1
    name, offset, _ = table[int(k[0])]
    if (k != k[0]).any():
        raise OnnxImportError(f"a folded constant mixes parameter {name} with others: cannot be undone")
    return name, v - offset


def unet_state_from_onnx(unet, onnx_path: Path, sample_args) -> dict[str, torch.Tensor]:
    """The state dict that `unet`'s architecture needs to reproduce `onnx_path`'s graph."""
    from .onnx_pack import inline_model

    shipped = _initializers(inline_model(onnx_path))
    probe, table = _probe_initializers(unet, sample_args)
    starts = np.array([t[1] for t in table])
    end = table[-1][1] + table[-1][2]
    shapes = dict(unet.named_parameters())
    state: dict[str, np.ndarray] = {}
    filled: dict[str, np.ndarray] = {}
    for init_name, values in probe.items():
        decoded = _decode(values, table, starts, end)
        if decoded is None:
            continue
        param, index = decoded
        if init_name not in shipped:
            raise OnnxImportError(f"{onnx_path} has no initializer '{init_name}' (parameter {param}): "
                                  "exported from another architecture or exporter version")
        src = shipped[init_name].astype(np.float32).reshape(-1)
        if src.size != index.size:
            raise OnnxImportError(f"'{init_name}' has {src.size} values, the architecture expects {index.size}")
        numel = shapes[param].numel()
        flat = state.setdefault(param, np.full(numel, np.nan, dtype=np.float32))
        seen = filled.setdefault(param, np.zeros(numel, dtype=bool))
        flat[index] = src
        seen[index] = True
    missing = [n for n, p in shapes.items() if n not in filled or not filled[n].all()]
    if missing:
        raise OnnxImportError(f"{len(missing)} parameters not found in {onnx_path}, e.g. {missing[:3]}")
    return {n: torch.from_numpy(state[n]).reshape(shapes[n].shape) for n in shapes}


def import_student(cfg: FactoryConfig, model_dir: Path | None = None) -> Path:
    """Write runs/<run>/distill/<student_variant>/student.pt from the exported model in `model_dir`
    (default: <export.out_dir>/<export.model_id>), so `distill.init_from` can continue from it."""
    from .export import models_root, unet_feeds
    from .onnx_export import ExportError, check_parity
    from .teacher import build_unet

    model_dir = Path(model_dir or models_root(cfg) / cfg.export.model_id)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    onnx_path = model_dir / manifest["files"]["unet"]["path"]
    run = Path(cfg.run_dir)
    name = manifest["one_step"].get("student_variant") or cfg.distill.student_name
    out = run / "distill" / name / "student.pt"
    if out.exists():
        print(f"import: {out} exists, skipping (it may hold more than the export: a fake score, optimiser state)")
        return out
    teacher_ck = torch.load(run / "teacher" / "teacher.pt", map_location="cpu", weights_only=False)
    trained = from_dict(teacher_ck["config"])
    # the student was distilled towards the guidance its export recorded as the teacher's default
    trained.distill.real_guidance = float(manifest["teacher"]["default_guidance"])
    trained.run_dir, trained.data = cfg.run_dir, cfg.data
    unet = build_unet(trained).eval()
    lat = trained.data.size // 8
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, lat, lat, generator=g)
    t = torch.tensor([999, 500], dtype=torch.int64)
    c = torch.randn(2, trained.text.max_tokens, trained.text.width, generator=g)
    unet.load_state_dict(unet_state_from_onnx(unet, onnx_path, (x, t, c)))
    with torch.no_grad():
        ref = unet(x, t, encoder_hidden_states=c).sample.numpy()
    try:
        err = check_parity("imported unet", onnx_path, unet_feeds(x, t, c), ref, cfg.export.parity_tolerance)
    except ExportError as e:
        raise OnnxImportError(f"rebuilt UNet does not match {onnx_path}: {e}") from e
    report = {"imported_from": str(onnx_path), "sha256": manifest["files"]["unet"].get("sha256"),
              "max_abs_err_vs_onnx": err, "note": "fp16 weights as shipped; no fake score (the critic restarts)"}
    save_checkpoint(out, checkpoint_state(trained, 0, ema=unet.state_dict(), variant=name, final=True, report=report))
    write_json(out.parent / "report.json", report)
    print(f"import: wrote {out} (student '{name}')")
    return out
