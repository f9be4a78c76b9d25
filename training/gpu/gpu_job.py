"""The whole factory's training half in one call on a borrowed GPU box (see gpu/run_gpu_job.sh).

AE -> teacher -> four distillation variants at equal time budgets -> evaluation images for each
student -> the chosen student. Results are written to --out as they become available, so a run
cut short still returns what it finished. Everything here also runs (slowly) on a CPU.
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
os.chdir(TRAINING)

from factory.config import load_config, to_dict  # noqa: E402

PART_BYTES = 15 * 2**20


def write_parts(out: Path, name: str, tensors: dict, metadata: dict):
    """A safetensors blob split in parts under the transfer limit; `cat name.part*` restores it."""
    from safetensors.torch import save

    blob = save({k: v.contiguous() for k, v in tensors.items()}, metadata={"json": json.dumps(metadata)})
    for i in range(0, len(blob), PART_BYTES):
        (out / f"{name}.part{i // PART_BYTES}").write_bytes(blob[i:i + PART_BYTES])


def fp16(sd: dict, prefix: str) -> dict:
    return {prefix + k: v.half() if v.is_floating_point() else v for k, v in sd.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="configs/gpu.json")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--carry", type=Path, default=TRAINING.parent / ".carry")
    p.add_argument("--variants", default="dmd2,dmd,dm,regression")
    a = p.parse_args()
    t0 = time.time()
    a.out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(a.config)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    os.environ.setdefault("ONESTEP_MINILM_DIR", str(a.carry / "minilm"))
    data = Path(cfg.data.folder)
    if not (data / "images.npy").exists():
        data.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(lzma.decompress((a.carry / "dataset.xz").read_bytes()))) as tf:
            tf.extractall(data, filter="data")
    print(f"[{time.time() - t0:.0f}s] data ready, device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}", flush=True)

    from factory.autoencoder import load_autoencoder, train_autoencoder
    from factory.distill import load_student, train_student
    from factory.teacher import load_teacher, train_teacher

    reports = {"ae": train_autoencoder(cfg)}
    print(f"[{time.time() - t0:.0f}s] ae done: {reports['ae']}", flush=True)
    reports["teacher"] = train_teacher(cfg)
    print(f"[{time.time() - t0:.0f}s] teacher done: {reports['teacher']}", flush=True)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ae_ck = torch.load(Path(cfg.run_dir) / "ae" / "ae.pt", map_location="cpu", weights_only=False)
    t_ck = torch.load(Path(cfg.run_dir) / "teacher" / "teacher.pt", map_location="cpu", weights_only=False)
    write_parts(a.out, "teacher_bundle", {**{"ae." + k: v for k, v in ae_ck["ema"].items()}, **fp16(t_ck["ema"], "teacher.")},
                {"config": to_dict(cfg), "ae_report": reports["ae"], "teacher_report": reports["teacher"]})

    from factory.dataset import EmojiDataset
    from factory.diffusion import add_noise, alphas_cumprod, one_step
    from factory.eval_prompts import eval_prompt_sets, generate_set
    from factory.text_encoder import TextEncoder

    ds = EmojiDataset(data)
    sets = eval_prompt_sets(ds, cfg.eval.prompts_per_split, cfg.eval.diversity_prompts, cfg.eval.diversity_seeds)
    items = [it for name in ("train", "val", "paraphrase", "diversity") for it in sets[name]]
    enc = TextEncoder(cfg.text.max_tokens, device=dev)
    vae, scale = load_autoencoder(cfg.run_dir, dev)
    teacher = load_teacher(cfg.run_dir, dev)
    ab = alphas_cumprod(dev).float()
    eval_images, proxy = {}, {}
    for v in a.variants.split(","):
        try:
            reports[v] = train_student(cfg, v)
        except Exception as e:  # one failing variant must not cost the others their device time
            import traceback
            traceback.print_exc()
            reports[v] = {"error": repr(e)}
            continue
        student, _ = load_student(cfg.run_dir, v, dev)
        sampler = lambda n, c, u: one_step(student, n, c, cfg.distill.conditioning_timestep)  # noqa: E731
        eval_images[v], _ = generate_set(items, sampler, enc, lambda z: vae.decode(z / scale).sample, dev)
        # proxy for choosing which student to bring back: the teacher's denoising loss on the
        # student's outputs (lower = closer to what the teacher considers data)
        with torch.no_grad():
            g = torch.Generator(device=dev).manual_seed(0)
            cond = enc.encode([p for p, _, _ in items[:512]]).to(dev)
            noise = torch.randn(len(cond), 4, 16, 16, device=dev, generator=g)
            x = one_step(student, noise, cond).float()
            t = torch.randint(20, 980, (len(x),), device=dev, generator=g)
            eps = torch.randn(x.shape, device=dev, generator=g)
            pred = teacher(add_noise(x, eps, t, ab), t, encoder_hidden_states=cond).sample.float()
            proxy[v] = float(((pred - eps) ** 2).mean())
        reports[v]["teacher_denoising_proxy"] = proxy[v]
        print(f"[{time.time() - t0:.0f}s] {v} done: {reports[v]}", flush=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **eval_images, prompts=np.array(json.dumps({k: sets[k] for k in sets})))
        for old in a.out.glob("eval_images.npz.part*"):
            old.unlink()
        blob = buf.getvalue()
        for i in range(0, len(blob), PART_BYTES):
            (a.out / f"eval_images.npz.part{i // PART_BYTES}").write_bytes(blob[i:i + PART_BYTES])
    best = min(proxy, key=proxy.get)
    s_ck = torch.load(Path(cfg.run_dir) / "distill" / best / "student.pt", map_location="cpu", weights_only=False)
    write_parts(a.out, "student", fp16(s_ck["ema"], "student."), {"variant": best, "config": to_dict(cfg), "report": reports[best]})
    reports["chosen_student"] = best
    reports["total_seconds"] = round(time.time() - t0, 1)
    (Path(cfg.run_dir) / "reports.json").write_text(json.dumps(reports, indent=2))
    with tarfile.open(a.out / "reports.tar.xz", "w:xz") as tf:
        for f in Path(cfg.run_dir).rglob("*"):
            if f.suffix in (".json", ".png"):
                tf.add(f, arcname=str(f.relative_to(cfg.run_dir)))
    print(f"[{time.time() - t0:.0f}s] all done; chosen student: {best}; proxies {proxy}", flush=True)


if __name__ == "__main__":
    main()
