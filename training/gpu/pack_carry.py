"""Pack what a GPU box (no network, 64 MiB carried per call) needs into ../.carry/:

  dataset.xz       images.npy + meta.json of the built dataset (lzma; ~28 MB for 5.4k images)
  minilm/          all-MiniLM-L6-v2 in fp16 with its vocabulary pruned to the tokens our captions
                   and evaluation prompts use (id_map.npy maps tokenizer ids -> compact rows); the
                   outputs are the same as the full model's for those prompts, at ~half the bytes
  whl/             pure-Python wheels missing there (diffusers)

Used only by gpu/run_gpu_job.sh; CI and the CPU path never need it.
"""
from __future__ import annotations

import io
import json
import lzma
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TRAINING = HERE.parent
sys.path.insert(0, str(TRAINING))

from factory.conditioning import SHOWCASE_PROMPTS  # noqa: E402
from factory.config import load_config  # noqa: E402
from factory.dataset import EmojiDataset  # noqa: E402
from factory.eval_prompts import eval_prompt_sets  # noqa: E402
from factory.text_encoder import TextEncoder, minilm_dir  # noqa: E402


def main(config="configs/gpu.json"):
    cfg = load_config(TRAINING / config)
    carry = TRAINING.parent / ".carry"
    if carry.exists():
        shutil.rmtree(carry)
    carry.mkdir()
    folder = TRAINING / cfg.data.folder
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(folder / "images.npy", arcname="images.npy")
        tf.add(folder / "meta.json", arcname="meta.json")
    (carry / "dataset.xz").write_bytes(lzma.compress(buf.getvalue(), preset=6))

    ds = EmojiDataset(folder)
    enc = TextEncoder(cfg.text.max_tokens)
    texts = {c for i in range(len(ds.records)) for c in ds.captions(i)} | {""} | set(SHOWCASE_PROMPTS)
    sets = eval_prompt_sets(ds, cfg.eval.prompts_per_split, cfg.eval.diversity_prompts, cfg.eval.diversity_seeds)
    texts |= {p for items in sets.values() for p, _, _ in items}
    used = torch.unique(torch.cat([enc.tokenize(sorted(texts)).flatten(), torch.arange(0, 110)]))  # keep specials
    id_map = np.full(enc.tokenizer.get_vocab_size(), int((used == 100).nonzero()[0]), dtype=np.int64)  # default [UNK]
    id_map[used.numpy()] = np.arange(len(used))
    src = minilm_dir()
    dst = carry / "minilm"
    dst.mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(src / f, dst / f)
    conf = json.loads((src / "config.json").read_text())
    conf["vocab_size"] = int(len(used))
    (dst / "config.json").write_text(json.dumps(conf))
    from safetensors.torch import load_file, save_file

    sd = load_file(src / "model.safetensors")
    key = [k for k in sd if k.endswith("word_embeddings.weight")][0]
    sd[key] = sd[key][used]
    save_file({k: v.half().contiguous() for k, v in sd.items() if "pooler" not in k}, dst / "model.safetensors")
    np.save(dst / "id_map.npy", id_map)

    # parity: the pruned model gives the same embeddings as the full one
    full = enc.encode(sorted(texts)[:64])
    pruned = TextEncoder(cfg.text.max_tokens, model_dir=dst)
    err = (pruned.encode(sorted(texts)[:64]) - full).abs().max().item()
    print(f"pruned MiniLM: {len(used)} tokens kept, max |diff| vs full = {err:.2e} (fp16 weights)")
    assert err < 0.05, err

    whl = carry / "whl"
    whl.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "-d", str(whl), "diffusers==0.42.1"], check=True)
    total = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
    print(f"carry: {total / 2**20:.1f} MiB in {carry}")


if __name__ == "__main__":
    main(*sys.argv[1:])
