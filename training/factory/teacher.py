"""Stage 3: the multi-step teacher, a small diffusers.UNet2DConditionModel on 16x16x4 latents.

eps-prediction, 1000-step DDPM schedule (scaled-linear, as Stable Diffusion), caption dropout for
classifier-free guidance, EMA weights. Runs unchanged under `accelerate launch`.
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
from .conditioning import SHOWCASE_PROMPTS, encode_prompts, latents_and_bank
from .config import FactoryConfig, from_dict
from .diffusion import add_noise, alphas_cumprod, ddim_sample


def build_unet(cfg: FactoryConfig):
    from diffusers import UNet2DConditionModel

    c = cfg.teacher
    n = len(c.block_out_channels)
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
    up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)
    return UNet2DConditionModel(
        sample_size=cfg.data.size // 8, in_channels=4, out_channels=4,
        layers_per_block=c.layers_per_block, block_out_channels=tuple(c.block_out_channels),
        down_block_types=down, up_block_types=up, cross_attention_dim=cfg.text.width,
        attention_head_dim=c.attention_heads,  # diffusers' name; it is the number of heads
        norm_num_groups=32,
    )


def load_teacher(run_dir: Path, device="cpu"):
    ck = load_checkpoint(Path(run_dir) / "teacher" / "teacher.pt")
    if ck is None:
        raise FileNotFoundError(f"no teacher checkpoint in {run_dir}/teacher: run the `teacher` stage first")
    cfg = from_dict(ck["config"])
    unet = build_unet(cfg)
    unet.load_state_dict(ck["ema"])
    return unet.to(device).eval().requires_grad_(False)


@torch.no_grad()
def sample_grid(cfg, unet, vae_and_scale, prompts, path: Path, steps=25, guidance=3.0, seeds=(0, 1, 2, 3),
                device="cpu", sampler=None):
    """Rows = prompts, columns = seeds. `sampler(noise, cond, uncond)` defaults to the teacher's DDIM."""
    vae, scale = vae_and_scale
    cond = encode_prompts(cfg, prompts, device)
    uncond = encode_prompts(cfg, [""], device)
    rows = []
    for p_i in range(len(prompts)):
        noise = torch.stack([torch.randn(4, cfg.data.size // 8, cfg.data.size // 8,
                                         generator=torch.Generator().manual_seed(s)) for s in seeds]).to(device)
        c = cond[p_i:p_i + 1].expand(len(seeds), -1, -1)
        u = uncond.expand(len(seeds), -1, -1)
        if sampler is None:
            z = ddim_sample(unet, noise, c, u, steps, guidance)
        else:
            z = sampler(noise, c, u)
        rows.append(to_uint8(vae.decode(z.float() / scale).sample))
    save_grid(np.concatenate(rows), path, cols=len(seeds))


def train_teacher(cfg: FactoryConfig) -> dict:
    from .autoencoder import load_autoencoder

    run = Path(cfg.run_dir) / "teacher"
    acc = make_accelerator(bf16=True)
    dev = acc.device
    ds, latents, bank = latents_and_bank(cfg, dev)
    emb = bank["embeddings"].to(dev)
    cap_index = bank["index"].to(dev)
    uncond = bank["uncond"].to(dev)
    train_idx = torch.tensor(ds.indices("train"), device=dev)
    unet = build_unet(cfg)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.teacher.lr, weight_decay=0.01)
    ema = EMA(unet, cfg.teacher.ema_decay)
    step, finished = resume(run / "teacher.pt", "teacher", unet, ema, opt)
    if finished is not None:
        return finished
    unet, opt = acc.prepare(unet, opt)
    ema.model.to(dev)
    ab = alphas_cumprod(dev).float()
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 1000 + acc.process_index + step)
    timer = Timer(cfg.teacher.time_budget_s, cfg.teacher.checkpoint_every_s)
    c = cfg.teacher
    bar = tqdm(total=c.max_steps, initial=step, desc="teacher", disable=not acc.is_local_main_process)
    vae = load_autoencoder(cfg.run_dir, dev)
    losses = []

    def save(final=False, report=None):
        state = checkpoint_state(cfg, step, model=acc.unwrap_model(unet).state_dict(), ema=ema.model.state_dict(),
                                 opt=opt.state_dict())
        if final:
            state.update(final=True, report=report)
        if acc.is_main_process:
            save_checkpoint(run / "teacher.pt", state)

    while step < c.max_steps and not timer.out_of_time():
        lr = c.lr * min(1.0, (step + 1) / 500) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step / c.max_steps, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        b = c.batch_size
        idx = train_idx[torch.randint(len(train_idx), (b,), device=dev, generator=gen)]
        which = torch.randint(cap_index.shape[1], (b,), device=dev, generator=gen)
        cond = emb[cap_index[idx, which]].float()
        drop = torch.rand(b, device=dev, generator=gen) < c.caption_dropout
        cond = torch.where(drop.view(-1, 1, 1), uncond.float().expand_as(cond), cond)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, device=dev, generator=gen)
        t = torch.randint(0, 1000, (b,), device=dev, generator=gen)
        x_t = add_noise(x0, noise, t, ab)
        with acc.autocast():
            pred = unet(x_t, t, encoder_hidden_states=cond).sample
        loss = F.mse_loss(pred.float(), noise)
        acc.backward(loss)
        acc.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(acc.unwrap_model(unet), step)
        step += 1
        bar.update(1)
        if step % 25 == 0:  # .item() syncs the device: sample the loss, not every step
            losses.append(loss.item())
        if step % 100 == 0 and losses:
            bar.set_postfix(loss=f"{np.mean(losses[-16:]):.4f}")
        if acc.is_main_process and step % c.sample_every_steps == 0:
            sample_grid(cfg, ema.model, vae, SHOWCASE_PROMPTS[:4], run / f"samples_{step:07d}.png", device=dev)
        if timer.due():
            save()
    bar.close()
    recent = losses[-16:]
    report = {"steps": step, "train_seconds": round(timer.elapsed(), 1), "batch_size": c.batch_size,
              "final_loss": float(np.mean(recent)) if recent else None,
              "params": sum(p.numel() for p in ema.model.parameters()), "device": str(dev)}
    if acc.is_main_process:
        sample_grid(cfg, ema.model, vae, SHOWCASE_PROMPTS, run / "samples_final.png", device=dev)
        write_json(run / "report.json", report)
    save(final=True, report=report)
    return report
