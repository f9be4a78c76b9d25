"""The shipped one-step student's errors, as training data for a decoder robust to them.

  student_samples    the student's latents for train prompts and seeded noises, and the same latents
                     after one teacher step at t=100 (which removes the grain and little else)
  student_residuals  the high-pass of what that step removes: the grain alone, to add to real latents
  student_targets    (student latent, image of its polished latent): the student's picture without grain
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import FactoryConfig


def high_pass(z: torch.Tensor) -> torch.Tensor:
    """A latent minus its 3x3 box blur: the part that decodes to pixel-scale colour noise."""
    return z - F.avg_pool2d(z, 3, 1, 1, count_include_pad=False)


@torch.no_grad()
def student_samples(cfg: FactoryConfig, n: int, device="cpu") -> dict:
    """The shipped student's outputs for n train prompts and seeded noises, and the same outputs
    after one teacher denoising step at t=100 (scaled latent units): {"student", "polished"}.

    One teacher step at a small t removes the student's grain (grain stage: the polished student's
    image grain is the teacher's) and little else, so (student, polished) pairs the student's
    latent with the clean latent it should have drawn. Cached in runs/<run>/decoder/samples_<n>.pt."""
    path = Path(cfg.run_dir) / "decoder" / f"samples_{n}.pt"
    if path.exists():
        return torch.load(path)
    from .conditioning import latents_and_bank
    from .diffusion import POLISH_T, one_step, seeded_noise, teacher_step
    from .distill import load_student, shipped_student_name
    from .teacher import load_teacher

    ds, latents, bank = latents_and_bank(cfg, "cpu")
    train = torch.tensor(ds.indices("train"))
    pick = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed))[:n]]
    teacher = load_teacher(cfg.run_dir, device)
    student, _ = load_student(cfg.run_dir, shipped_student_name(cfg), device)
    shape = tuple(latents.shape[1:])
    zs, ps = [], []
    for i in tqdm(range(0, n, 64), desc="decoder: student samples"):
        idx = pick[i:i + 64]
        cond = bank["embeddings"][bank["index"][idx, 0]].float().to(device)
        uncond = bank["uncond"].float().to(device).expand(len(idx), -1, -1)
        noise = seeded_noise(range(50_000 + i, 50_000 + i + len(idx)), shape).to(device)
        again = seeded_noise(range(90_000 + i, 90_000 + i + len(idx)), shape).to(device)
        z = one_step(student, noise, cond, cfg.distill.conditioning_timestep).float()
        zs.append(z.cpu())
        ps.append(teacher_step(teacher, z, cond, uncond, POLISH_T, cfg.decoder.residual_guidance, again).float().cpu())
    out = {"student": torch.cat(zs), "polished": torch.cat(ps)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def student_residuals(cfg: FactoryConfig, n: int, device="cpu") -> torch.Tensor:
    """The shipped student's grain, in scaled latent units: the high-pass of what one teacher step
    at t=100 removes from its output (`student_samples`).

    Why this and not student - teacher for the same noise: that difference is mostly content (the
    two draw different images; its high-pass rms, 0.39, is as large as real latents' detail), and a
    decoder taught to ignore it blurs real detail."""
    s = student_samples(cfg, n, device)
    res = high_pass(s["student"] - s["polished"])
    print(f"decoder: {n} student grain residuals, rms {res.pow(2).mean().sqrt():.4f} (scaled latent units)")
    return res


_TARGETS: dict = {}  # (run_dir, n) -> student_targets' result: decoded once per process (gpu/decoder_job.py trains several)


@torch.no_grad()
def student_targets(cfg: FactoryConfig, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(student latents, images) for training on the student's own outputs: the image is what the
    autoencoder's decoder draws from the polished latent, i.e. the student's picture without its
    grain. The decoder then learns student latent -> clean image directly, on the joint
    distribution of content and error that the residual augmentation only approximates.
    Images are kept as uint8 (n x 128 x 128 x 3)."""
    from .autoencoder import load_autoencoder
    from .common import to_uint8

    key = (str(cfg.run_dir), n)
    if key not in _TARGETS:
        s = student_samples(cfg, n)
        vae, scale = load_autoencoder(cfg.run_dir)
        imgs = [to_uint8(vae.decode(s["polished"][i:i + 128] / scale).sample) for i in range(0, n, 128)]
        _TARGETS[key] = (s["student"], torch.from_numpy(np.concatenate(imgs)))
    return _TARGETS[key]
