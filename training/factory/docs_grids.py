"""Sample grids for docs/: the teacher on common prompts, and teacher (N steps) vs student (1 step).

Same prompts, same seeds, same decoder: the only difference between the columns is the sampler.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import save_grid, to_uint8
from .conditioning import SHOWCASE_PROMPTS, encode_prompts
from .config import FactoryConfig
from .diffusion import ddim_sample, one_step
from .eval_prompts import seeded_noise

DOCS = Path(__file__).resolve().parents[2] / "docs"


def label_strip(text: str, width: int, height: int = 22) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(im).text((4, 5), text, fill="black")
    return np.asarray(im)


@torch.no_grad()
def make_docs_grids(cfg: FactoryConfig, student_variant: str, steps: int = 25, guidance: float | None = None,
                    seeds=(0, 1, 2)):
    """guidance: the teacher's; by default the one the student was distilled towards (like with like)."""
    from PIL import Image

    from .autoencoder import load_autoencoder
    from .distill import distilled_guidance, load_student
    from .teacher import load_teacher

    vae, scale = load_autoencoder(cfg.run_dir)
    teacher = load_teacher(cfg.run_dir)
    student, student_ck = load_student(cfg.run_dir, student_variant)
    guidance = distilled_guidance(student_ck) if guidance is None else guidance
    cond_all = encode_prompts(cfg, SHOWCASE_PROMPTS)
    uncond = encode_prompts(cfg, [""])
    rows_t, rows_s = [], []
    for i in range(len(SHOWCASE_PROMPTS)):
        noise = seeded_noise(seeds)
        c = cond_all[i:i + 1].expand(len(seeds), -1, -1)
        zt = ddim_sample(teacher, noise, c, uncond.expand(len(seeds), -1, -1), steps, guidance)
        zs = one_step(student, noise, c, cfg.distill.conditioning_timestep)
        rows_t.append(to_uint8(vae.decode(zt / scale).sample))
        rows_s.append(to_uint8(vae.decode(zs / scale).sample))
    DOCS.mkdir(exist_ok=True)
    save_grid(np.concatenate(rows_t), DOCS / "samples-teacher.png", cols=len(seeds))
    # side by side: per prompt row, teacher seeds | gap | student seeds, with a caption strip on top
    s = cfg.data.size
    gap = np.full((s, 12, 3), 255, np.uint8)
    lines = []
    for p, t, st in zip(SHOWCASE_PROMPTS, rows_t, rows_s):
        row = np.concatenate([*t, gap, *st], axis=1)
        lines.append(label_strip(f'"{p}"', row.shape[1]))
        lines.append(row)
    head = label_strip(f"teacher: DDIM {steps} steps, guidance {guidance} ({steps * 2} UNet calls)".ljust(60)
                       + f"student ({student_variant}): 1 UNet call", lines[1].shape[1])
    Image.fromarray(np.concatenate([head] + lines)).save(DOCS / "teacher-vs-student.png")
    print(f"docs: wrote {DOCS / 'samples-teacher.png'} and {DOCS / 'teacher-vs-student.png'}")
