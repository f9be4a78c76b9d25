"""Diagnostic: the students' high-frequency latent grain, measured.

One-step students' images look mottled where the teacher's are flat. This stage puts numbers on it,
for real training latents, the teacher's DDIM outputs and each student's one-step outputs (same
noise and prompts), and for each student's output after one teacher denoising step at a small t
("polished"):
- grain: the latent's energy above a 3x3 box blur;
- teacher correction: the mean change that one teacher step at t=100 makes (real latents: its floor);
- image grain (`image_grain`): what a user sees, in the decoded images, with the autoencoder's
  decoder and (once the `decoder` stage ran) the browser decoder.
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
from .diffusion import POLISH_T, ddim_sample, one_step, seeded_noise, teacher_step


def grain(x: torch.Tensor) -> float:
    """Mean squared difference between a latent and its 3x3 box blur."""
    return ((x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)) ** 2).mean().item()


# Image grain: what a user sees. Emoji art is flat colour fills bounded by strong edges; the
# student's latent errors decode to blotches of a few pixels up to a latent cell (8 px) inside
# those fills. So: mask out edges (a gradient above EDGE, dilated by 2 px), and measure how far
# the remaining pixels stray from the mean of the flat pixels around them (9x9: one latent cell
# and its border). Blotches are low-contrast, far below an outline's gradient, so they stay in.
EDGE = 0.12  # per-pixel gradient (central difference / 2) in [0, 1] units: a 0.24 step
WINDOW = 9


def image_grain(images: torch.Tensor) -> torch.Tensor:
    """Per image: RMS deviation, in 0-255 levels, of flat pixels from their flat neighbourhood's mean.

    `images`: [N, 3, H, W] in [-1, 1] (a decoder's output) or uint8 NHWC (a generated set)."""
    if images.dtype == torch.uint8:
        x = images.permute(0, 3, 1, 2).float() / 255
    else:
        x = (images.float().clamp(-1, 1) + 1) / 2
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2
    edge = (gx.abs().amax(1, keepdim=True) > EDGE) | (gy.abs().amax(1, keepdim=True) > EDGE)
    flat = 1.0 - F.max_pool2d(edge.float(), 5, 1, 2)
    box = lambda t: F.avg_pool2d(t, WINDOW, 1, WINDOW // 2, count_include_pad=False)  # noqa: E731
    mean = box(x * flat) / box(flat).clamp_min(1e-6)
    dev = ((x - mean) ** 2).sum(1, keepdim=True) * flat
    msd = dev.flatten(1).sum(1) / (3 * flat.flatten(1).sum(1)).clamp_min(1.0)
    return msd.sqrt() * 255


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
    vae, scale = load_autoencoder(cfg.run_dir)
    decoders = {"autoencoder": lambda z: vae.decode(z / scale).sample}
    try:
        from .browser_decoder import load_browser_decoder

        browser = load_browser_decoder(cfg.run_dir, name=cfg.decoder.name)
        decoders["browser"] = lambda z: browser(z / scale)
    except FileNotFoundError:
        pass

    def row(z):
        """latent grain, how much one teacher step changes the latent (real latents give its floor),
        and the decoded images' grain with each decoder"""
        r = {"grain": grain(z), "teacher_correction": (z - polish(z)).abs().mean().item()}
        for name, decode in decoders.items():
            r[f"image_grain_{name}"] = image_grain(decode(z)).mean().item()
        return r

    real_images = torch.from_numpy(np.ascontiguousarray(ds.images[train.numpy()]))
    report = {"n": n, "polish_t": POLISH_T, "teacher": f"{steps}x{guidance:g}",
              "real_images_image_grain": image_grain(real_images).mean().item(),
              "rows": {"real (train latents)": row(latents[train]), f"teacher@{steps}x{guidance:g}": row(z_teacher)}}
    out = Path(cfg.run_dir) / "grain"
    out.mkdir(parents=True, exist_ok=True)
    for name in cfg.eval.students or (shipped_student_name(cfg),):
        student, _ = load_student(cfg.run_dir, name)
        z = one_step(student, noise, cond, cfg.distill.conditioning_timestep)
        zp = polish(z)
        report["rows"][f"student:{name}"] = row(z)
        report["rows"][f"student:{name} polished"] = row(zp)
        for dec_name, decode in decoders.items():
            rows = [to_uint8(decode(v[:8])) for v in (z_teacher, z, zp)]
            save_grid(np.concatenate([r[i:i + 1] for i in range(8) for r in rows]), out / f"{name}-{dec_name}.png", cols=6)
    write_json(out / "report.json", report)
    cols = ["grain", "teacher_correction"] + [f"image_grain_{d}" for d in decoders]
    print(f"grain: real images' image grain {report['real_images_image_grain']:.2f} (0-255 levels)")
    print(f"grain: {'':40s} " + "  ".join(cols))
    for k, v in report["rows"].items():
        print(f"grain: {k:40s} " + "  ".join(f"{v[c]:.4f}" for c in cols))
    return report
