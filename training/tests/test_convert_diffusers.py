"""The diffusers -> browser ONNX converter on a tiny random SD pipeline built here (no downloads):
layout, manifest validity and hashes, external data, fp16 dtypes, the swapped-in one-step UNet, and
parity of the whole one-step chain (ONNX through onnxruntime vs PyTorch)."""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from factory.convert_diffusers import ConvertOptions, convert
from factory.manifest_schema import validate_manifest
from factory.onnx_export import ExportError, ort_run
from factory.tiny_sd import build_tiny_pipeline, write_onestep_unet


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_sd")
    pipe = build_tiny_pipeline(root / "pipeline")
    unet_file = write_onestep_unet(pipe, root / "dmd_unet.safetensors")
    return root, pipe, unet_file


@pytest.fixture(scope="session")
def euler_fp16w(tiny_sd):
    """SD-Turbo form, float16 weights + float32 compute, UNet weights forced into external data."""
    root, pipe, _ = tiny_sd
    return convert(ConvertOptions(pipeline=pipe, out=root / "euler", model_id="tiny-sd", name="Tiny SD", license="MIT",
                                  rule="euler", precision="fp16-weights", external_data_above=1_000_000))


@pytest.fixture(scope="session")
def ddpm_fp16(tiny_sd):
    """DMD2 form, full float16 graphs, with the one-step UNet given as a bare state-dict file."""
    root, pipe, unet_file = tiny_sd
    return convert(ConvertOptions(pipeline=pipe, unet=unet_file, out=root / "ddpm", model_id="tiny-sd-fp16",
                                  name="Tiny SD fp16", license="CC-BY-NC-SA-4.0", rule="ddpm", precision="fp16"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_and_manifest(euler_fp16w):
    out = euler_fp16w
    for rel in ("model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "text_encoder/model.onnx", "unet/model.onnx", "unet/model.onnx_data", "vae_decoder/model.onnx"):
        assert (out / rel).is_file(), rel
    assert not (out.parent / f".{out.name}.staging").exists()
    m = validate_manifest(json.loads((out / "manifest.json").read_text()))
    for key, f in m["files"].items():
        p = out / f["path"]
        assert p.stat().st_size == f["bytes"] and sha256(p) == f["sha256"], key
    # only the UNet crossed the (test-lowered) external-data threshold; its graph names the data file
    assert m["external_data"] == {"unet": ["unet_data"]}
    unet = onnx.load(str(out / "unet" / "model.onnx"), load_external_data=False)
    locations = {e.value for t in unet.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"model.onnx_data"}
    assert m["tokenizer"] == {"kind": "clip-bpe", "merges": "tokenizer_merges", "max_length": 77, "pad_id": m["tokenizer"]["pad_id"]}
    assert m["latent"] == {"channels": 4, "height": 16, "width": 16} and m["output"]["width"] == 128
    assert m["requirements"]["webgpu_features"] == [] and m["requirements"]["wasm"] is True
    assert 0 < m["requirements"]["max_tensor_bytes"] < m["files"]["unet_data"]["bytes"]
    rule = m["one_step"]
    assert rule["rule"] == "euler" and rule["timestep"] == 999
    assert rule["alpha_bar"] == pytest.approx(0.0046601, rel=1e-4)
    assert rule["sigma"] == pytest.approx(14.6146, rel=1e-4)
    assert rule["input_scale"] == pytest.approx(1 / math.sqrt(14.6146**2 + 1), rel=1e-4)
    assert m["runtime"]["free_dimension_overrides"]["unet"] == {"batch_size": 1, "height": 16, "width": 16, "sequence_length": 77}


def test_one_step_chain_matches_pytorch(euler_fp16w, tiny_sd):
    """Tokens -> text encoder -> one Euler step -> VAE, in ONNX and in PyTorch, from the same noise."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    _, pipe, _ = tiny_sd
    out = euler_fp16w
    m = json.loads((out / "manifest.json").read_text())
    tok = CLIPTokenizer.from_pretrained(pipe / "tokenizer")
    ids = tok(["a smiling cat"], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    sigma, scale = m["one_step"]["sigma"], m["vae"]["scaling_factor"]
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(3))
    x = sigma * z
    t = torch.tensor([999])
    with torch.no_grad():
        emb = CLIPTextModel.from_pretrained(pipe / "text_encoder")(ids)[0]
        eps = UNet2DConditionModel.from_pretrained(pipe / "unet")(x / math.sqrt(sigma**2 + 1), t, encoder_hidden_states=emb).sample
        ref = AutoencoderKL.from_pretrained(pipe / "vae").decode((x - sigma * eps) / scale).sample.numpy()

    emb_o = ort_run(out / "text_encoder" / "model.onnx", {"input_ids": ids.numpy()})[0]
    eps_o = ort_run(out / "unet" / "model.onnx", {"sample": (x / math.sqrt(sigma**2 + 1)).numpy(), "timestep": t.numpy(),
                                                  "encoder_hidden_states": emb_o})[0]
    img_o = ort_run(out / "vae_decoder" / "model.onnx", {"latent_sample": ((x.numpy() - sigma * eps_o) / scale).astype(np.float32)})[0]
    assert img_o.shape == (1, 3, 128, 128)
    # σ ≈ 14.6 multiplies the UNet's error, so compare relative to the image's own range.
    err = np.abs(img_o - ref).max() / max(1.0, np.abs(ref).max())
    assert err < 0.05, err


def test_fp16_graphs_carry_the_one_step_unet(ddpm_fp16, tiny_sd):
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    _, pipe, unet_file = tiny_sd
    out = ddpm_fp16
    m = validate_manifest(json.loads((out / "manifest.json").read_text()))
    assert m["requirements"]["webgpu_features"] == ["shader-f16"] and m["requirements"]["fp16_compute"] is True
    assert m["tensors"]["unet"]["inputs"]["sample"]["dtype"] == "float16"
    assert m["tensors"]["text_encoder"]["outputs"]["last_hidden_state"]["dtype"] == "float16"
    assert m["one_step"] == {"rule": "ddpm", "timestep": 999, "alpha_bar": pytest.approx(0.0046601, rel=1e-4),
                             "prediction_type": "epsilon", "noise_scale": 1.0, "input_scale": 1.0}
    assert "external_data" not in m and not (out / "unet" / "model.onnx_data").exists()
    graph = onnx.load(str(out / "unet" / "model.onnx"))
    assert graph.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16

    base = UNet2DConditionModel.from_pretrained(pipe / "unet").eval()
    dmd = UNet2DConditionModel.from_pretrained(pipe / "unet").eval()
    dmd.load_state_dict(load_file(str(unet_file)))
    g = torch.Generator().manual_seed(5)
    x, c, t = torch.randn(1, 4, 16, 16, generator=g), torch.randn(1, 77, 32, generator=g), torch.tensor([999])
    got = ort_run(out / "unet" / "model.onnx", {"sample": x.numpy().astype(np.float16), "timestep": t.numpy(),
                                                "encoder_hidden_states": c.numpy().astype(np.float16)})[0].astype(np.float32)
    with torch.no_grad():
        want, old = dmd(x, t, encoder_hidden_states=c).sample.numpy(), base(x, t, encoder_hidden_states=c).sample.numpy()
    assert np.abs(got - want).max() < 0.03 * max(1.0, np.abs(want).max())
    assert np.abs(got - old).max() > 10 * np.abs(got - want).max(), "the converted UNet is the base, not the one-step UNet"


def test_refuses_what_it_cannot_convert(tiny_sd, tmp_path):
    root, pipe, _ = tiny_sd
    with pytest.raises(ExportError, match="not a diffusers SD pipeline"):
        convert(ConvertOptions(pipeline=tmp_path, out=tmp_path / "o", model_id="x", name="x", license="MIT"))
    bad = tmp_path / "bad_unet.safetensors"
    from safetensors.torch import save_file

    save_file({"not.a.unet.weight": torch.zeros(2)}, str(bad))
    with pytest.raises(ExportError, match="does not fit the base UNet"):
        convert(ConvertOptions(pipeline=pipe, unet=bad, out=tmp_path / "o", model_id="x", name="x", license="MIT"))
    assert not (tmp_path / "o").exists()
