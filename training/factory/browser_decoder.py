"""Stage `decoder`: a latent decoder built for the browser, trained in the autoencoder's latent space.

The autoencoder's own decoder (diffusers' UpDecoderBlock2D: GroupNorm, a mid-block attention, 16
channels of 3x3 convolutions at 128x128) costs 1.35 GFLOP per image, half of the whole pipeline, and
turns the one-step student's latent errors into blotchy colour grain. This one replaces it in
`vae_decoder/model.onnx` (same input and output: latent_sample -> sample in [-1, 1]); the encoder, the
latent space, the teacher and the student are untouched.

Design, FLOPs counted first (`gflops`): no attention, no normalisation (no reductions), ReLU, the
channel count halved at each doubling of resolution so every 3x3 convolution costs the same, and
pixel shuffle (DepthToSpace) for every upsampling, so nothing at all runs at 128x128:

  16x16:  3x3 4->64, residual block (two 3x3 64->64)
  32x32:  1x1 64->128 + shuffle -> 32 channels, residual block
  64x64:  1x1 32->64 + shuffle -> 16 channels, residual block
  128x128: 3x3 16->12 at 64x64 + shuffle -> RGB

or, with a fourth entry in `channels`, a narrow stage at 128x128 itself (1x1 + shuffle into it, a
residual block, 3x3 -> RGB), where the outlines are drawn.

Training: real-image latents (the autoencoder's posterior means, what the teacher was trained on) ->
the real images, L1 + MSE + an L1 on image gradients (keeps edges sharp). Robust to the student:
on a share of each batch the latent gets one of the one-step student's measured grain residuals
added (`student_errors.py`), so the decoder learns that such latent noise is not image content.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .common import EMA, Timer, checkpoint_state, load_checkpoint, pick_device, resume, save_checkpoint, write_json
from .config import FactoryConfig
from .student_errors import student_residuals, student_targets


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class BrowserDecoder(nn.Module):
    """latent_sample (unscaled, as the autoencoder's decode takes it) -> RGB in [-1, 1], x8 upsampling."""

    def __init__(self, latent_channels: int = 4, channels: tuple = (64, 32, 16), blocks: tuple = (1, 1, 1),
                 scaling_factor: float = 1.0):
        super().__init__()
        # the latent is unit-variance after scaling: the network sees well-conditioned inputs
        self.register_buffer("scaling_factor", torch.tensor(float(scaling_factor)))
        self.conv_in = nn.Conv2d(latent_channels, channels[0], 3, padding=1)
        stages = []
        for i, c in enumerate(channels):
            layers = []
            if i > 0:  # x2 by pixel shuffle from the previous width
                layers += [nn.Conv2d(channels[i - 1], c * 4, 1), nn.PixelShuffle(2)]
            layers += [ResidualBlock(c) for _ in range(blocks[i])]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        # x8 in all: each stage after the first doubles; a decoder whose last stage is at half the
        # output's resolution gets the last doubling from the RGB convolution's pixel shuffle
        doublings = len(channels) - 1
        if doublings == 3:
            self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)
        elif doublings == 2:
            self.to_rgb = nn.Sequential(nn.Conv2d(channels[-1], 3 * 4, 3, padding=1), nn.PixelShuffle(2))
        else:
            raise ValueError(f"decoder.channels: 3 or 4 stages (16x16 up to 64x64 or 128x128), not {len(channels)}")

    def forward(self, latent_sample):
        h = F.relu(self.conv_in(latent_sample * self.scaling_factor))
        return self.to_rgb(self.stages(h))


