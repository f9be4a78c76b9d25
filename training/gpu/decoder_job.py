"""The browser decoder at GPU length (issue 22): its CPU runs stopped at 23.5-24.1 dB after <= 18,000
steps of batch 32, short of the autoencoder decoder's 25.6 (LAB_NOTEBOOK.md, sessions 14-17).

Two halves, so the borrowed box needs nothing but its own PyTorch and what travels with the call:

  pack  (here, on the CPU)  the dataset, the autoencoder and its latents, and the shipped student's
                            outputs with their one-teacher-step polish (`student_errors.py`: the
                            grain the decoder must learn to ignore), computed once here, into
                            .carry/decoder/ (50.6 MiB at 2,048 samples); no teacher, student or MiniLM travels.
  run   (there, on the GPU) trains each variant in turn with its share of the time budget and
                            writes its EMA weights (`<name>.pt`, under 1 MB) and validation PSNR to
                            $OUT as soon as it is done, so a run cut short returns what finished.

Here, once:   python gpu/decoder_job.py pack [--samples 2048]
There:        training/gpu/run_decoder_job.sh          (one `run` call: carry .carry)
Back here:    python gpu/decoder_job.py unpack <files_at>  -> runs/full/<name>/decoder.pt, then the
              existing `eval` / `export` stages with `{"decoder": {"name": <name>}}`.
Everything also runs on a CPU (slowly): `run --budget 60` is the smoke test.

A call carries at most 64 MiB of working tree, and the tracked model files and milestone alone are
70 MiB: none of them is needed there (the autoencoder travels in the pack), so for the call move
them aside and bring them back from git after it:
    mv public/models /tmp/aside-models && mv training/checkpoints /tmp/aside-checkpoints
    ... device run, carry [".carry"] ...
    rm -rf /tmp/aside-* && git checkout -- public/models training/checkpoints
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
os.chdir(TRAINING)

CARRY = TRAINING.parent / ".carry" / "decoder"
CONFIG = "configs/full.json"

# What the GPU time buys, best guess first: the shipped recipe's shape at the FLOP budget
# (0.137 GFLOP), then the wider 0.32-GFLOP one (over budget: it says what width would buy).
# Batch 128 with the learning rate scaled by sqrt(4) from the CPU runs' batch 32.
VARIANTS = [
    {"name": "decoder-gpu-a", "channels": [64, 32, 16], "blocks": [1, 1, 1], "share": 0.6},
    {"name": "decoder-gpu-e", "channels": [64, 48, 32], "blocks": [1, 1, 1], "share": 0.4},
]
COMMON = {"batch_size": 128, "lr": 4e-3, "residual_share": 0.25, "student_share": 0.25, "checkpoint_every_s": 60.0}


def tar_xz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for arc, data in files.items():
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return lzma.compress(buf.getvalue(), preset=6)


def npy_bytes(a) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


# Latents travel in fp16 (half the bytes; 1e-3 relative, far below the decoder's error) and are
# written back as the float32 files the stages read.
def halved(path: Path) -> bytes:
    import numpy as np
    import torch

    if path.suffix == ".npy":
        return npy_bytes(np.load(path).astype(np.float16))
    buf = io.BytesIO()
    torch.save({k: v.half() for k, v in torch.load(path).items()}, buf)
    return buf.getvalue()


def restored(name: str, data: bytes) -> bytes:
    import numpy as np
    import torch

    if name.endswith("latents.npy"):
        return npy_bytes(np.load(io.BytesIO(data)).astype(np.float32))
    if "/samples_" in name:
        buf = io.BytesIO()
        torch.save({k: v.float() for k, v in torch.load(io.BytesIO(data)).items()}, buf)
        return buf.getvalue()
    return data


def pack(samples: int, config: str = CONFIG, carry: Path = CARRY, wheels: bool = True):
    """Builds what the run needs from the committed milestone and the shipped student (CPU, minutes)."""
    from factory.config import load_config
    from factory.distill import shipped_student_name
    from factory.student_errors import student_samples

    cfg = load_config(config)
    run, data = Path(cfg.run_dir), Path(cfg.data.folder)
    py = [sys.executable, "-m", "factory"]
    if not (data / "images.npy").exists():
        subprocess.run([*py, "data", "--config", config], check=True)
    if not (run / "ae" / "latents.npy").exists():
        subprocess.run([*py, "restore", "--config", config], check=True)
    if not (run / "distill" / shipped_student_name(cfg) / "student.pt").exists():
        subprocess.run([*py, "import-student", "--config", config], check=True)
    t0 = time.time()
    student_samples(cfg, samples)  # cached in runs/<run>/decoder/samples_<n>.pt
    print(f"pack: {samples} student samples in {time.time() - t0:.0f} s")
    if carry.exists():
        shutil.rmtree(carry)
    (carry / "whl").mkdir(parents=True)
    files = {
        "data/images.npy": (data / "images.npy").read_bytes(),
        "data/meta.json": (data / "meta.json").read_bytes(),
        "run/ae/ae.pt": (run / "ae" / "ae.pt").read_bytes(),
        "run/ae/latents.npy": halved(run / "ae" / "latents.npy"),
        f"run/decoder/samples_{samples}.pt": halved(run / "decoder" / f"samples_{samples}.pt"),
    }
    (carry / "inputs.tar.xz").write_bytes(tar_xz(files))
    (carry / "job.json").write_text(json.dumps({"samples": samples, "variants": VARIANTS, "common": COMMON}, indent=2))
    # The box has PyTorch but not diffusers (the autoencoder's class); pure-Python wheels only.
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "-d", str(carry / "whl"), "diffusers==0.42.1", "importlib_metadata==8.7.0"],
                       check=True)
    total = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
    print(f"pack: {total / 2**20:.1f} MiB in {carry} (a call carries at most 64 MiB)")


def run(out: Path, budget_s: float, only: str | None = None, config: str = CONFIG, carry: Path = CARRY):
    import torch

    from factory.browser_decoder import train_browser_decoder
    from factory.config import load_config

    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    job = json.loads((carry / "job.json").read_text())
    cfg = load_config(config)
    run_dir = Path(cfg.run_dir)
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress((carry / "inputs.tar.xz").read_bytes()))) as tf:
        for m in tf.getmembers():
            head, rest = m.name.split("/", 1)
            target = (Path(cfg.data.folder) if head == "data" else run_dir) / rest
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(restored(m.name, tf.extractfile(m).read()))
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"[{time.time() - t0:.0f}s] inputs ready on {gpu}; budget {budget_s:.0f} s", flush=True)
    variants = [v for v in job["variants"] if only is None or v["name"] in only.split(",")]
    shares = sum(v["share"] for v in variants)
    reports = {}
    for v in variants:
        left = budget_s - (time.time() - t0)
        # Each variant's training gets its share of what is left, less ~20 s for its evaluation.
        seconds = max(10.0, left * v["share"] / shares - 20)
        shares -= v["share"]
        settings = {**job["common"], "name": v["name"], "channels": v["channels"], "blocks": v["blocks"],
                    "residual_samples": job["samples"], "max_steps": 1_000_000, "time_budget_s": seconds}
        vcfg = load_config(config, {"decoder": settings})
        try:
            report = train_browser_decoder(vcfg)
        except Exception as e:  # one failing variant must not cost the next its device time
            import traceback

            traceback.print_exc()
            reports[v["name"]] = {"error": repr(e)}
            continue
        ck = torch.load(run_dir / v["name"] / "decoder.pt", map_location="cpu", weights_only=False)
        torch.save({k: ck[k] for k in ("config", "step", "ema", "scaling_factor", "final", "report")}, out / f"{v['name']}.pt")
        reports[v["name"]] = {**report, "device": gpu}
        (out / "reports.json").write_text(json.dumps(reports, indent=2))
        print(f"[{time.time() - t0:.0f}s] {v['name']}: {report}", flush=True)
    print(f"[{time.time() - t0:.0f}s] done: " + ", ".join(
        f"{k} {r.get('val_psnr_db_mean', float('nan')):.2f} dB" for k, r in reports.items()), flush=True)


def unpack(files_at: Path, config: str = CONFIG):
    """The run's decoders into runs/<run>/<name>/decoder.pt, where `eval` and `export` look."""
    from factory.config import load_config

    run_dir = Path(load_config(config).run_dir)
    for f in sorted(Path(files_at).rglob("decoder-*.pt")):
        dst = run_dir / f.stem / "decoder.pt"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dst)
        print(f"unpack: {dst}")


def main():
    p = argparse.ArgumentParser(description="the browser decoder trained on a borrowed GPU")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("pack")
    sp.add_argument("--samples", type=int, default=2048)  # more would not fit a call beside the tree
    sr = sub.add_parser("run")
    sr.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/onestep-out")))
    sr.add_argument("--budget", type=float, default=420.0, help="seconds for every variant, evaluation included")
    sr.add_argument("--only", default=None, help="comma-separated variant names")
    su = sub.add_parser("unpack")
    su.add_argument("files_at", type=Path)
    a = p.parse_args()
    if a.cmd == "pack":
        pack(a.samples)
    elif a.cmd == "run":
        run(a.out, a.budget, a.only)
    else:
        unpack(a.files_at)


if __name__ == "__main__":
    main()
