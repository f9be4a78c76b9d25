"""A packed graph (`model.onnx.pack`): an ONNX graph whose large weights ship as the low-bit levels,
zeros and scales they were rounded to, and which the page rebuilds into fp32 external data itself.

Why: a graph that stores int8/int4 bytes plus the Cast/Mul constants that rebuild them
(onnx_weights.py, onnx_grouped.py) makes ORT fold those constants each time it creates the session,
holding both copies in WebAssembly memory (which never shrinks). Folding once here and letting the
worker rebuild the fp32 weights with a plain loop measured 0.43-0.69x the session time and
-220..-390 MiB of page memory for the same download (LAB_NOTEBOOK.md, session 24).

Packing starts from a stored graph (what the exporters write) and changes no number: ORT's
`basic` level folds it (constant folding and redundant-node removal only, EP-independent ops), then
every folded weight that came from a known rounding (by the names those modules give their
constants) is written as levels/zeros/scales, and every other large weight that is exactly a
float16 value as float16. Each rebuilt weight is checked bit for bit against the fold, and the
whole packed graph against the stored one through ORT (`pack_graph` raises PackError otherwise).

Layout (little-endian; each section starts at a multiple of 16):
  "ONNXPACK" | u32 version (1) | u32 header length | header (UTF-8 JSON) | sections...
header: {"graph": [offset, length], "external_data": "weights.bin", "bytes": fp32 bytes in all,
         "weights_sha256": of those bytes as rebuilt,
         "tensors": [{"name", "offset" (bytes into the external data), "count", "encoding": "q8" | "q4" | "f16",
                      q8/q4: "levels": [offset, length], "zero": int | "zeros": [offset, length] (u8 per group),
                             "scales": [offset, length], "scale_type": "f16" | "f32",
                             "groups": ["contiguous", size] | ["strided", columns, rows]
                      f16:   "values": [offset, length]}]}
element i of a q8/q4 tensor is (level[i] - zero[g]) * scale[g] in float32, g its group:
contiguous: i // size; strided (a [K, N] weight, blocks of `rows` rows per column):
(i // (columns * rows)) * columns + i % columns. q4 levels: two per byte, element 2k in the low nibble.
The reader in the page is workers/runtime/packed-graph.ts.
"""
from __future__ import annotations

import hashlib
import json
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

MAGIC = b"ONNXPACK"
VERSION = 1
LOCATION = "weights.bin"
ALIGN = 16
MIN_ELEMENTS = 1024  # smaller weights stay inside the graph


class PackError(RuntimeError):
    pass


@dataclass
class _Tensor:
    name: str
    count: int
    encoding: str
    sections: dict = field(default_factory=dict)  # part -> bytes
    meta: dict = field(default_factory=dict)


def fold(stored: Path) -> onnx.ModelProto:
    """The stored graph with its constant subgraphs folded by ORT's `basic` level."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = str(Path(tmp) / "folded.onnx")
        so.log_severity_level = 3
        ort.InferenceSession(str(stored), so, providers=["CPUExecutionProvider"])
        return onnx.load(str(Path(tmp) / "folded.onnx"))


def _group_index(group_shape: tuple, grouped_shape: tuple) -> np.ndarray:
    """Each element's group, for a zero/scale array of `group_shape` broadcast over `grouped_shape`."""
    n_groups = int(np.prod(group_shape))
    return np.broadcast_to(np.arange(n_groups).reshape(group_shape), grouped_shape).ravel()