def gflops(model: nn.Module, latent_shape=(4, 16, 16)) -> float:
    """Multiply-adds x 2 of every convolution for one latent, counted with forward hooks."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += 2 * k * out.numel()

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, *latent_shape))
    for h in hs:
        h.remove()
    return total / 1e9


def build_decoder(cfg: FactoryConfig, scaling_factor: float = 1.0) -> BrowserDecoder:
    c = cfg.decoder
    return BrowserDecoder(cfg.ae.latent_channels, tuple(c.channels), tuple(c.blocks), scaling_factor)


def decoder_path(cfg: FactoryConfig, name: str | None = None) -> Path:
    return Path(cfg.run_dir) / (name or cfg.decoder.name) / "decoder.pt"


def load_browser_decoder(run_dir: Path, device="cpu", name: str = "decoder") -> BrowserDecoder:
    from .config import from_dict

    ck = load_checkpoint(Path(run_dir) / name / "decoder.pt")
    if ck is None or "final" not in ck:
        raise FileNotFoundError(f"no finished browser decoder in {run_dir}/{name}: run the `decoder` stage first")
    dec = build_decoder(from_dict(ck["config"]), float(ck["scaling_factor"]))
    dec.load_state_dict(ck["ema"])
    return dec.to(device).eval().requires_grad_(False)


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between the images' horizontal and vertical differences: penalises blur at edges."""
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return F.l1_loss(dx(a), dx(b)) + F.l1_loss(dy(a), dy(b))


def augment(z: torch.Tensor, residuals: torch.Tensor, share: float, scale: tuple, gen: torch.Generator) -> torch.Tensor:
    """Adds a random, randomly flipped and scaled student residual to a `share` of the latents."""
    n = len(z)
    pick = torch.randint(0, len(residuals), (n,), generator=gen)
    r = residuals[pick]
    if torch.rand((), generator=gen) < 0.5:
        r = r.flip(3)
    if torch.rand((), generator=gen) < 0.5:
        r = r.flip(2)
    a = torch.empty(n, 1, 1, 1).uniform_(scale[0], scale[1], generator=gen)
    on = (torch.rand(n, 1, 1, 1, generator=gen) < share).float()
    return z + on * a * r.to(z.device)


