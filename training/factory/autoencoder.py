"""Stage 2: a small diffusers.AutoencoderKL, 128x128x3 images <-> 16x16x4 latents (factor 8).

Factor 8 because the teacher must train on 16x16x4 latents to be affordable on CPUs
(reference/training-on-cpu-facts.md: ~60-75 img/s on latents vs ~4 img/s at 64x64 pixels).
Loss: L1 + MSE on pixels plus a tiny KL term; no GAN or LPIPS (no weights to download here).
Outputs: ae.pt (weights + config + scaling factor), latents.npy (scaled posterior means).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .common import (
    EMA,
    Timer,
    checkpoint_state,
    load_checkpoint,
    make_accelerator,
    resume,
    save_checkpoint,
    save_grid,
    to_uint8,
    write_json,
)
from .config import FactoryConfig
from .dataset import EmojiDataset


def build_autoencoder(cfg: FactoryConfig):
    from diffusers import AutoencoderKL

    c = cfg.ae
    n = len(c.block_out_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n, up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=tuple(c.block_out_channels), layers_per_block=c.layers_per_block,
        latent_channels=c.latent_channels, norm_num_groups=c.norm_num_groups, sample_size=cfg.data.size,
    )


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1], on whichever device the tensor lies."""
    return images.permute(0, 3, 1, 2).float() / 127.5 - 1


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC (numpy) -> float NCHW in [-1, 1]."""
    return to_signed(torch.from_numpy(np.ascontiguousarray(images)))


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))


def load_autoencoder(run_dir: Path, device="cpu"):
    from .config import from_dict

    ck = load_checkpoint(Path(run_dir) / "ae" / "ae.pt")
    if ck is None or "final" not in ck:
        raise FileNotFoundError(f"no finished autoencoder in {run_dir}/ae: run the `ae` stage first")
    cfg = from_dict(ck["config"])
    vae = build_autoencoder(cfg)
    vae.load_state_dict(ck["ema"])
    return vae.to(device).eval().requires_grad_(False), float(ck["scaling_factor"])


def train_autoencoder(cfg: FactoryConfig) -> dict:
    run = Path(cfg.run_dir) / "ae"
    ds = EmojiDataset(Path(cfg.data.folder))
    acc = make_accelerator(bf16=True)
    dev = acc.device
    train_idx = np.array(ds.indices("train"))
    val_idx = np.array(ds.indices("val"))[:256]
    vae = build_autoencoder(cfg)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.ae.lr, weight_decay=0.0)
    ema = EMA(vae, 0.999)
    step, finished = resume(run / "ae.pt", "ae", vae, ema, opt)
    if finished is not None:
        return finished
    vae, opt = acc.prepare(vae, opt)
    ema.model.to(dev)
    images = ds.images
    images_dev = torch.from_numpy(np.ascontiguousarray(images)).to(dev)  # uint8, ~270 MB for the full set
    rng = np.random.default_rng(cfg.seed + step)
    timer = Timer(cfg.ae.time_budget_s, cfg.ae.checkpoint_every_s)
    total = cfg.ae.max_steps
    bar = tqdm(total=total, initial=step, desc="autoencoder", disable=not acc.is_local_main_process)

    def save(final=False, report=None):
        state = checkpoint_state(cfg, step, model=acc.unwrap_model(vae).state_dict(), ema=ema.model.state_dict(),
                                 opt=opt.state_dict())
        if final:
            state.update(final=True, report=report, scaling_factor=report["scaling_factor"])
        if acc.is_main_process:
            save_checkpoint(run / "ae.pt", state)

    while step < total and not timer.out_of_time():
        lr = cfg.ae.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = np.sort(rng.choice(train_idx, cfg.ae.batch_size))
        x = to_signed(images_dev[torch.from_numpy(idx).to(dev)])
        if rng.random() < 0.5:
            x = x.flip(3)
        with acc.autocast():
            post = acc.unwrap_model(vae).encode(x).latent_dist
            z = post.sample()
            rec = acc.unwrap_model(vae).decode(z).sample.float()
        kl = post.kl().mean() / x[0].numel()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + cfg.ae.kl_weight * kl
        acc.backward(loss)
        acc.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(acc.unwrap_model(vae), step)
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if timer.due():
            save()
    bar.close()
    report = finish_autoencoder(cfg, ema.model, images, train_idx, val_idx, dev, step, timer.elapsed())
    save(final=True, report=report)
    return report


@torch.no_grad()
def finish_autoencoder(cfg, vae, images, train_idx, val_idx, dev, step, seconds, scaling: float | None = None) -> dict:
    """Validation PSNR, the latent scaling factor, cached latents for the teacher, a recon grid."""
    run = Path(cfg.run_dir) / "ae"
    run.mkdir(parents=True, exist_ok=True)
    vae.eval()
    x = images_to_tensor(images[val_idx]).to(dev)
    recs = torch.cat([vae.decode(vae.encode(x[i:i + 64]).latent_dist.mode()).sample.float() for i in range(0, len(x), 64)])
    val_psnr = psnr(recs, x)
    latents = []
    for i in range(0, len(images), 256):
        xb = images_to_tensor(images[i:i + 256]).to(dev)
        latents.append(vae.encode(xb).latent_dist.mode().float().cpu())
    latents = torch.cat(latents)
    if scaling is None:  # 1/std of the training latents, as SD's 0.18215
        scaling = float(1.0 / latents[torch.as_tensor(train_idx)].std())
    np.save(run / "latents.npy", (latents * scaling).numpy().astype(np.float16))
    k = min(16, len(x))
    save_grid(np.concatenate([to_uint8(x[:k]), to_uint8(recs[:k])]), run / "reconstructions.png", cols=k)
    report = {"val_psnr_db_mean": float(val_psnr.mean()), "val_psnr_db_median": float(val_psnr.median()),
              "val_images": len(val_idx), "steps": step, "train_seconds": round(seconds, 1),
              "scaling_factor": scaling, "params": sum(p.numel() for p in vae.parameters())}
    write_json(run / "report.json", report)
    print(f"ae: val PSNR {report['val_psnr_db_mean']:.2f} dB (median {report['val_psnr_db_median']:.2f}), "
          f"scaling factor {scaling:.4f}")
    return report
