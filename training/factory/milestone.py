"""Milestone checkpoints: the weights a later session continues from, committed as safetensors.

A milestone holds EMA weights (teacher in fp16, the small autoencoder in fp32) and the config and
reports in its metadata. `restore` turns it back into the run folder's finished checkpoints and
re-encodes the latents, so every later stage (distill, eval, export) runs as if training had just
finished here.

  python -m factory restore --set '{"run_dir": "runs/full"}'   # from checkpoints/milestone.safetensors
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import checkpoint_state, read_bundle, save_checkpoint, write_bundle, write_json
from .config import FactoryConfig, from_dict, to_dict

MILESTONE = Path(__file__).resolve().parent.parent / "checkpoints" / "milestone.safetensors"


def split(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}


def save_milestone(cfg: FactoryConfig, path: Path = MILESTONE):
    run = Path(cfg.run_dir)
    ae = torch.load(run / "ae" / "ae.pt", map_location="cpu", weights_only=False)
    te = torch.load(run / "teacher" / "teacher.pt", map_location="cpu", weights_only=False)
    tensors = {**{"ae." + k: v.float() for k, v in ae["ema"].items()},
               **{"teacher." + k: v.half() for k, v in te["ema"].items()}}
    meta = {"config": to_dict(cfg), "ae_report": ae["report"], "teacher_report": te["report"]}
    write_bundle(path, tensors, meta)


def restore_milestone(cfg: FactoryConfig, path: Path = MILESTONE, students: dict | None = None):
    """Write runs/<run>/ae/ae.pt and teacher/teacher.pt (marked final) and latents.npy from a milestone.

    `students` optionally maps a variant name to a student safetensors file (prefix 'student.')."""
    from .autoencoder import build_autoencoder, finish_autoencoder
    from .dataset import EmojiDataset
    from .teacher import build_unet

    tensors, meta = read_bundle(path)
    trained = from_dict(meta["config"])
    trained.run_dir, trained.data = cfg.run_dir, cfg.data  # where to write, and where the data is here
    run = Path(cfg.run_dir)
    vae = build_autoencoder(trained)
    vae.load_state_dict(split(tensors, "ae."))
    ds = EmojiDataset(Path(cfg.data.folder))
    report = dict(meta["ae_report"])
    (run / "ae").mkdir(parents=True, exist_ok=True)
    # Re-encode latents with the restored encoder; the trained scaling factor is kept as it was.
    finish = finish_autoencoder(trained, vae, ds.images, np.array(ds.indices("train")),
                                np.array(ds.indices("val"))[:256], torch.device("cpu"), report["steps"],
                                report["train_seconds"], scaling=report["scaling_factor"])
    report["val_psnr_db_mean_restored"] = finish["val_psnr_db_mean"]
    save_checkpoint(run / "ae" / "ae.pt", checkpoint_state(trained, report["steps"], ema=vae.state_dict(), model=vae.state_dict(),
                                                           final=True, report=report, scaling_factor=report["scaling_factor"]))
    unet = build_unet(trained)
    unet.load_state_dict(split(tensors, "teacher."))
    save_checkpoint(run / "teacher" / "teacher.pt", checkpoint_state(trained, meta["teacher_report"]["steps"], ema=unet.state_dict(),
                                                                     model=unet.state_dict(), final=True, report=meta["teacher_report"]))
    write_json(run / "teacher" / "report.json", meta["teacher_report"])
    for variant, spath in (students or {}).items():
        st, smeta = read_bundle(Path(spath))
        s = build_unet(trained)
        s.load_state_dict(split(st, "student."))
        save_checkpoint(run / "distill" / variant / "student.pt",
                        checkpoint_state(trained, smeta["report"]["generator_steps"], ema=s.state_dict(), variant=variant,
                                         final=True, report=smeta["report"]))
        write_json(run / "distill" / variant / "report.json", smeta["report"])
    print(f"restored milestone {path.name} into {run} (AE PSNR here {finish['val_psnr_db_mean']:.2f} dB)")