def train_browser_decoder(cfg: FactoryConfig) -> dict:
    from .autoencoder import load_autoencoder, to_signed
    from .dataset import EmojiDataset

    c = cfg.decoder
    run = decoder_path(cfg)
    ds = EmojiDataset(Path(cfg.data.folder))
    lat_path = Path(cfg.run_dir) / "ae" / "latents.npy"
    if not lat_path.exists():
        raise FileNotFoundError(f"{lat_path} missing: run the `ae` (or `restore`) stage first")
    latents = torch.from_numpy(np.load(lat_path).astype(np.float32))  # scaled posterior means
    _, scale = load_autoencoder(cfg.run_dir)
    torch.manual_seed(cfg.seed)
    # A GPU when there is one (gpu/decoder_job.py); the batches are drawn on the CPU either way,
    # so a run's data order does not depend on the machine.
    dev = pick_device()
    dec = build_decoder(cfg, scale).to(dev)
    print(f"decoder: {sum(p.numel() for p in dec.parameters()):,} parameters, {gflops(dec):.3f} GFLOP per image")
    opt = torch.optim.AdamW(dec.parameters(), lr=c.lr, weight_decay=0.0)
    ema = EMA(dec, c.ema_decay)
    step, finished = resume(run, "decoder", dec, ema, opt)
    if finished is not None:
        return finished
    if step == 0 and c.init_from:
        start = load_checkpoint(decoder_path(cfg, c.init_from))
        if start is None or "final" not in start:
            raise FileNotFoundError(f"decoder.init_from: no finished decoder in {cfg.run_dir}/{c.init_from}")
        dec.load_state_dict(start["ema"])
        ema.model.load_state_dict(start["ema"])
        print(f"decoder: starting from {c.init_from} ({start['step']} steps)")
    residuals = student_residuals(cfg, c.residual_samples) if c.residual_share > 0 else None
    pairs = student_targets(cfg, c.residual_samples) if c.student_share > 0 else None
    n_student = round(c.batch_size * c.student_share)
    train_idx = np.array(ds.indices("train"))
    # The images live where the decoder trains (uint8: 266 MB for the full set); a batch is indexed
    # there, so a GPU is not left waiting on the CPU's copies.
    images = torch.from_numpy(np.ascontiguousarray(ds.images)).to(dev)
    pair_images = pairs[1].to(dev) if pairs is not None else None
    gen = torch.Generator().manual_seed(cfg.seed + step)
    rng = np.random.default_rng(cfg.seed + step)
    timer = Timer(c.time_budget_s, c.checkpoint_every_s)
    bar = tqdm(total=c.max_steps, initial=step, desc="decoder")

    def save(final=False, report=None):
        state = checkpoint_state(cfg, step, model=dec.state_dict(), ema=ema.model.state_dict(), opt=opt.state_dict(),
                                 scaling_factor=scale)
        if final:
            state.update(final=True, report=report)
        save_checkpoint(run, state)

    dec.train()
    while step < c.max_steps and not timer.out_of_time():
        # Cosine decay over the steps, or over the time budget when that ends the run first (a GPU
        # run is set by its seconds: its max_steps is only a bound).
        done = step / c.max_steps if c.time_budget_s is None else max(step / c.max_steps, timer.elapsed() / c.time_budget_s)
        lr = c.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = np.sort(rng.choice(train_idx, c.batch_size - n_student))
        x = to_signed(images[torch.from_numpy(idx).to(dev)])
        z = latents[torch.from_numpy(idx)]
        if residuals is not None:
            z = augment(z, residuals, c.residual_share, tuple(c.residual_scale), gen)
        if n_student:
            pick = torch.from_numpy(rng.choice(len(pairs[0]), n_student))
            x = torch.cat([x, to_signed(pair_images[pick.to(dev)])])
            z = torch.cat([z, pairs[0][pick]])
        if rng.random() < 0.5:  # the latent space is (near) flip-equivariant: a free doubling of the data
            x, z = x.flip(3), z.flip(3)
        z = z.to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            rec = dec(z / scale).float()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + c.gradient_weight * gradient_l1(rec, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(dec, step)
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if timer.due():
            save()
    bar.close()
    report = finish_browser_decoder(cfg, ema.model.cpu(), step, timer.elapsed())
    save(final=True, report=report)
    return report


@torch.no_grad()
def finish_browser_decoder(cfg: FactoryConfig, dec: BrowserDecoder, step: int, seconds: float) -> dict:
    """Validation PSNR on real latents for this decoder and the autoencoder's, and a comparison grid."""
    from .autoencoder import images_to_tensor, load_autoencoder, psnr
    from .common import save_grid, to_uint8
    from .dataset import EmojiDataset

    ds = EmojiDataset(Path(cfg.data.folder))
    vae, scale = load_autoencoder(cfg.run_dir)
    latents = torch.from_numpy(np.load(Path(cfg.run_dir) / "ae" / "latents.npy").astype(np.float32))
    val = np.array(ds.indices("val"))
    x = images_to_tensor(ds.images[val])
    z = latents[torch.from_numpy(val)] / scale
    ours = torch.cat([dec(z[i:i + 128]) for i in range(0, len(z), 128)])
    theirs = torch.cat([vae.decode(z[i:i + 128]).sample for i in range(0, len(z), 128)])
    p_ours, p_theirs = psnr(ours, x), psnr(theirs, x)
    out = decoder_path(cfg).parent
    k = min(12, len(x))
    save_grid(np.concatenate([to_uint8(x[:k]), to_uint8(theirs[:k]), to_uint8(ours[:k])]), out / "val_decoders.png", cols=k)
    report = {"val_psnr_db_mean": float(p_ours.mean()), "autoencoder_val_psnr_db_mean": float(p_theirs.mean()),
              "val_images": len(val), "steps": step, "train_seconds": round(seconds, 1),
              "gflop_per_image": round(gflops(dec), 4), "params": sum(p.numel() for p in dec.parameters()),
              "residual_share": cfg.decoder.residual_share, "student_share": cfg.decoder.student_share}
    write_json(out / "report.json", report)
    print(f"decoder: val PSNR {report['val_psnr_db_mean']:.2f} dB (autoencoder's decoder "
          f"{report['autoencoder_val_psnr_db_mean']:.2f}), {report['gflop_per_image']} GFLOP, {report['params']:,} params")
    return report
