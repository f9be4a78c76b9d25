"""The core both exporters share (export.py for our model, convert_diffusers.py for published SD
pipelines): writing a graph, running it in ONNX Runtime, the parity check, the staging folder that
replaces a model folder only when everything passed (new_stage, replace_with), and writing a validated manifest.

Parity is one rule for every graph: max|onnx − torch| / max(1, max|torch|) must stay within the
graph's tolerance, i.e. an absolute error for outputs within ±1 (images, most activations) and a
relative one for larger outputs; the figure reported is the absolute error.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

OPSET = 17


class ExportError(RuntimeError):
    pass


def export_graph(module, args, path: Path, input_names, output_names, dynamic_axes, external_data_above: int | None = None):
    """torch.onnx.export into `path`. Through a scratch folder (torch writes a big model as many loose
    tensor files), saved as one model.onnx, with one model.onnx_data beside it when the graph is
    larger than `external_data_above` bytes (None: never)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(module, args, str(raw), input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
        model = onnx.load(str(raw))
    save_onnx(model, path, external_data_above)


def save_onnx(model: onnx.ModelProto, path: Path, external_data_above: int | None = None) -> None:
    data = path.with_name(path.name + "_data")
    data.unlink(missing_ok=True)
    if external_data_above is not None and model.ByteSize() > external_data_above:
        # The browser passes this file to ORT as externalData under the same relative name.
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name, size_threshold=1024)
    else:
        onnx.save(model, str(path))


def ort_run(path: Path, feeds: dict) -> list[np.ndarray]:
    """The graph at `path` (stored, or packed: onnx_pack.py) on ORT's CPU provider."""
    import onnxruntime as ort

    from .onnx_pack import is_packed, session

    if is_packed(path):
        return session(path).run(None, feeds)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check_parity(name: str, path: Path, feeds: dict, reference: np.ndarray, tolerance: float) -> float:
    """The graph's first output against PyTorch's (the module docstring's rule); ExportError above
    the tolerance, on a shape mismatch or a non-finite output. Returns max|onnx − torch|."""
    out = ort_run(path, feeds)[0].astype(np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if out.shape != reference.shape:
        raise ExportError(f"{name}: ONNX output shape {out.shape} differs from PyTorch {reference.shape}")
    err = float(np.abs(out - reference).max())
    scale = float(np.abs(reference).max())
    rel = err / max(1.0, scale)
    print(f"export: {name:13s} max|onnx - torch| = {err:.2e} (output max {scale:.2f}; / max(1, output) {rel:.2e}, tolerance {tolerance:g})")
    if not np.isfinite(err) or rel > tolerance:
        raise ExportError(f"{name}: ONNX output differs from PyTorch by {rel:.3g} > {tolerance:g}")
    return err


def new_stage(final: Path) -> Path:
    """An empty `.<name>.staging` folder beside `final`, to export into. Nothing reaches `final`
    until replace_with(stage, final): a failed export leaves the shipped model as it was (its
    staging folder is cleared by the next run)."""
    stage = final.with_name(f".{final.name}.staging")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    return stage


def replace_with(stage: Path, final: Path) -> None:
    """Everything passed: the staging folder becomes the model folder."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(stage, final)


def write_manifest(path: Path, manifest: dict):
    """Validated against the app's contract before it is written: a bad manifest never reaches disk."""
    from .manifest_schema import validate_manifest

    validate_manifest(manifest)
    path.write_text(json.dumps(manifest, indent=2))
