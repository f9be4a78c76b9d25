"""`python -m factory <stage> --config configs/full.json`

Stages, in order: data, ae, teacher, distill, decoder (the browser decoder), text (the browser text
encoder), classifier, eval, export, docs.  `all` runs every stage;
each stage skips work that a finished checkpoint already holds and resumes an interrupted one.
`milestone` saves the AE + teacher weights to checkpoints/milestone.safetensors; `restore` turns
that committed milestone back into a run folder, so distill/eval/export continue without retraining.
`import-student` rebuilds the shipped student's PyTorch weights from its exported unet/model.onnx
(after `restore`), so `distill.init_from` can continue from the model the app ships.
`classifier-milestone` commits the run's evaluation classifier to checkpoints/classifier.safetensors:
the `classifier` stage then uses it on every machine, so figures compare across sessions.
`requote` rewrites the exported manifest's `quality` from the largest evaluation of its student, files untouched.
`grain` measures the students' high-frequency latent grain against the teacher's (a diagnostic).
`pack` turns an exported model's text encoder and UNets into packed graphs in place (onnx_pack.py;
`export` writes them packed already).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STAGES = ("data", "ae", "teacher", "distill", "decoder", "text", "classifier", "eval", "export", "docs")


def build_data(cfg):
    from .dataset import build

    d = cfg.data
    if (Path(d.folder) / "images.npy").exists():
        print(f"data: {d.folder} exists, skipping (delete it to rebuild)")
        return
    meta = build(Path(d.folder), Path(d.cache), d.size, tuple(d.styles), d.limit, d.val_fraction)
    print(f"data: {len(meta['images'])} images, {len(meta['concepts'])} concepts")


def shipped_docs(cfg):
    from .distill import shipped_student_name
    from .docs_grids import make_docs_grids

    make_docs_grids(cfg, shipped_student_name(cfg))


def _call(module: str, function: str):
    """A stage runner that imports its module only when it runs (torch imports are slow)."""
    def run(cfg):
        import importlib

        return getattr(importlib.import_module(f".{module}", __package__), function)(cfg)
    return run


RUNNERS = {
    "data": build_data,
    "ae": _call("autoencoder", "train_autoencoder"),
    "teacher": _call("teacher", "train_teacher"),
    "decoder": _call("browser_decoder", "train_browser_decoder"),
    "text": _call("text_student", "train_text_student"),
    "distill": _call("distill", "train_student"),
    "classifier": _call("classifier", "train_classifier"),
    "eval": _call("evaluate", "evaluate_all"),
    "export": _call("export", "export_model"),
    "docs": shipped_docs,
    "milestone": _call("milestone", "save_milestone"),
    "restore": _call("milestone", "restore_milestone"),
    "classifier-milestone": _call("classifier", "save_instrument"),
    "import-student": _call("onnx_import", "import_student"),
    "requote": _call("quoted_quality", "requote_quality"),
    "grain": _call("grain", "measure_grain"),
    "prompt-embeddings": _call("export", "add_prompt_embeddings"),
    "pack": _call("export", "pack_exported"),
}


def stage_names() -> str:
    """The chain's stages, `all`, then the tools (milestone, restore, ...), in RUNNERS' order."""
    tools = [k for k in RUNNERS if k not in STAGES]
    return f"{', '.join(STAGES)}, all, {', '.join(tools[:-1])} or {tools[-1]}"


def run_stage(stage: str, cfg):
    if stage not in RUNNERS:
        raise SystemExit(f"unknown stage '{stage}'; choose from {stage_names()}")
    RUNNERS[stage](cfg)


def main(argv=None):
    from .config import load_config

    p = argparse.ArgumentParser(prog="python -m factory", description=__doc__.splitlines()[0])
    p.add_argument("stage", help=f"one of {stage_names()}")
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
