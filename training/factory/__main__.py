"""`python -m factory <stage> --config configs/full.json`

Stages, in order: data, ae, teacher, distill, classifier, eval, export, docs.  `all` runs every stage;
each stage skips work that a finished checkpoint already holds and resumes an interrupted one.
`milestone` saves the AE + teacher weights to checkpoints/milestone.safetensors; `restore` turns
that committed milestone back into a run folder, so distill/eval/export continue without retraining.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STAGES = ("data", "ae", "teacher", "distill", "classifier", "eval", "export", "docs")


def run_stage(stage: str, cfg):
    if stage == "data":
        from .dataset import build

        d = cfg.data
        if (Path(d.folder) / "images.npy").exists():
            print(f"data: {d.folder} exists, skipping (delete it to rebuild)")
            return
        meta = build(Path(d.folder), Path(d.cache), d.size, tuple(d.styles), d.limit, d.val_fraction)
        print(f"data: {len(meta['images'])} images, {len(meta['concepts'])} concepts")
    elif stage == "restore":
        from .milestone import restore_milestone

        restore_milestone(cfg)
    elif stage == "milestone":
        from .milestone import save_milestone

        save_milestone(cfg)
    elif stage == "docs":
        from .docs_grids import make_docs_grids

        from .distill import shipped_student_name

        make_docs_grids(cfg, shipped_student_name(cfg))
    elif stage == "ae":
        from .autoencoder import train_autoencoder

        train_autoencoder(cfg)
    elif stage == "teacher":
        from .teacher import train_teacher

        train_teacher(cfg)
    elif stage == "distill":
        from .distill import train_student

        train_student(cfg)
    elif stage == "classifier":
        from .classifier import train_classifier

        train_classifier(cfg)
    elif stage == "eval":
        from .evaluate import evaluate_all

        evaluate_all(cfg)
    elif stage == "export":
        from .export import export_model

        export_model(cfg)
    else:
        raise SystemExit(f"unknown stage '{stage}'; choose from {', '.join(STAGES)} or all")


def main(argv=None):
    from .config import load_config

    p = argparse.ArgumentParser(prog="python -m factory", description=__doc__.splitlines()[0])
    p.add_argument("stage", help=f"one of {', '.join(STAGES)}, all, milestone or restore")
    p.add_argument("--config", default="configs/full.json")
    p.add_argument("--set", default=None, help='JSON overrides, e.g. \'{"teacher": {"max_steps": 10}}\'')
    a = p.parse_args(argv)
    try:
        cfg = load_config(a.config, json.loads(a.set) if a.set else None)
    except (ValueError, FileNotFoundError, json.JSONDecodeError) as e:
        sys.exit(f"config error: {e}")
    stages = STAGES if a.stage == "all" else (a.stage,)
    for s in stages:
        try:
            run_stage(s, cfg)
        except (FileNotFoundError, RuntimeError) as e:
            sys.exit(f"{s}: {e}")


if __name__ == "__main__":
    main()
