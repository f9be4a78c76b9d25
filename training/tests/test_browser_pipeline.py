"""The pipeline parts built for the browser: the decoder, the image grain figure, int8 weights."""
import copy
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from factory.browser_decoder import BrowserDecoder, gflops, load_browser_decoder, train_browser_decoder
from factory.config import FactoryConfig
from factory.grain import image_grain
from factory.onnx_export import export_graph, ort_run
from factory.onnx_weights import FP16_SUFFIX, INT8_SUFFIX, int8_module, int8_weights


def test_the_default_browser_decoder_fits_its_budget_and_decodes_16x16_to_128x128():
    """Issue 22's targets: <= 0.15 GFLOP per 128x128 image and <= 1 MB of fp32 weights."""
    cfg = FactoryConfig()
    dec = BrowserDecoder(cfg.ae.latent_channels, cfg.decoder.channels, cfg.decoder.blocks)
    assert gflops(dec) <= 0.15
    assert sum(p.numel() for p in dec.parameters()) * 4 <= 1_000_000
    assert dec(torch.zeros(2, 4, 16, 16)).shape == (2, 3, 128, 128)
    # the counter counts: one 3x3 conv 4->8 on 16x16 is 2 * 9 * 4 * 8 * 256 FLOP
    one = nn.Conv2d(4, 8, 3, padding=1)
    assert gflops(one) == 2 * 9 * 4 * 8 * 256 / 1e9


def test_the_decoder_stage_trains_on_student_outputs_and_reports_both_decoders(tiny_trained):
    """Both robustness routes on: residuals added to real latents, and student latents paired with
    the autoencoder's image of their polished latent."""
    from factory.distill import train_student
    from factory.student_errors import student_targets

    train_student(tiny_trained, tiny_trained.distill.variant)  # the residuals come from the student
    tiny_trained = copy.deepcopy(tiny_trained)
    tiny_trained.decoder.student_share = 0.5
    z, images = student_targets(tiny_trained, tiny_trained.decoder.residual_samples)
    assert z.shape == (tiny_trained.decoder.residual_samples, 4, 16, 16)
    assert images.shape == (len(z), 128, 128, 3) and images.dtype == torch.uint8
    report = train_browser_decoder(tiny_trained)
    assert report["steps"] == tiny_trained.decoder.max_steps and report["student_share"] == 0.5
    assert np.isfinite(report["val_psnr_db_mean"]) and np.isfinite(report["autoencoder_val_psnr_db_mean"])
    dec = load_browser_decoder(tiny_trained.run_dir)
    assert dec(torch.zeros(1, 4, 16, 16)).shape == (1, 3, 128, 128)
    # a finished stage is not trained again
    assert train_browser_decoder(tiny_trained) == report


