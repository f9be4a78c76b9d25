"""Stage 6: measured quality, with the same code, prompts and seeds for teacher and student.

For each model ("teacher@<steps>x<guidance>" or "student:<variant>") the fixed prompt sets of
eval_prompts.py are generated once and cached (runs/<run>/eval/images/<model>.npz). Metrics, all
in the feature space of the evaluation classifier (classifier.py, trained on real images only):

  classifier-FID     Frechet distance between generated images and real images of the same concepts
  prompt accuracy    top-1 / top-5 of the intended concept: train captions, val captions (concepts
                     the generator never saw) and paraphrases (wordings that never occur in captions)
  diversity          mean pairwise feature distance over the seeds of each diversity prompt
  grain              colour grain in flat regions of the 128 px images (grain.image_grain, 0-255 levels)
  NFE                network evaluations per image (UNet calls; CFG counts 2 per step)

The pipeline around the UNet is a setting (eval.decoder, .text_encoder, .text_weights, .unet_weights,
.teacher_weights), so the old pipeline and
the browser one are measured with the same instrument, prompts and seeds (each under its own eval.name).

Sanity rows: real vs real (two disjoint halves of the real images) and pure noise.
Results: runs/<run>/eval/report.json and a markdown table (eval/report.md) for the model card.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .config import FactoryConfig
from .eval_prompts import eval_prompt_sets, generate_set
from .metrics import frechet, item_scores, metrics, summarize
from .pipeline_spec import eval_pipeline, with_defaults


def eval_dir(cfg: FactoryConfig) -> Path:
    """runs/<run>/<eval.name>: a larger evaluation has its own folder, images and report."""
    return Path(cfg.run_dir) / cfg.eval.name


def images_path(cfg: FactoryConfig, key: str) -> Path:
    return eval_dir(cfg) / "images" / f"{key.replace(':', '_').replace('@', '_')}.npz"


def _same_prompts(cached: np.lib.npyio.NpzFile, sets: dict) -> bool:
    """A cache made for other prompts (another prompts_per_split draws other concepts) is not reused.
    Caches written before the prompts were stored with them are taken as they are."""
    if "prompts" not in cached.files:
        return True
    stored = json.loads(str(cached["prompts"]))
    return all(k in stored and stored[k][:len(v)] == json.loads(json.dumps(v)) for k, v in sets.items())


def measured_sets(cfg: FactoryConfig, sets: dict) -> dict:
    """The prefix of each prompt set that the metrics use (same for every model)."""
    n = cfg.eval.measured_per_split
    seeds = cfg.eval.diversity_seeds
    out = {k: sets[k][:n] for k in ("train", "val", "paraphrase")}
    out["diversity"] = sets["diversity"][:cfg.eval.measured_diversity_prompts * seeds]
    return out


def stored_unet(cfg: FactoryConfig, unet, role: str = "student", variant: str | None = None):
    """The UNet with its weights as eval_pipeline(cfg) stores the student's or the teacher's
    (int8: onnx_weights' rounding; the student's int4 and the teacher's int8-gptq: gptq_models.gptq_unet)."""
    from .gptq_models import gptq_unet

    kind = eval_pipeline(cfg)["teacher_weights" if role == "teacher" else "unet_weights"]
    rounded = gptq_unet(cfg, unet, role, kind, variant)
    if rounded is not None:
        return rounded[0]
    if kind == "int8":
        from .onnx_weights import int8_module

        p = next(unet.parameters())
        lat = cfg.data.size // 8
        example = (torch.zeros(1, cfg.ae.latent_channels, lat, lat, device=p.device), torch.tensor([500], device=p.device),
                   torch.zeros(1, cfg.text.max_tokens, cfg.text.width, device=p.device))
        return int8_module(unet, *example)
    if kind != "fp16":  # the PyTorch UNets here hold the shipped fp16 values (imported or restored)
        raise ValueError(f"eval.unet_weights / eval.teacher_weights must be 'int8' or 'fp16' (the student's also 'int4', "
                         f"the teacher's 'int8-gptq'), not {kind!r}")
    return unet


def pipeline_parts(cfg: FactoryConfig, device="cpu"):
    """(text encoder, decode) of eval_pipeline(cfg): the text encoder with its weights as the export
    stores them (int8: the same rounding as onnx_weights), and latents -> 128 px images with the
    autoencoder's decoder or the browser decoder."""
    from .autoencoder import load_autoencoder
    from .conditioning import text_encoder_for

    pipe = eval_pipeline(cfg)
    vae, scale = load_autoencoder(cfg.run_dir, device)
    if pipe["decoder"] == "browser":
        from .browser_decoder import load_browser_decoder

        dec = load_browser_decoder(cfg.run_dir, device, cfg.decoder.name)
        decode = lambda z: dec(z / scale)  # noqa: E731
    elif pipe["decoder"] == "autoencoder":
        decode = lambda z: vae.decode(z / scale).sample  # noqa: E731
    else:
        raise ValueError(f"eval.decoder must be 'browser' or 'autoencoder', not {pipe['decoder']!r}")
    enc = text_encoder_for(cfg, device)
    if pipe["text_encoder"] == "distilled":
        from .text_student import distilled_text_encoder

        enc = distilled_text_encoder(cfg, enc)
    elif pipe["text_encoder"] != "minilm":
        raise ValueError(f"eval.text_encoder must be 'minilm' or 'distilled', not {pipe['text_encoder']!r}")
    if pipe["text_weights"] == "int8":
        from .onnx_weights import int8_text_encoder

        enc = int8_text_encoder(enc)
    elif pipe["text_weights"] == "int4":
        from .gptq_models import int4_text_encoder

        if pipe["text_encoder"] != "minilm":
            raise ValueError("eval.text_weights 'int4' is GPTQ of MiniLM (gptq_models.py): eval.text_encoder must be 'minilm'")

        enc, _ = int4_text_encoder(cfg, enc)
    elif pipe["text_weights"] != "fp32":
        raise ValueError(f"eval.text_weights must be 'int4', 'int8' or 'fp32', not {pipe['text_weights']!r}")
    return enc, decode


def parts_used(pipeline: dict, key: str) -> dict:
    """The parts of a pipeline that one model key's images depend on: a teacher row never calls the
    student's UNet, a student row never the teacher's (so their cached images carry across)."""
    unused = {"teacher@": "unet_weights", "student:": "teacher_weights"}
    return {k: v for k, v in pipeline.items() if not any(key.startswith(p) and k == u for p, u in unused.items())}


def generate_for(cfg: FactoryConfig, key: str, sets: dict, device="cpu") -> dict[str, np.ndarray]:
    """Cached generation of every prompt set for one model key (a cached larger set is sliced).
    Also returns each set's per-image grain as "grain_<set>" where the cache has it."""
    path = images_path(cfg, key)
    pipe = eval_pipeline(cfg)
    if path.exists():
        d = np.load(path)
        # images cached before pipelines were recorded came from the old one
        made_by = with_defaults(json.loads(str(d["pipeline"])) if "pipeline" in d.files else None)
        if all(len(d[k]) >= len(v) for k, v in sets.items()) and _same_prompts(d, sets) and \
                parts_used(made_by, key) == parts_used(pipe, key):
            out = {k: d[k][:len(v)] for k, v in sets.items()}
            out.update({f"grain_{k}": d[f"grain_{k}"][:len(v)] for k, v in sets.items() if f"grain_{k}" in d.files})
            return out
    from .diffusion import POLISH_T, ddim_sample, one_step, teacher_step

    enc, decode = pipeline_parts(cfg, device)
    if key.startswith("teacher@"):
        from .teacher import load_teacher

        steps, guidance = key.split("@")[1].split("x")
        unet = stored_unet(cfg, load_teacher(cfg.run_dir, device), "teacher")
        sampler = lambda n, c, u: ddim_sample(unet, n, c, u, int(steps), float(guidance))  # noqa: E731
    elif key.startswith("student:"):
        from .distill import load_student

        variant = key.split(":")[1]
        unet = stored_unet(cfg, load_student(cfg.run_dir, variant, device)[0], variant=variant)
        sampler = lambda n, c, u: one_step(unet, n, c, cfg.distill.conditioning_timestep)  # noqa: E731
    elif key.startswith("refined:"):  # a diagnostic, not a shipped sampler: see EvalConfig.refined
        from .distill import distilled_guidance, load_student
        from .teacher import load_teacher

        unet, ck = load_student(cfg.run_dir, key.split(":")[1], device)
        unet = stored_unet(cfg, unet, variant=key.split(":")[1])
        teacher = stored_unet(cfg, load_teacher(cfg.run_dir, device), "teacher")

        def sampler(n, c, u):
            x = one_step(unet, n, c, cfg.distill.conditioning_timestep)
            # one fixed re-noise draw per batch position: cached images stay reproducible
            again = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(x.device)
            return teacher_step(teacher, x, c, u, POLISH_T, distilled_guidance(ck), again)
    else:
        raise ValueError(f"unknown model key {key}")
    out = {}
    for name, items in sets.items():
        out[name], out[f"grain_{name}"] = generate_set(items, sampler, enc, decode, device, batch=64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out, prompts=np.array(json.dumps(sets)), pipeline=np.array(json.dumps(pipe)))
    return out


def import_images(cfg: FactoryConfig, npz: Path, sets: dict):
    """Students trained on a borrowed GPU come back as generated images (gpu/gpu_job.py); file them."""
    d = np.load(npz)
    sizes = [len(sets[k]) for k in ("train", "val", "paraphrase", "diversity")]
    for key in d.files:
        if key == "prompts":
            continue
        parts = np.split(d[key], np.cumsum(sizes)[:-1])
        path = images_path(cfg, f"student:{key}")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **dict(zip(("train", "val", "paraphrase", "diversity"), parts)),
                            prompts=np.array(json.dumps(sets)))


