"""Diagnostic: the students' high-frequency latent grain, measured.

One-step students' images look mottled where the teacher's are flat. This stage puts numbers on it,
for real training latents, the teacher's DDIM outputs and each student's one-step outputs (same
noise and prompts), and for each student's output after one teacher denoising step at a small t
("polished"):
- grain: the latent's energy above a 3x3 box blur;
- teacher correction: the mean change that one teacher step at t=100 makes (real latents: its floor).
If polishing brings a student to the teacher's level, the mottling is something the teacher knows how
to remove (what `distill.polish_weight` trains for). Writes runs/<run>/grain/report.json and, per
student, a grid: teacher | student | polished.

    python -m factory grain --config configs/full-cpu.json --set '{"eval": {"students": ["dmd-g30"]}}'
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .common import save_grid, to_uint8, write_json
from .config import FactoryConfig
from .diffusion import POLISH_T, ddim_sample, one_step, teacher_step
from .eval_prompts import seeded_noise


def grain(x: torch.Tensor) -> float:
    """Mean squared difference between a latent and its 3x3 box blur."""
    return ((x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)) ** 2).mean().item()


@torch.no_grad()
def measure_grain(cfg: FactoryConfig, n: int = 64, steps: int = 25, guidance: float = 3.5) -> dict:
    from .autoencoder import load_autoencoder
    from .conditioning import latents_and_bank
    from .distill import load_student, shipped_student_name
    from .teacher import load_teacher

    ds, latents, bank = latents_and_bank(cfg, "cpu")
    train = torch.tensor(ds.indices("train"))
    train = train[torch.linspace(0, len(train) - 1, n).long()]  # spread over concepts (sorted by concept)
    cond = bank["embeddings"][bank["index"][train, 0]].float()
    uncond = bank["uncond"].float().expand(n, -1, -1)
    noise = seeded_noise(range(n), tuple(latents.shape[1:]))
    teacher = load_teacher(cfg.run_dir)
    polish_noise = seeded_noise(range(10_000, 10_000 + n), tuple(latents.shape[1:]))
    polish = lambda x: teacher_step(teacher, x, cond, uncond, POLISH_T, guidance, polish_noise)  # noqa: E731

    z_teacher = ddim_sample(teacher, noise, cond, uncond, steps, guidance)

    def row(z):
        """grain, and how much one teacher step changes the latent (real latents give its floor)"""
        return {"grain": grain(z), "teacher_correction": (z - polish(z)).abs().mean().item()}

    report = {"n": n, "polish_t": POLISH_T, "teacher": f"{steps}x{guidance:g}",
              "rows": {"real (train latents)": row(latents[train]), f"teacher@{steps}x{guidance:g}": row(z_teacher)}}
    vae, scale = load_autoencoder(cfg.run_dir)
    decode = lambda z: to_uint8(vae.decode(z / scale).sample)  # noqa: E731
    out = Path(cfg.run_dir) / "grain"
    out.mkdir(parents=True, exist_ok=True)
    for name in cfg.eval.students or (shipped_student_name(cfg),):
        student, _ = load_student(cfg.run_dir, name)
        z = one_step(student, noise, cond, cfg.distill.conditioning_timestep)
        zp = polish(z)
        report["rows"][f"student:{name}"] = row(z)
        report["rows"][f"student:{name} polished"] = row(zp)
        rows = [decode(v[:8]) for v in (z_teacher, z, zp)]
        save_grid(np.concatenate([r[i:i + 1] for i in range(8) for r in rows]), out / f"{name}.png", cols=6)
    write_json(out / "report.json", report)
    print(f"grain: {'':40s} grain  teacher correction at t={POLISH_T}")
    for k, v in report["rows"].items():
        print(f"grain: {k:40s} {v['grain']:.4f} {v['teacher_correction']:.4f}")
    return report
