"""Converter: a diffusers one-step UNet + its base SD pipeline (local folders) -> the app's ONNX layout.

Why one file of ~350 lines: it is one command whose steps (load, export four graphs, check parity,
write the manifest) share its options; the parts it shares with `export` are in onnx_export.py.

  python -m factory.convert_diffusers --pipeline PIPELINE_DIR [--unet UNET_DIR_OR_FILE] --out OUT_DIR \
      --id ID --name NAME --license LICENSE --rule euler|ddpm [--timestep 999] [--precision fp16]

Input: a diffusers StableDiffusionPipeline folder (text_encoder/, tokenizer/, unet/, vae/,
scheduler/) and, optionally, the distilled one-step UNet that replaces its unet/: either a diffusers
UNet folder (config.json + weights) or one bare state-dict file (.safetensors/.bin, as DMD2 ships
them). Nothing is downloaded.

Output, the diffusers/optimum ONNX layout that published web exports use, plus our manifest:
  model_index.json, scheduler/scheduler_config.json
  tokenizer/{vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json}
  text_encoder/model.onnx   input_ids [batch_size, sequence_length] int64 -> last_hidden_state
  unet/model.onnx (+ unet/model.onnx_data when the graph is over the protobuf limit)
  vae_decoder/model.onnx    latent_sample -> sample in [-1, 1]
  manifest.json             sizes, sha256, tensors, the one-step rule, requirements

Precision:
  fp16          float16 graphs end to end (what SD-Turbo web exports are): half the bytes, and on
                WebGPU it needs the adapter feature shader-f16, which the manifest then requires.
  fp16-weights  float16 weights that are Cast to float32 at load: half the download, float32
                compute, runs on WASM and on any WebGPU adapter.
  fp32          as exported.
Every graph is compared with PyTorch (float32) on the same inputs through onnxruntime; the
conversion fails above the tolerance and leaves nothing half-written at OUT_DIR.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from .common import sha256_file
from .export import UNetForExport
from .onnx_export import OPSET, ExportError, check_parity, export_graph, new_stage, replace_with, save_onnx, write_manifest
from .onnx_weights import fp16_weights

# protobuf's hard limit is 2 GiB; leave room for the graph itself.
EXTERNAL_DATA_ABOVE = 1_900_000_000
TOKENIZER_FILES = ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")
PRECISIONS = ("fp16", "fp16-weights", "fp32")


@dataclass
class ConvertOptions:
    pipeline: Path
    out: Path
    model_id: str
    name: str
    license: str
    rule: str = "euler"           # "euler" (SD-Turbo) or "ddpm" (DMD2)
    timestep: int = 999
    unet: Path | None = None
    precision: str = "fp16"
    external_data_above: int = EXTERNAL_DATA_ABOVE
    version: str = "1"
    license_url: str | None = None
    attribution: str | None = None
    # max |onnx - torch| / max(1, max |torch|) per graph; fp16 rounds at ~1e-3 relative per op.
    tolerance: float | None = None


def load_pipeline(opts: ConvertOptions):
    """The pieces the browser runs, in float32 on the CPU, with the one-step UNet swapped in."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    p = opts.pipeline
    for sub in ("text_encoder", "tokenizer", "unet", "vae", "scheduler"):
        if not (p / sub).is_dir():
            raise ExportError(f"{p} is not a diffusers SD pipeline folder: {sub}/ is missing")
    tokenizer = CLIPTokenizer.from_pretrained(p / "tokenizer")
    text = CLIPTextModel.from_pretrained(p / "text_encoder", torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_pretrained(p / "vae", torch_dtype=torch.float32).eval()
    if opts.unet is None:
        unet = UNet2DConditionModel.from_pretrained(p / "unet", torch_dtype=torch.float32)
    elif opts.unet.is_dir():
        unet = UNet2DConditionModel.from_pretrained(opts.unet, torch_dtype=torch.float32)
    else:
        # A bare state dict (DMD2's release format): the base pipeline's config, the new weights.
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(p / "unet"))
        if opts.unet.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(opts.unet))
        else:
            state = torch.load(opts.unet, map_location="cpu", weights_only=True)
        missing, unexpected = unet.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ExportError(f"{opts.unet} does not fit the base UNet: {len(missing)} missing, {len(unexpected)} unexpected keys"
                              f" (e.g. {(missing or unexpected)[:3]})")
    return tokenizer, text, unet.float().eval(), vae