def evaluate_all(cfg: FactoryConfig, students=None, device="cpu") -> dict:
    from .classifier import features_and_logits, load_classifier, real_eval_images
    from .dataset import EmojiDataset

    ds = EmojiDataset(Path(cfg.data.folder))
    sets = measured_sets(cfg, eval_prompt_sets(ds, cfg.eval.prompts_per_split, cfg.eval.diversity_prompts,
                                                cfg.eval.diversity_seeds))
    clf = load_classifier(cfg)
    real_a, real_b = real_eval_images(ds, sets)
    feats_a, _ = features_and_logits(clf, real_a)
    feats_b, _ = features_and_logits(clf, real_b)
    rows = {}
    rows["real vs real"] = {"fid": frechet(feats_b, feats_a), "nfe": 0}
    rng = np.random.default_rng(0)
    noise_imgs = {k: rng.integers(0, 256, (len(v), 64, 64, 3), dtype=np.uint8) for k, v in sets.items()}
    rows["pure noise"] = {**metrics(clf, noise_imgs, sets, feats_a), "nfe": 0}
    scores = {}
    models = [(f"teacher@{steps}x{guidance}", steps * (2 if guidance != 1.0 else 1))
              for steps, guidance in cfg.eval.teacher_settings]
    models += [(f"student:{v}", 1) for v in (students or cfg.eval.students or discover_students(cfg))]
    models += [(f"refined:{v}", 3) for v in cfg.eval.refined]
    for key, nfe in models:
        scores[key] = item_scores(clf, generate_for(cfg, key, sets, device), sets)
        rows[key] = {**summarize(scores[key], feats_a), "nfe": nfe}
        print(f"eval: {key}: {rows[key]}", flush=True)
    from . import verdict

    vs_teacher, ablation = verdict.judge_students(cfg, rows, scores, feats_a)
    vs_baseline, base_rows = {}, {}
    if cfg.eval.baseline:  # the same models and prompts through the baseline evaluation's pipeline
        base_cfg = baseline_config(cfg)
        base_scores = {k: item_scores(clf, generate_for(base_cfg, k, sets, device), sets) for k, _ in models}
        base_rows = {k: {**summarize(v, feats_a), "nfe": rows[k]["nfe"]} for k, v in base_scores.items()}
        vs_baseline = verdict.judge_pipelines(cfg, rows, scores, base_rows, base_scores, feats_a)
    report = {"rows": rows, "vs_teacher": vs_teacher, "ablation": ablation, "sets": {k: len(v) for k, v in sets.items()},
              "pipeline": eval_pipeline(cfg),
              "baseline": {"name": cfg.eval.baseline, "rows": base_rows, "vs_baseline": vs_baseline} if vs_baseline else None,
              "classifier": clf.report}
    out = eval_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    text = markdown_table(rows)
    how = (f"95 % intervals from {cfg.eval.bootstrap_resamples} paired resamples of the prompts "
           f"({cfg.eval.fid_resamples} for FID; factory/verdict.py)")
    if vs_teacher:
        text += f"\nStudent vs teacher, {how}:\n\n" + verdict.markdown_table(verdict.vs_teacher_rows(vs_teacher), "student vs teacher", with_targets=True)
    if ablation:
        text += f"\nAblation, student a vs student b, {how}:\n\n" + verdict.markdown_table(ablation, "a vs b")
    if vs_baseline:
        text += (f"\nThe baseline's pipeline ({cfg.eval.baseline}):\n\n" + markdown_table(base_rows)
                 + f"\nThis pipeline vs the baseline's, each model, {how}:\n\n" + verdict.markdown_table(vs_baseline, "this vs baseline"))
    (out / "report.md").write_text(text)
    print(text)
    return report


