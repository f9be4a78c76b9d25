"""Sample grids for docs/: the teacher on common prompts, teacher (N steps) vs student (1 step), and
(once the decoder stage ran) the student through the autoencoder's decoder vs the browser decoder.

Same prompts, same seeds, same decoder within a grid: the only difference between its columns is
the sampler (or, in the pipeline grid, the parts around the UNet). The shipped pipeline is the
export's (export.decoder, export.text_weights).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import save_grid, to_uint8
from .conditioning import SHOWCASE_PROMPTS
from .config import FactoryConfig
from .diffusion import ddim_sample, one_step, seeded_noise

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
    import copy

    from .distill import distilled_guidance, load_student
    from .evaluate import pipeline_parts
    from .pipeline_spec import export_pipeline
    from .teacher import load_teacher

    shipped = copy.deepcopy(cfg)
    pipe = export_pipeline(cfg.export)
    for k, v in pipe.items():
        setattr(shipped.eval, k, v)
    enc, decode = pipeline_parts(shipped)
    teacher = load_teacher(cfg.run_dir)
    student, student_ck = load_student(cfg.run_dir, student_variant)
    guidance = distilled_guidance(student_ck) if guidance is None else guidance
    cond_all = enc.encode(list(SHOWCASE_PROMPTS))
    uncond = enc.encode([""])
    zs_all, rows_t, rows_s = [], [], []
    for i in range(len(SHOWCASE_PROMPTS)):
        noise = seeded_noise(seeds)
        c = cond_all[i:i + 1].expand(len(seeds), -1, -1)
        zt = ddim_sample(teacher, noise, c, uncond.expand(len(seeds), -1, -1), steps, guidance)
        zs = one_step(student, noise, c, cfg.distill.conditioning_timestep)
        zs_all.append(zs)
        rows_t.append(to_uint8(decode(zt)))
        rows_s.append(to_uint8(decode(zs)))
    DOCS.mkdir(exist_ok=True)
    save_grid(np.concatenate(rows_t), DOCS / "samples-teacher.png", cols=len(seeds))
    side_by_side(rows_t, rows_s, f"teacher: DDIM {steps} steps, guidance {guidance} ({steps * 2} UNet calls)",
                 f"student ({student_variant}): 1 UNet call", cfg.data.size, DOCS / "teacher-vs-student.png")
    wrote = ["samples-teacher.png", "teacher-vs-student.png"]
    other = "browser" if pipe["decoder"] == "autoencoder" else "autoencoder"
    try:
        shipped.eval.decoder = other
        _, decode_other = pipeline_parts(shipped)
    except FileNotFoundError:  # no browser decoder trained in this run
        decode_other = None
    if decode_other is not None:
        rows_o = [to_uint8(decode_other(z)) for z in zs_all]
        side_by_side(rows_s, rows_o, f"student, {pipe['decoder']} decoder (shipped)", f"student, {other} decoder",
                     cfg.data.size, DOCS / "decoders.png")
        wrote.append("decoders.png")
    print(f"docs: wrote {', '.join(wrote)} in {DOCS}")


def side_by_side(left: list, right: list, left_title: str, right_title: str, size: int, path: Path):
    """Per prompt row: left seeds | gap | right seeds, each row under its prompt, titles on top."""
    from PIL import Image

    gap = np.full((size, 12, 3), 255, np.uint8)
    lines = []
    for p, a, b in zip(SHOWCASE_PROMPTS, left, right):
        row = np.concatenate([*a, gap, *b], axis=1)
        lines.append(label_strip(f'"{p}"', row.shape[1]))
        lines.append(row)
    head = label_strip(left_title.ljust(60) + right_title, lines[1].shape[1])
    Image.fromarray(np.concatenate([head] + lines)).save(path)
