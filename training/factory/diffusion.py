"""The DDPM schedule, the x0 rule and the DDIM sampler shared by teacher, student and evaluation.

Schedule: Stable-Diffusion's scaled-linear betas 0.00085 -> 0.012 over 1000 steps, so the
constants in the manifest (alpha_bar_999 = 0.0046601) match the published one-step models.
"""
from __future__ import annotations

import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012
# The small t of the diagnostic teacher step after a student's one step (grain stage, refined eval rows)
POLISH_T = 100


def alphas_cumprod(device=None, beta_start: float = BETA_START, beta_end: float = BETA_END,
                   num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> torch.Tensor:
    """ᾱ_t for every training timestep: scaled-linear betas (linspace of sqrt(beta), squared), in
    float64. Ours by default; a published pipeline's scheduler config gives its own (convert_diffusers).
    The app's twin: workers/pipeline/schedule.ts."""
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(device)


def euler_sigma(alpha_bar: float) -> float:
    """sigma of the Euler (k-diffusion) form at cumulative alpha: sqrt((1 - alpha_bar) / alpha_bar)."""
    return ((1 - alpha_bar) / alpha_bar) ** 0.5


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    a = ab[t].to(x0.dtype).view(-1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """x0 = (x_t - sqrt(1 - a_t) * eps) / sqrt(a_t), in float64 like the DMD2 reference (main/utils.py)."""
    a = ab[t].view(-1, 1, 1, 1)
    out = (x_t.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()
    return out.to(x_t.dtype)


def guided_eps(unet, x_t, t, cond, uncond, guidance: float):
    """Classifier-free guidance: eps_u + w (eps_c - eps_u); one batched call."""
    if guidance == 1.0:
        return unet(x_t, t, encoder_hidden_states=cond).sample
    n = x_t.shape[0]
    out = unet(torch.cat([x_t, x_t]), torch.cat([t, t]), encoder_hidden_states=torch.cat([uncond, cond])).sample
    eps_u, eps_c = out[:n], out[n:]
    return eps_u + guidance * (eps_c - eps_u)


def ddim_timesteps(steps: int) -> list[int]:
    """Trailing spacing: always starts at t = 999, so few-step sampling starts from pure noise."""
    return [int(round(NUM_TRAIN_TIMESTEPS - 1 - i * NUM_TRAIN_TIMESTEPS / steps)) for i in range(steps)]


@torch.no_grad()
def ddim_sample(unet, noise, cond, uncond, steps: int = 25, guidance: float = 3.0) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) with CFG. noise: unit Gaussian latents; returns x0 latents."""
    ab = alphas_cumprod(noise.device)
    x = noise
    ts = ddim_timesteps(steps)
    for i, t in enumerate(ts):
        tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
        eps = guided_eps(unet, x, tt, cond, uncond, guidance).to(x.dtype)
        x0 = x0_from_eps(x, eps, tt, ab)
        if i + 1 < len(ts):
            a_next = ab[ts[i + 1]].to(x.dtype)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        else:
            x = x0
    return x


def one_step(generator, noise, cond, conditioning_timestep: int = 999) -> torch.Tensor:
    """The student's rule: unit noise at the conditioning timestep, one call, x0 by the DDPM relation."""
    ab = alphas_cumprod(noise.device)
    t = torch.full((noise.shape[0],), conditioning_timestep, device=noise.device, dtype=torch.long)
    eps = generator(noise, t, encoder_hidden_states=cond).sample
    return x0_from_eps(noise, eps.to(noise.dtype), t, ab)


def teacher_step(unet, x0, cond, uncond, t, guidance: float, noise) -> torch.Tensor:
    """One teacher denoising step from a clean estimate: noise x0 to timestep t (an int, or one per
    sample), read back the teacher's guided x0. At small t it keeps the layout and removes what the
    teacher treats as noise."""
    ab = alphas_cumprod(x0.device)
    tt = t if torch.is_tensor(t) else torch.full((x0.shape[0],), t, device=x0.device, dtype=torch.long)
    x_t = add_noise(x0, noise, tt, ab.float())
    return x0_from_eps(x_t, guided_eps(unet, x_t, tt, cond, uncond, guidance).float(), tt, ab)


def seeded_noise(seeds, shape=(4, 16, 16)) -> torch.Tensor:
    """One standard-normal latent per seed, each from its own generator: the same seed gives the same
    noise whatever the batch (evaluation, grain, docs grids and the decoder's student targets)."""
    return torch.stack([torch.randn(*shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