def baseline_config(cfg: FactoryConfig) -> FactoryConfig:
    """cfg with eval.name = eval.baseline and that evaluation's pipeline (from its report; a report
    without one measured the autoencoder's decoder and fp32 MiniLM)."""
    import copy

    base = copy.deepcopy(cfg)
    base.eval.name, base.eval.baseline = cfg.eval.baseline, None
    path = eval_dir(base) / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"eval.baseline: no evaluation '{cfg.eval.baseline}' in {cfg.run_dir}: run it first")
    for k, v in with_defaults(json.loads(path.read_text()).get("pipeline")).items():
        setattr(base.eval, k, v)
    return base


def discover_students(cfg: FactoryConfig) -> list[str]:
    """Students with weights here, plus those that came back from a GPU box as images only."""
    run = Path(cfg.run_dir)
    names = {p.name for p in (run / "distill").glob("*") if (p / "student.pt").exists()}
    names |= {p.stem[len("student_"):] for p in (eval_dir(cfg) / "images").glob("student_*.npz")}
    order = {"regression": 0, "dm": 1, "dmd": 2, "dmd2": 3}
    return sorted(names, key=lambda n: (order.get(n, 9), n))


def markdown_table(rows: dict) -> str:
    cols = [("fid", "classifier-FID ↓", "{:.2f}"), ("train_top1", "train top-1 %", "{:.1f}"),
            ("train_top5", "train top-5 %", "{:.1f}"), ("val_top1", "val top-1 %", "{:.1f}"),
            ("val_top5", "val top-5 %", "{:.1f}"), ("paraphrase_top1", "paraphrase top-1 %", "{:.1f}"),
            ("paraphrase_top5", "paraphrase top-5 %", "{:.1f}"), ("diversity", "diversity", "{:.3f}"),
            ("grain", "grain ↓", "{:.2f}"), ("nfe", "NFE / image", "{}")]
    lines = ["| model | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f.format(r[k]) if k in r else "–" for k, _, f in cols) + " |")
    return "\n".join(lines) + "\n"