def _groups(index: np.ndarray, n_groups: int) -> list:
    """The two group maps the reader knows, or PackError."""
    n = index.size
    size = n // n_groups
    if n % n_groups == 0 and np.array_equal(index, np.arange(n) // size):
        return ["contiguous", size]
    again = np.flatnonzero(index[1:] == 0)
    if again.size:
        cols = int(again[0]) + 1
        rows = n // n_groups
        i = np.arange(n)
        if n % (cols * rows) == 0 and np.array_equal(index, (i // (cols * rows)) * cols + i % cols):
            return ["strided", cols, rows]
    raise PackError("a weight's groups are neither contiguous nor column blocks")


def _f16_exact(a: np.ndarray) -> bool:
    a32 = np.ascontiguousarray(a, dtype=np.float32)
    return np.array_equal(a32.astype(np.float16).astype(np.float32).view(np.uint32), a32.view(np.uint32))


def _quantized(name: str, levels: np.ndarray, zero, scale: np.ndarray, bits: int) -> _Tensor:
    """A q8/q4 record; `levels` in the weight's element order (grouped shape), `zero` an int or an
    array of the scale's shape, `scale` broadcastable over the levels' shape."""
    index = _group_index(scale.shape, levels.shape)
    t = _Tensor(name, levels.size, f"q{bits}")
    t.meta["groups"] = _groups(index, scale.size)
    lv = levels.ravel().astype(np.uint8)
    if bits == 4:
        lv = np.concatenate([lv, np.zeros(lv.size % 2, np.uint8)])
        lv = lv[0::2] | (lv[1::2] << 4)
    t.sections["levels"] = lv.tobytes()
    if isinstance(zero, int):
        t.meta["zero"] = zero
    else:
        t.sections["zeros"] = np.ascontiguousarray(zero, np.uint8).ravel().tobytes()
    s32 = np.ascontiguousarray(scale, np.float32).ravel()
    t.meta["scale_type"] = "f16" if _f16_exact(s32) else "f32"
    t.sections["scales"] = (s32.astype(np.float16) if t.meta["scale_type"] == "f16" else s32).tobytes()
    return t


def _records(stored: onnx.ModelProto, folded: onnx.ModelProto) -> list[tuple[onnx.TensorProto, _Tensor]]:
    """Each large folded weight with its packed record (those without one stay in the graph)."""
    const = {i.name: numpy_helper.to_array(i) for i in stored.graph.initializer}
    nodes = {n.name: n for n in stored.graph.node}

    def value(name: str) -> np.ndarray | None:
        """A stored constant as its graph reads it (fp16_weights may have stored it as float16)."""
        if name in const:
            return const[name]
        if name + "__fp16" in const:
            return const[name + "__fp16"].astype(np.float32)
        return None

    out = []
    for init in folded.graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < MIN_ELEMENTS:
            continue
        name, shape = init.name, tuple(init.dims)
        if name + "__int8" in const:  # onnx_weights.int8_weights: symmetric, zero 128 after the shift
            q = const[name + "__int8"].astype(np.int16) + 128
            scale = value(name + "__scale")
            if scale is None:
                scale = value(name + "__scale_fp16")
            blocks = const.get(name + "__blocks")
            grouped = q.reshape(tuple(int(b) for b in blocks)) if blocks is not None else q
            rec = _quantized(name, grouped, 128, scale, 8)
        elif name + "__bytes" in const and name + "__zero" in const:  # onnx_grouped: GPTQ levels
            b = const[name + "__bytes"].astype(np.int16) + 128
            join = nodes.get(name + "__join")
            if join is not None:  # 4 bits: low nibbles then high ones along the group's axis
                axis = next(a.i for a in join.attribute if a.name == "axis")
                levels, bits = np.concatenate([b % 16, b // 16], axis=axis), 4
            else:
                levels, bits = b, 8
            zero = const[name + "__zero"].astype(np.int16) + 128
            rec = _quantized(name, levels, zero, value(name + "__scale"), bits)
        else:
            arr = numpy_helper.to_array(init)
            if not _f16_exact(arr):
                continue
            rec = _Tensor(name, arr.size, "f16", {"values": arr.astype(np.float16).tobytes()})
        if int(np.prod(shape)) != rec.count:
            raise PackError(f"{name}: {rec.count} packed values for a weight of shape {list(shape)}")
        out.append((init, rec))
    return out


def _rebuilt(rec: dict, blob: bytes) -> np.ndarray:
    """One tensor's float32 values from a container's record (what the page's reader computes)."""
    def part(key, dtype):
        o, n = rec[key]
        return np.frombuffer(blob, dtype, count=n // np.dtype(dtype).itemsize, offset=o)

    n = rec["count"]
    if rec["encoding"] == "f16":
        return part("values", np.float16).astype(np.float32)
    lv = part("levels", np.uint8)
    if rec["encoding"] == "q4":
        lv = np.stack([lv & 15, lv >> 4], axis=1).ravel()[:n]
    scales = part("scales", np.float16 if rec["scale_type"] == "f16" else np.float32).astype(np.float32)
    zeros = np.full(scales.size, rec["zero"], np.float32) if "zero" in rec else part("zeros", np.uint8).astype(np.float32)
    i = np.arange(n)
    kind, *arg = rec["groups"]
    g = i // arg[0] if kind == "contiguous" else (i // (arg[0] * arg[1])) * arg[0] + i % arg[0]
    return (lv.astype(np.float32) - zeros[g]) * scales[g]


def _align(buf: bytearray):
    buf.extend(b"\0" * (-len(buf) % ALIGN))


def pack_graph(stored_path: Path, out_path: Path, feeds: dict, tolerance: float = 0.0) -> dict:
    """Writes `out_path` (the container) from the stored graph at `stored_path`. Raises PackError
    when a rebuilt weight differs from ORT's fold by a bit, or the packed graph's outputs on `feeds`
    differ from the stored graph's by more than `tolerance`. Returns figures for the export report."""
    stored = onnx.load(str(stored_path))
    folded = fold(stored_path)
    records = _records(stored, folded)
    offset = 0
    # of the rebuilt fp32 weights, in order: the page's reader is tested against it (tests/unit/packed-graph.test.ts)
    digest = hashlib.sha256()
    for init, rec in records:
        # the fold's values, bit for bit, from the record alone
        expect = numpy_helper.to_array(init).astype(np.float32).ravel()
        got = _rebuilt(_as_header(rec, 0, {}), _flat(rec))
        if not np.array_equal(got.view(np.uint32), expect.view(np.uint32)):
            raise PackError(f"{init.name}: rebuilt weight differs from ORT's fold (max |Δ| {np.abs(got - expect).max():.3g})")
        digest.update(expect.tobytes())
        init.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
            init.ClearField(f)
        init.data_location = TensorProto.EXTERNAL
        del init.external_data[:]
        for k, v in (("location", LOCATION), ("offset", str(offset)), ("length", str(rec.count * 4))):
            init.external_data.add(key=k, value=v)
        rec.meta["offset"] = offset
        offset += rec.count * 4
    graph = folded.SerializeToString()
    digest = digest.hexdigest()

    # sections after the header; their offsets depend on the header's length, so lay out twice
    def layout(header_len: int):
        pos = _round(16 + header_len)
        placed, blobs = [], []
        g = [pos, len(graph)]
        pos = _round(pos + len(graph))
        for _, rec in records:
            parts = {}
            for key, data in rec.sections.items():
                parts[key] = [pos, len(data)]
                blobs.append((pos, data))
                pos = _round(pos + len(data))
            placed.append(_as_header(rec, rec.meta["offset"], parts))
        header = {"graph": g, "external_data": LOCATION, "bytes": offset, "weights_sha256": digest, "tensors": placed}
        return json.dumps(header, separators=(",", ":")).encode(), blobs, g

    header_len = 0
    while True:
        header, blobs, g = layout(header_len)
        if len(header) == header_len:
            break
        header_len = len(header)
    buf = bytearray(MAGIC + struct.pack("<II", VERSION, len(header)) + header)
    _align(buf)
    assert len(buf) == g[0]
    buf += graph
    _align(buf)
    for pos, data in blobs:
        assert len(buf) == pos
        buf += data
        _align(buf)
    out_path.write_bytes(bytes(buf))

    err = _parity(stored_path, out_path, feeds)
    if not np.isfinite(err) or err > tolerance:
        raise PackError(f"{out_path}: packed graph differs from the stored one by {err:.3g} > {tolerance:g}")
    kinds = [r.encoding for _, r in records]
    report = {"bytes": len(buf), "weights": len(records), "fp32_bytes": offset, "max_abs_err": err,
              **{k: kinds.count(k) for k in ("q8", "q4", "f16")}}
    print(f"pack: {out_path} ({len(buf):,} B from {stored_path.stat().st_size:,}; {len(records)} weights: "
          f"{report['q8']} q8, {report['q4']} q4, {report['f16']} f16; {offset / 2**20:.1f} MiB fp32 rebuilt; "
          f"max |packed - stored| {err:.2e})")
    return report


def _round(n: int) -> int:
    return n + (-n % ALIGN)


def _flat(rec: _Tensor) -> bytes:
    """The record's sections back to back (for checking it before the container exists)."""
    return b"".join(rec.sections.values())


def _as_header(rec: _Tensor, offset: int, parts: dict) -> dict:
    if not parts:  # sections back to back from 0, as _flat lays them out
        pos = 0
        for key, data in rec.sections.items():
            parts[key] = [pos, len(data)]
            pos += len(data)
    meta = {k: v for k, v in rec.meta.items() if k != "offset"}
    return {"name": rec.name, "offset": offset, "count": rec.count, "encoding": rec.encoding, **parts, **meta}


def unpack(path: Path) -> tuple[onnx.ModelProto, bytes]:
    """A container's graph and its rebuilt fp32 external data (the page's reader, in numpy)."""
    blob = path.read_bytes()
    if blob[:8] != MAGIC:
        raise PackError(f"{path}: not a packed graph")
    version, header_len = struct.unpack_from("<II", blob, 8)
    if version != VERSION:
        raise PackError(f"{path}: packed graph version {version}, this reader knows {VERSION}")
    header = json.loads(blob[16:16 + header_len])
    o, n = header["graph"]
    model = onnx.load_from_string(blob[o:o + n])
    data = np.zeros(header["bytes"] // 4, np.float32)
    for rec in header["tensors"]:
        data[rec["offset"] // 4:rec["offset"] // 4 + rec["count"]] = _rebuilt(rec, blob)
    return model, data.tobytes()


def session(path: Path):
    """An ORT (CPU) session on a container, its external data handed over in memory."""
    import onnxruntime as ort

    model, data = unpack(path)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / LOCATION).write_bytes(data)
        (Path(tmp) / "model.onnx").write_bytes(model.SerializeToString())
        so = ort.SessionOptions()
        so.log_severity_level = 3
        return ort.InferenceSession(str(Path(tmp) / "model.onnx"), so, providers=["CPUExecutionProvider"])


def _parity(stored: Path, packed: Path, feeds: dict) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    ref = ort.InferenceSession(str(stored), so, providers=["CPUExecutionProvider"]).run(None, feeds)
    out = session(packed).run(None, feeds)
    return max(float(np.abs(a.astype(np.float32) - b.astype(np.float32)).max()) for a, b in zip(out, ref))


def same_packed(a: Path, b: Path) -> bool:
    """Two containers hold the same graph and the same rebuilt weights, bit for bit."""
    if not (a.exists() and b.exists()):
        return False
    (ma, da), (mb, db) = unpack(a), unpack(b)
    return da == db and ma.SerializeToString() == mb.SerializeToString()


PACKED_NAME = "model.onnx.pack"
FORMAT = "onnx-pack"  # the manifest's files.<key>.format for a packed graph
PACKED_GRAPHS = ("text_encoder", "unet", "unet_teacher")  # the decoder is small and fp32: nothing to pack


def is_packed(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == MAGIC


def inline_model(path: Path) -> onnx.ModelProto:
    """A stored or packed graph as one ModelProto with every weight inside (for reading its weights)."""
    if not is_packed(path):
        return onnx.load(str(path))
    model, data = unpack(path)
    for init in model.graph.initializer:
        if init.data_location == TensorProto.EXTERNAL:
            ext = {e.key: e.value for e in init.external_data}
            o, n = int(ext["offset"]), int(ext["length"])
            init.raw_data = data[o:o + n]
            init.data_location = TensorProto.DEFAULT
            del init.external_data[:]
    return model


def graph_file(model_dir: Path, key: str) -> Path:
    """A model folder's graph `key`: packed if it was, else its model.onnx."""
    packed = model_dir / key / PACKED_NAME
    return packed if packed.exists() else model_dir / key / "model.onnx"


def example_feeds(tensors: dict) -> dict:
    """Batch-2 inputs for a graph's manifest tensors (seeded): the timestep at the one-step and a
    middle value, token ids over a MiniLM-sized vocabulary, floats from a normal."""
    rng = np.random.default_rng(0)
    feeds = {}
    for name, t in tensors["inputs"].items():
        shape = [2 if isinstance(d, str) else d for d in t["shape"]]
        if t["dtype"] == "int64":
            feeds[name] = (np.array([999, 500], np.int64) if name == "timestep"
                           else rng.integers(0, 30000, shape).astype(np.int64))
        else:
            feeds[name] = rng.standard_normal(shape, dtype=np.float32)
    return feeds


def pack_stage(stage: Path, final: Path, feeds: dict[str, dict]) -> dict:
    """In an export's staging folder: each of PACKED_GRAPHS' model.onnx becomes model.onnx.pack
    (the shipped one's bytes kept when it holds the same graph and weights). Returns report entries."""
    import shutil

    report = {}
    for key in PACKED_GRAPHS:
        src = stage / key / "model.onnx"
        dst = src.with_name(PACKED_NAME)
        report[f"{key}_packed_max_abs_err"] = pack_graph(src, dst, feeds[key])["max_abs_err"]
        shipped = final / key / PACKED_NAME
        if shipped.exists() and same_packed(dst, shipped):
            shutil.copyfile(shipped, dst)
        src.unlink()
    return report