def test_image_grain_sees_blotches_in_flat_fills_and_not_edges():
    flat = torch.zeros(1, 3, 64, 64)
    edges = flat.clone()
    edges[..., :, 32:] = 1.0  # a black/white step: an outline, not grain
    edges[..., 20:22, :] = -1.0
    g = torch.Generator().manual_seed(0)
    # 4 px blotches, +-8 levels: what the student's latent errors decode to
    blotches = torch.nn.functional.interpolate(torch.randn(1, 3, 16, 16, generator=g), scale_factor=4, mode="nearest")
    grainy = (flat + 0.06 * blotches).clamp(-1, 1)
    assert image_grain(flat).item() == 0
    assert image_grain(edges).item() < 0.5
    assert image_grain(grainy).item() > 3.0
    # uint8 NHWC (a generated set) reads the same as [-1, 1] NCHW
    as_u8 = ((grainy + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    assert abs(image_grain(as_u8).item() - image_grain(grainy).item()) < 0.3


class TinyTextNet(nn.Module):
    """An embedding table and two Linears, one with an outlier weight, like MiniLM's layer-0 FFN."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.emb = nn.Embedding(500, 64)
        self.up = nn.Linear(64, 512)
        self.down = nn.Linear(512, 64)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            self.down.weight[3, 7] = 40.0  # ~180 standard deviations of the whole weight out

    def forward(self, ids):
        return self.down(torch.relu(self.up(self.emb(ids))))


def test_int8_weights_shrink_the_file_and_compute_what_their_pytorch_twin_computes(tmp_path):
    net = TinyTextNet().eval()
    ids = torch.randint(0, 500, (3, 10), generator=torch.Generator().manual_seed(1))
    path = tmp_path / "net.onnx"
    export_graph(net, (ids,), path, ["input_ids"], ["out"], {"input_ids": {0: "batch"}})
    fp32 = path.stat().st_size
    model = int8_weights(onnx.load(str(path)))
    onnx.save(model, str(path))
    names = {i.name for i in model.graph.initializer}
    assert any(n.endswith(INT8_SUFFIX) for n in names) and any(n.endswith(FP16_SUFFIX) for n in names)
    assert path.stat().st_size < 0.45 * fp32
    twin = int8_module(net, ids)
    got = ort_run(path, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - twin(ids).numpy()).max() < 1e-4  # the same rounded weights
        exact = net(ids).numpy()
    assert np.abs(got - exact).max() < 0.05 * np.abs(exact).max()  # and close to fp32
    assert copy.deepcopy(net).down.weight[3, 7] == 40.0  # the twin is a copy: the original is untouched


def test_int8_conv_and_gemm_weights_are_rebuilt_by_constants_ort_can_fold(tmp_path):
    """Per output channel for a Conv and a Gemm, as Cast * Mul of constants (no DequantizeLinear:
    ORT's constant folding skips it, so it would dequantise on every run)."""
    net = nn.Sequential(nn.Conv2d(4, 128, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(128 * 8 * 8, 32)).eval()
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "conv.onnx"
    export_graph(net, (x,), path, ["x"], ["y"], {"x": {0: "batch"}})
    model = int8_weights(onnx.load(str(path)))
    onnx.save(model, str(path))
    assert "DequantizeLinear" not in {n.op_type for n in model.graph.node}
    assert sum(i.name.endswith(INT8_SUFFIX) for i in model.graph.initializer) == 2
    got = ort_run(path, {"x": x.numpy()})[0]
    with torch.no_grad():
        exact = net(x).numpy()
        twin = int8_module(net, x)(x).numpy()
    assert np.abs(got - exact).max() < 0.02 * np.abs(exact).max()
    assert np.abs(got - twin).max() < 1e-4  # the PyTorch twin rounds the Conv and the Gemm as the graph does


def test_the_gpu_decoder_job_carries_what_the_stage_needs_and_brings_back_a_decoder(tiny_trained, tmp_path):
    """pack (here) -> run (on a machine with none of the run folder) -> unpack, on the tiny chain:
    the run trains from the carried files alone, and what comes back loads where the export looks."""
    import importlib.util
    import json

    from factory.config import load_config, to_dict
    from factory.distill import train_student

    spec = importlib.util.spec_from_file_location("decoder_job", Path(__file__).parent.parent / "gpu" / "decoder_job.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    train_student(tiny_trained, tiny_trained.distill.variant)  # the shipped student's samples travel
    here = tmp_path / "here.json"
    here.write_text(json.dumps(to_dict(tiny_trained)))
    carry = tmp_path / "carry"
    job.pack(4, str(here), carry, wheels=False)
    # The box: an empty run folder and no dataset.
    there = tmp_path / "there.json"
    there.write_text(json.dumps({**to_dict(tiny_trained), "run_dir": str(tmp_path / "box-run"),
                                 "data": {**to_dict(tiny_trained)["data"], "folder": str(tmp_path / "box-data")}}))
    out = tmp_path / "out"
    job.run(out, 5.0, "decoder-gpu-a", str(there), carry)
    report = json.loads((out / "reports.json").read_text())["decoder-gpu-a"]
    assert report["steps"] >= 1 and np.isfinite(report["val_psnr_db_mean"]), report
    # The latents travelled in fp16 and came back as the float32 file the stages read.
    box = load_config(there)
    here_latents = np.load(Path(tiny_trained.run_dir) / "ae" / "latents.npy")
    box_latents = np.load(Path(box.run_dir) / "ae" / "latents.npy")
    assert box_latents.dtype == np.float32 and np.allclose(box_latents, here_latents, rtol=1e-3, atol=1e-3)
    job.unpack(out, str(here))
    dec = load_browser_decoder(tiny_trained.run_dir, name="decoder-gpu-a")
    assert dec(torch.zeros(1, 4, 16, 16)).shape == (1, 3, 128, 128)
