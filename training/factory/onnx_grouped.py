"""Grouped low-bit weight storage in an ONNX graph (what gptq.py rounded), with standard ops only.

8-bit levels are stored one per byte; two 4-bit levels share a byte: the first half of a group in
the low nibble, the second half in the high nibble, so unpacking is one Concat along the group's
axis. The bytes are unpacked with float arithmetic (Cast, Add, Mul by 1/16, Floor, Sub): every ONNX
runtime has those, where BitShift and BitwiseAnd on uint8 are missing from some, and MatMulNBits
(a contrib op) ran 4.6x slower on ORT's CPU kernels at 8 bits (LAB_NOTEBOOK.md, session 20).
Bytes (and zero levels) are stored as int8, value - 128: onnxruntime-web's WebGPU EP takes a Gather
of uint8 data and fails to compile it (WGSL has no 8-bit type; an int8 Gather stays on the CPU, as
the int8 text encoder's table did), so the graph holds no uint8 tensor at all.

- A MatMul, Gemm or Conv weight (groups along its inputs, as gptq rounds them) is rebuilt from
  constants only, so ORT folds it to float32 when it creates the session: runtime cost as fp32,
  download 4.6 (8.6) bits per weight at 4 (8) bits in groups of 32.
- The token table [V, D] stays packed in memory: the rows a prompt picks are gathered as bytes and
  unpacked after the Gather (20 rows per prompt, not 30,522).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gptq import GroupWeight, fingerprint
from .onnx_weights import consumers, replace_initializers, replace_node


def _stored(levels: np.ndarray, axis: int, rec: GroupWeight) -> np.ndarray:
    """The bytes of `levels` (groups along `axis`, which moves last and splits): [..., groups, group]
    at 8 bits; at 4, [..., groups, group // 2], the first half of each group in the low nibbles."""
    if rec.bits not in (4, 8):
        raise ValueError(f"grouped weights are stored at 4 or 8 bits, not {rec.bits}")
    lv = np.moveaxis(levels, axis, -1).astype(np.uint8)
    lv = lv.reshape(*lv.shape[:-1], -1, rec.group)
    if rec.bits == 8:
        return lv
    half = rec.group // 2
    return lv[..., :half] | (lv[..., half:] << 4)


def _as_int8(a: np.ndarray) -> np.ndarray:
    """Bytes 0..255 as int8 -128..127 (the graph adds 128 back after its Cast)."""
    return np.ascontiguousarray((a.astype(np.int16) - 128).astype(np.int8))


def _byte_values(stored: str, out: str) -> list:
    """float 0..255 from int8 bytes stored as value - 128."""
    return [helper.make_node("Cast", [stored], [f"{out}__shifted"], to=TensorProto.FLOAT, name=f"{out}__cast"),
            helper.make_node("Add", [f"{out}__shifted", "grouped__offset"], [out], name=f"{out}__unshift")]


def _unpack_nodes(name: str, packed: str, axis: int, bits: int) -> list:
    """float levels [..., group] along `axis` from the bytes (at 4 bits, a Concat of lo and hi nibbles)."""
    if bits == 8:
        return _byte_values(packed, f"{name}__levels")
    return _byte_values(packed, f"{name}__bytes_f") + [
            helper.make_node("Mul", [f"{name}__bytes_f", "grouped__sixteenth"], [f"{name}__div"], name=f"{name}__div16"),
            helper.make_node("Floor", [f"{name}__div"], [f"{name}__hi"], name=f"{name}__floor"),
            helper.make_node("Mul", [f"{name}__hi", "grouped__sixteen"], [f"{name}__hi16"], name=f"{name}__mul16"),
            helper.make_node("Sub", [f"{name}__bytes_f", f"{name}__hi16"], [f"{name}__lo"], name=f"{name}__low"),
            helper.make_node("Concat", [f"{name}__lo", f"{name}__hi"], [f"{name}__levels"], axis=axis, name=f"{name}__join")]


def _dequantize_nodes(name: str, levels: str, zero: str, scale: str, out: str) -> list:
    return _byte_values(zero, f"{name}__zero_f") + [
            helper.make_node("Cast", [scale], [f"{name}__scale_f"], to=TensorProto.FLOAT, name=f"{name}__cast_scale"),
            helper.make_node("Sub", [levels, f"{name}__zero_f"], [f"{name}__centred"], name=f"{name}__centre"),
            helper.make_node("Mul", [f"{name}__centred", f"{name}__scale_f"], [out], name=f"{name}__dequantize")]


def _layout(uses: list) -> str | None:
    """How the consumers read a weight: "in-major" [K, N] (MatMul, Gemm without transB), "out-major"
    [N, ...] (Gemm with transB, Conv), "table" (Gather rows), or None where they disagree."""
    kinds = set()
    for node, i in uses:
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        kinds.add({("MatMul", 1): "in-major", ("Gemm", 1): "out-major" if trans_b else "in-major",
                   ("Conv", 1): "out-major", ("Gather", 0): "table"}.get((node.op_type, i)))
    return kinds.pop() if len(kinds) == 1 else None


def grouped_weights(model: onnx.ModelProto, records: dict[str, GroupWeight]) -> tuple[onnx.ModelProto, int]:
    """Store every MatMul, Gemm and Conv weight and Gather table that `records` holds (by
    fingerprint of its values as stored) at their bits (4 or 8); returns the model and how many were replaced."""
    graph = model.graph
    users = consumers(graph)
    inits, leading, found, gathers = [], [], set(), []
    for init in graph.initializer:
        rec = None
        if init.data_type == TensorProto.FLOAT and len(init.dims) >= 2:
            rec = records.get(fingerprint(numpy_helper.to_array(init)))
        uses = users.get(init.name, [])
        if rec is None or not uses:
            inits.append(init)
            continue
        layout = _layout(uses)
        if layout == "table":
            inits += _table(init.name, rec)
            gathers += [(n, rec) for n, _ in uses]
        elif layout is not None:
            inits += _rebuilt_weight(init.name, rec, layout, list(init.dims), leading)
        else:
            raise ValueError(f"grouped weights: {init.name} is used by {[n.op_type for n, _ in uses]}: no grouped layout for that")
        found.add(id(rec))
    wanted = len({id(r) for r in records.values()})
    if len(found) != wanted:
        raise ValueError(f"grouped weights: {len(found)} of {wanted} rounded weights found in the graph")
    inits.append(numpy_helper.from_array(np.array(128, np.float32), "grouped__offset"))
    if any(r.bits == 4 for r in records.values() if id(r) in found):  # unused constants make ORT warn
        inits += [numpy_helper.from_array(np.array(1 / 16, np.float32), "grouped__sixteenth"),
                  numpy_helper.from_array(np.array(16, np.float32), "grouped__sixteen")]
    replace_initializers(graph, inits, leading)
    for node, rec in gathers:
        _unpacking_gather(graph, node, rec)
    return model, len(found)


def _rebuilt_weight(name: str, rec: GroupWeight, layout: str, dims: list, nodes: list) -> list:
    """Constants that ORT folds back to the float32 weight `name` of shape `dims`.
    in-major (a MatMul's [K, N] = Linear.weight.T): bytes [K / g, g / 2, N], zero and scale [K / g, 1, N];
    out-major (a Gemm's or Conv's [N, ...]): bytes [N, K / g, g / 2], zero and scale [N, K / g, 1]."""
    if layout == "in-major":
        packed = _stored(rec.q.T, 0, rec).transpose(1, 2, 0)  # [N, K/g, bytes] -> [K/g, bytes, N]
        zero, scale, axis = rec.zero.T[:, None, :], rec.scale.T[:, None, :], 1
    else:
        packed, zero, scale, axis = _stored(rec.q, 1, rec), rec.zero[..., None], rec.scale[..., None], 2
    inits = [numpy_helper.from_array(_as_int8(packed), f"{name}__bytes"),
             numpy_helper.from_array(_as_int8(zero), f"{name}__zero"),
             numpy_helper.from_array(np.ascontiguousarray(scale), f"{name}__scale"),
             numpy_helper.from_array(np.array(dims, np.int64), f"{name}__shape")]
    nodes += _unpack_nodes(name, f"{name}__bytes", axis, rec.bits)
    nodes += _dequantize_nodes(name, f"{name}__levels", f"{name}__zero", f"{name}__scale", f"{name}__grouped")
    nodes.append(helper.make_node("Reshape", [f"{name}__grouped", f"{name}__shape"], [name], name=f"{name}__ungroup"))
    return inits


def _table(name: str, rec: GroupWeight) -> list:
    """A token table [V, D]: bytes [V, D / g, g / 2], zero and scale [V, D / g, 1]."""
    return [numpy_helper.from_array(_as_int8(_stored(rec.q, 1, rec)), f"{name}__bytes"),
            numpy_helper.from_array(_as_int8(rec.zero[..., None]), f"{name}__zero"),
            numpy_helper.from_array(np.ascontiguousarray(rec.scale[..., None]), f"{name}__scale")]


def _unpacking_gather(graph: onnx.GraphProto, node: onnx.NodeProto, rec: GroupWeight):
    """Gather(table, ids) -> the picked rows' bytes, zeros and scales gathered, unpacked, reshaped to [..., D]."""
    table, ids, out = node.input[0], node.input[1], node.output[0]
    base = node.name or out
    width = rec.q.shape[1]
    # the fp16 scales become fp32 before the Gather (a constant: folded at session creation), so no
    # EP is asked to gather fp16 (the WebGPU EP would need shader-f16 for it)
    picked = [helper.make_node("Cast", [f"{table}__scale"], [f"{table}__scale_f32"], to=TensorProto.FLOAT, name=f"{table}__scale_f32")]
    picked += [helper.make_node("Gather", [f"{table}__{part}", ids], [f"{base}__{part}_rows"], axis=0, name=f"{base}__gather_{part}")
               for part in ("bytes", "zero", "scale_f32")]
    graph.initializer.append(numpy_helper.from_array(np.array([width], np.int64), f"{base}__width"))
    shape = [helper.make_node("Shape", [ids], [f"{base}__ids_shape"], name=f"{base}__ids_shape"),
             helper.make_node("Concat", [f"{base}__ids_shape", f"{base}__width"], [f"{base}__out_shape"], axis=0, name=f"{base}__out_shape")]
    new = (picked + _unpack_nodes(base, f"{base}__bytes_rows", -1, rec.bits)
           + _dequantize_nodes(base, f"{base}__levels", f"{base}__zero_rows", f"{base}__scale_f32_rows", f"{base}__grouped")
           + shape + [helper.make_node("Reshape", [f"{base}__grouped", f"{base}__out_shape"], [out], name=f"{base}__rows")])
    replace_node(graph, node, new)