class TextEncoderForExport(torch.nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, input_ids):
        return self.text(input_ids, return_dict=False)[0]


class HalfOutput(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return self.inner(*args).half()


class VaeDecoderForExport(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


def one_step_rule(rule: str, timestep: int, scheduler_config: dict) -> dict:
    """The manifest's one-step rule from the scheduler's betas (both forms share ᾱ_t):
       ddpm  (DMD2):     x = z,  ε = unet(x, t),                 x0 = (x − √(1−ᾱ)ε)/√ᾱ
       euler (SD-Turbo): x = σz, ε = unet(x/√(σ²+1), t),        x0 = x − σε,  σ = √((1−ᾱ)/ᾱ)"""
    if scheduler_config.get("beta_schedule", "scaled_linear") != "scaled_linear":
        raise ExportError(f"scheduler beta_schedule {scheduler_config.get('beta_schedule')!r} is not scaled_linear")
    if scheduler_config.get("prediction_type", "epsilon") != "epsilon":
        raise ExportError("only epsilon-prediction UNets are supported")
    from .diffusion import alphas_cumprod, euler_sigma

    ab = alphas_cumprod(beta_start=scheduler_config.get("beta_start", 0.00085), beta_end=scheduler_config.get("beta_end", 0.012),
                        num_train_timesteps=int(scheduler_config.get("num_train_timesteps", 1000)))
    alpha_bar = float(ab[timestep])
    out = {"rule": rule, "timestep": timestep, "alpha_bar": alpha_bar, "prediction_type": "epsilon"}
    if rule == "euler":
        sigma = euler_sigma(alpha_bar)
        out.update(sigma=sigma, noise_scale=sigma, input_scale=1 / math.sqrt(sigma * sigma + 1))
    elif rule == "ddpm":
        out.update(noise_scale=1.0, input_scale=1.0)
    else:
        raise ExportError(f"rule must be 'euler' or 'ddpm', not {rule!r}")
    return out


def convert(opts: ConvertOptions) -> Path:
    if opts.precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {PRECISIONS}")
    tokenizer, text, unet, vae = load_pipeline(opts)
    half = opts.precision == "fp16"
    tol = opts.tolerance if opts.tolerance is not None else (3e-2 if opts.precision != "fp32" else 1e-3)
    scheduler_config = json.loads((opts.pipeline / "scheduler" / "scheduler_config.json").read_text())
    rule = one_step_rule(opts.rule, opts.timestep, scheduler_config)

    L = int(tokenizer.model_max_length)
    D = int(text.config.hidden_size)
    C = int(unet.config.in_channels)
    lat = int(unet.config.sample_size)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    size = lat * factor
    scaling = float(vae.config.scaling_factor)
    fdt = "float16" if half else "float32"

    final = opts.out
    stage = new_stage(final)
    report: dict[str, float] = {}
    g = torch.Generator().manual_seed(0)

    # layout files the hub readers expect
    (stage / "tokenizer").mkdir()
    for f in TOKENIZER_FILES:
        if (opts.pipeline / "tokenizer" / f).exists():
            shutil.copy(opts.pipeline / "tokenizer" / f, stage / "tokenizer" / f)
    for f in ("vocab.json", "merges.txt"):
        if not (stage / "tokenizer" / f).exists():
            raise ExportError(f"tokenizer/{f} is missing: the browser tokenizes CLIP prompts from vocab.json + merges.txt")
    (stage / "scheduler").mkdir()
    (stage / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler_config, indent=2))
    (stage / "model_index.json").write_text(json.dumps({
        "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", scheduler_config.get("_class_name", "EulerDiscreteScheduler")],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "OnnxRuntimeModel"], "vae_decoder": ["diffusers", "OnnxRuntimeModel"]}, indent=2))

    def finish(path: Path, weights_only: bool = False) -> None:
        # fp16 graphs come from exporting a .half() copy of the module; fp16-weights rewrites the
        # fp32 graph's large initializers as float16 + Cast.
        if opts.precision == "fp16-weights" or weights_only:
            save_onnx(fp16_weights(onnx.load(str(path))), path, opts.external_data_above)

    def as_exported(module: torch.nn.Module) -> torch.nn.Module:
        # A half copy, so the float32 module stays the parity reference.
        return copy.deepcopy(module).half().eval() if half else module

    # text encoder: int64 ids in, hidden states out (fp16 graphs emit float16)
    prompts = ["a red apple", "a photo of the blue sky with a smiling cat face"]
    ids = tokenizer(prompts, padding="max_length", max_length=L, truncation=True, return_tensors="pt").input_ids
    te_mod = TextEncoderForExport(text).eval()
    with torch.no_grad():
        ref = te_mod(ids).numpy()
    te = stage / "text_encoder" / "model.onnx"
    # In fp16 the text encoder computes in float32 from float16 weights and emits float16: the
    # TorchScript exporter writes transformers' half CLIP with a float32 residual feeding a float16
    # LayerNormalization, which ORT rejects. Its output still feeds the fp16 UNet without a cast.
    export_graph(HalfOutput(te_mod).eval() if half else te_mod, (ids,), te, ["input_ids"], ["last_hidden_state"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
                opts.external_data_above)
    finish(te, weights_only=half)
    report["text_encoder"] = check_parity("text_encoder", te, {"input_ids": ids.numpy()}, ref, tol)

    # UNet at the one-step timestep, on the input the browser feeds
    np_dtype = np.float16 if half else np.float32
    x = torch.randn(2, C, lat, lat, generator=g) * rule["input_scale"] * rule["noise_scale"]
    t = torch.tensor([opts.timestep, opts.timestep], dtype=torch.int64)
    with torch.no_grad():
        c = text(ids, return_dict=False)[0]
        wrapped = UNetForExport(unet).eval()
        ref = wrapped(x, t, c).numpy()
    un = stage / "unet" / "model.onnx"
    args = (x.half(), t, c.half()) if half else (x, t, c)
    export_graph(as_exported(wrapped), args, un,
                ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": {0: "batch_size", 2: "height", 3: "width"}, "timestep": {0: "batch_size"},
                 "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"}, "out_sample": {0: "batch_size", 2: "height", 3: "width"}},
                opts.external_data_above)
    finish(un)
    report["unet"] = check_parity("unet", un, {"sample": x.numpy().astype(np_dtype), "timestep": t.numpy(),
                                        "encoder_hidden_states": c.numpy().astype(np_dtype)}, ref, tol)

    # VAE decoder, on latent / scaling_factor as the browser feeds it
    z = torch.randn(1, 4, lat, lat, generator=g) / scaling
    dec = VaeDecoderForExport(vae).eval()
    with torch.no_grad():
        ref = dec(z).numpy()
    vd = stage / "vae_decoder" / "model.onnx"
    export_graph(as_exported(dec), (z.half() if half else z,), vd, ["latent_sample"], ["sample"],
                {"latent_sample": {0: "batch_size", 2: "height_latent", 3: "width_latent"}, "sample": {0: "batch_size"}},
                opts.external_data_above)
    finish(vd)
    report["vae_decoder"] = check_parity("vae_decoder", vd, {"latent_sample": z.numpy().astype(np_dtype)}, ref, tol)

    manifest = build_manifest(opts, stage, tokenizer, rule, report, L=L, D=D, C=C, lat=lat, size=size, scaling=scaling, fdt=fdt)
    write_manifest(stage / "manifest.json", manifest)
    replace_with(stage, final)
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"convert: {final} ({total / 2**20:.1f} MiB, {opts.precision})")
    return final


