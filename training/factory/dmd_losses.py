"""DMD's and DMD2's losses, each a pure function of its networks and a random generator.

  distribution_matching_loss  DMD's DM gradient (p_real - p_fake) / mean|p_real|, applied through
                              0.5 * MSE(x, (x - grad).detach()) so dL/dx is proportional to it
  polish_loss                 the same rule with the teacher alone at small t (no fake-score term)
  fake_score_loss             eps-MSE of the online fake score on detached generator outputs
  gan_logits + BottleneckHead DMD2's diffusion GAN: a head on the fake score's mid-block features

The training loop that combines them (variants, TTUR, schedules) is `distill.py`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .diffusion import add_noise, guided_eps, teacher_step, x0_from_eps


class BottleneckHead(nn.Module):
    """DMD2's GAN classifier on the fake score's bottleneck features -> one logit per sample."""

    def __init__(self, channels: int):
        super().__init__()
        groups = 32 if channels % 32 == 0 else 8
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1),
        )

    def forward(self, h):
        return self.net(h.float()).squeeze(1)


class BottleneckTap:
    """Captures the UNet mid block's output during a forward pass."""

    def __init__(self, unet):
        self.features = None
        unet.mid_block.register_forward_hook(lambda m, i, o: setattr(self, "features", o))


def distribution_matching_loss(x, cond, uncond, real_score, fake_score, ab, guidance, t_min, t_max, gen):
    """DMD's DM gradient applied through the 0.5*MSE(x, x - grad) trick. Returns (loss, log)."""
    b = x.shape[0]
    with torch.no_grad():
        t = torch.randint(t_min, t_max + 1, (b,), device=x.device, generator=gen)
        noise = torch.randn(x.shape, device=x.device, generator=gen)
        x_t = add_noise(x.detach().float(), noise, t, ab.float())
        eps_real = guided_eps(real_score, x_t, t, cond, uncond, guidance).float()
        eps_fake = fake_score(x_t, t, encoder_hidden_states=cond).sample.float()
        x0_real = x0_from_eps(x_t, eps_real, t, ab)
        x0_fake = x0_from_eps(x_t, eps_fake, t, ab)
        p_real = x.detach().float() - x0_real
        p_fake = x.detach().float() - x0_fake
        weight = p_real.abs().mean(dim=[1, 2, 3], keepdim=True)
        grad = torch.nan_to_num((p_real - p_fake) / weight)
    loss = 0.5 * F.mse_loss(x.float(), (x.float() - grad).detach())
    return loss, {"dm_grad_norm": grad.norm().item() / b}


def polish_loss(x, cond, uncond, real_score, guidance, t_min, t_max, gen):
    """Teacher polish: the gradient x - x0_real(x_t) at small t (the DM gradient without its fake-score
    term), normalised per sample like DM's and applied through the same 0.5*MSE trick. Its fixed points
    are outputs the teacher's denoiser leaves unchanged: no grain for it to remove."""
    b = x.shape[0]
    with torch.no_grad():
        t = torch.randint(t_min, t_max + 1, (b,), device=x.device, generator=gen)
        noise = torch.randn(x.shape, device=x.device, generator=gen)
        pull = x.detach().float() - teacher_step(real_score, x.detach().float(), cond, uncond, t, guidance, noise)
        size = pull.abs().mean(dim=[1, 2, 3], keepdim=True)
        grad = torch.nan_to_num(pull / size)
    # the loss value is ~constant by construction (normalised); the pull's size is what shrinks
    return 0.5 * F.mse_loss(x.float(), (x.float() - grad).detach()), {"polish_pull": size.mean().item()}


def fake_score_loss(fake_score, x, cond, ab, gen):
    """Denoising (eps-MSE) loss of the fake score on detached generator outputs, t over the full range."""
    t = torch.randint(0, 1000, (x.shape[0],), device=x.device, generator=gen)
    noise = torch.randn(x.shape, device=x.device, generator=gen)
    x_t = add_noise(x.detach().float(), noise, t, ab.float())
    return F.mse_loss(fake_score(x_t, t, encoder_hidden_states=cond).sample.float(), noise)


def gan_logits(fake_score, tap, head, x, cond, ab, gen):
    """Noise x at a random t (DMD2's diffusion GAN), run the fake score, classify its bottleneck."""
    t = torch.randint(0, 1000, (x.shape[0],), device=x.device, generator=gen)
    noise = torch.randn(x.shape, device=x.device, generator=gen)
    x_t = add_noise(x.float(), noise, t, ab.float())
    fake_score(x_t, t, encoder_hidden_states=cond)
    return head(tap.features)
