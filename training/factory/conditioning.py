"""Caption bank: every training caption encoded once by the frozen text encoder.

The text encoder is frozen, so its outputs are computed once per run and cached in
runs/<run>/captions.pt (fp16): [unique captions, tokens, 384] plus, per image, the indices of its
captions. The empty caption is the unconditional embedding used for classifier-free guidance.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .config import FactoryConfig
from .dataset import EmojiDataset

SHOWCASE_PROMPTS = ("red apple", "smiling cat face", "rocket", "pizza", "red heart", "dog face",
                    "sun", "birthday cake")


_ENCODERS: dict = {}


def text_encoder_for(cfg: FactoryConfig, device="cpu"):
    """One loaded MiniLM per (token count, device): loading it costs seconds."""
    from .text_encoder import TextEncoder

    key = (cfg.text.max_tokens, str(device))
    if key not in _ENCODERS:
        _ENCODERS[key] = TextEncoder(cfg.text.max_tokens, device=device)
    return _ENCODERS[key]


def caption_bank(cfg: FactoryConfig, ds: EmojiDataset, device="cpu") -> dict:
    path = Path(cfg.run_dir) / "captions.pt"
    if path.exists():
        bank = torch.load(path, map_location="cpu")
        if bank.get("max_tokens") == cfg.text.max_tokens and bank.get("n_images") == len(ds.records):
            return bank
    enc = text_encoder_for(cfg, device)
    per_image = [ds.captions(i) for i in range(len(ds.records))]
    unique = sorted({c for caps in per_image for c in caps} | {""})
    pos = {c: i for i, c in enumerate(unique)}
    emb = enc.encode(unique).half().cpu()
    bank = {
        "embeddings": emb,
        "index": torch.tensor([[pos[c] for c in caps] for caps in per_image], dtype=torch.long),
        "uncond": emb[pos[""]].clone(),
        "captions": unique,
        "max_tokens": cfg.text.max_tokens,
        "n_images": len(ds.records),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(bank, path)
    return bank


def encode_prompts(cfg: FactoryConfig, prompts, device="cpu") -> torch.Tensor:
    return text_encoder_for(cfg, device).encode(list(prompts)).to(device)


def latents_and_bank(cfg: FactoryConfig, device):
    """Everything a diffusion stage trains on, on `device`: scaled latents, caption embeddings, indices."""
    ds = EmojiDataset(Path(cfg.data.folder))
    lat_path = Path(cfg.run_dir) / "ae" / "latents.npy"
    if not lat_path.exists():
        raise FileNotFoundError(f"{lat_path} missing: run the `ae` stage first")
    latents = torch.from_numpy(np.load(lat_path).astype(np.float32)).to(device)
    bank = caption_bank(cfg, ds, device=device)
    return ds, latents, bank