def largest_tensor_bytes(path: Path) -> int:
    """The biggest initializer of a graph: ORT-web uploads each weight as its own GPU buffer, so
    this, not the file size, is what the adapter's maxStorageBufferBindingSize must cover."""
    model = onnx.load(str(path), load_external_data=False)
    biggest = 0
    for t in model.graph.initializer:
        n = int(np.prod(t.dims)) if t.dims else 1
        biggest = max(biggest, n * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize)
    return biggest


def build_manifest(opts: ConvertOptions, stage: Path, tokenizer, rule: dict, report: dict, *, L, D, C, lat, size, scaling, fdt) -> dict:
    files = {}
    keys = {"tokenizer": "tokenizer/vocab.json", "tokenizer_merges": "tokenizer/merges.txt",
            "text_encoder": "text_encoder/model.onnx", "unet": "unet/model.onnx", "vae_decoder": "vae_decoder/model.onnx"}
    external = {}
    for graph in ("text_encoder", "unet", "vae_decoder"):
        if (stage / graph / "model.onnx_data").exists():
            keys[f"{graph}_data"] = f"{graph}/model.onnx_data"
            external[graph] = [f"{graph}_data"]
    for key, rel in keys.items():
        p = stage / rel
        files[key] = {"path": rel, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    half = fdt == "float16"
    m = {
        "schema": 1,
        "id": opts.model_id,
        "version": opts.version,
        "name": opts.name,
        "description": f"One-step Stable-Diffusion-class model converted from {opts.pipeline.name}"
                       + (f" with the UNet {opts.unet.name}" if opts.unet else "") + f" ({opts.precision}).",
        "created": time.strftime("%Y-%m-%d"),
        "license": {"weights": opts.license, **({"url": opts.license_url} if opts.license_url else {})},
        "attribution": {"base_pipeline": opts.pipeline.name, **({"unet": opts.unet.name} if opts.unet else {}),
                        **({"note": opts.attribution} if opts.attribution else {})},
        "files": files,
        "tokenizer": {"kind": "clip-bpe", "merges": "tokenizer_merges", "max_length": L, "pad_id": int(pad_id)},
        "tensors": {
            "text_encoder": {"inputs": {"input_ids": {"dtype": "int64", "shape": ["batch_size", L]}},
                             "outputs": {"last_hidden_state": {"dtype": fdt, "shape": ["batch_size", L, D]}}},
            "unet": {"inputs": {"sample": {"dtype": fdt, "shape": ["batch_size", C, lat, lat]},
                                "timestep": {"dtype": "int64", "shape": ["batch_size"]},
                                "encoder_hidden_states": {"dtype": fdt, "shape": ["batch_size", L, D]}},
                     "outputs": {"out_sample": {"dtype": fdt, "shape": ["batch_size", C, lat, lat]}}},
            "vae_decoder": {"inputs": {"latent_sample": {"dtype": fdt, "shape": ["batch_size", C, lat, lat]}},
                            "outputs": {"sample": {"dtype": fdt, "shape": ["batch_size", 3, size, size]}}},
        },
        "latent": {"channels": C, "height": lat, "width": lat},
        "output": {"width": size, "height": size, "range": [-1, 1]},
        "one_step": rule,
        "vae": {"scaling_factor": scaling},
        # Static shapes let ORT plan memory once; batch 1 because a 512x512 UNet batch of 4 does not
        # fit many GPUs' buffer limits (the app then runs variations one after another).
        "runtime": {
            "max_batch": 1,
            "free_dimension_overrides": {
                "text_encoder": {"batch_size": 1},
                "unet": {"batch_size": 1, "height": lat, "width": lat, "sequence_length": L},
                "vae_decoder": {"batch_size": 1, "height_latent": lat, "width_latent": lat},
            },
        },
        "requirements": {"webgpu_features": ["shader-f16"] if half else [], "fp16_compute": half,
                         "wasm": not half,
                         "max_tensor_bytes": max(largest_tensor_bytes(stage / g / "model.onnx")
                                                 for g in ("text_encoder", "unet", "vae_decoder"))},
        "export": {"opset": OPSET, "precision": opts.precision, "converter": "training/factory/convert_diffusers.py",
                   **{f"{k}_max_rel_err": v for k, v in report.items()}},
    }
    if external:
        m["external_data"] = external
    return m


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m factory.convert_diffusers", description=__doc__.splitlines()[0])
    p.add_argument("--pipeline", type=Path, required=True, help="local diffusers SD pipeline folder (the base)")
    p.add_argument("--unet", type=Path, default=None, help="one-step UNet: diffusers folder or state-dict file")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--id", dest="model_id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--license", required=True, help="licence of the weights, e.g. CC-BY-NC-SA-4.0")
    p.add_argument("--license-url", default=None)
    p.add_argument("--attribution", default=None)
    p.add_argument("--rule", choices=("euler", "ddpm"), default="euler")
    p.add_argument("--timestep", type=int, default=999)
    p.add_argument("--precision", choices=PRECISIONS, default="fp16")
    p.add_argument("--external-data-above", type=int, default=EXTERNAL_DATA_ABOVE,
                   help="store a graph's weights in model.onnx_data above this many bytes (0: always)")
    a = p.parse_args(argv)
    try:
        convert(ConvertOptions(**vars(a)))
    except ExportError as e:
        raise SystemExit(f"convert: {e}") from e


if __name__ == "__main__":
    main()
