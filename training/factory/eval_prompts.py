"""The fixed evaluation prompt sets, shared by every model we measure (same prompts, same seeds).

  train        captions of training concepts (seen during training)
  val          captions of validation concepts (never seen: the split is by concept)
  paraphrase   training concepts described with wordings that never occur in any caption
  diversity    a few prompts x several seeds, for per-prompt diversity

Each item: (prompt, concept index, seed). Images are generated at 128 px and stored at 64 px,
the classifier's input size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .config import FactoryConfig
from .diffusion import seeded_noise

PARAPHRASE_TEMPLATES = (
    "a drawing of {label}",
    "an icon that shows {label}",
    "{label} as a small flat picture",
    "picture: {label}",
)


def eval_prompt_sets(ds, prompts_per_split: int, diversity_prompts: int, diversity_seeds: int) -> dict:
    rng = np.random.default_rng(1234)
    concepts = ds.concepts
    train_c = [i for i, c in enumerate(concepts) if c["split"] == "train"]
    val_c = [i for i, c in enumerate(concepts) if c["split"] == "val"]
    styles = ds.meta["styles"]
    sets: dict[str, list] = {}

    def pick(pool, n):
        return [int(x) for x in rng.choice(pool, size=min(n, len(pool)), replace=False)]

    sets["train"] = [(f"{concepts[c]['label']}, {styles[k % len(styles)]} emoji", c, 10_000 + k)
                     for k, c in enumerate(pick(train_c, prompts_per_split))]
    sets["val"] = [(f"{concepts[c]['label']}, {styles[k % len(styles)]} emoji", c, 20_000 + k)
                   for k, c in enumerate(pick(val_c, prompts_per_split))]
    sets["paraphrase"] = [(PARAPHRASE_TEMPLATES[k % len(PARAPHRASE_TEMPLATES)].format(label=concepts[c]["label"]), c, 30_000 + k)
                          for k, c in enumerate(pick(train_c, prompts_per_split))]
    sets["diversity"] = [(concepts[c]["label"], c, 40_000 + s)
                         for c in pick(train_c, diversity_prompts) for s in range(diversity_seeds)]
    return sets


@torch.no_grad()
def generate_set(items, sampler, text_encoder, decode, device, batch=256) -> tuple[np.ndarray, np.ndarray]:
    """sampler(noise, cond, uncond) -> latents; decode(latents) -> 128 px images in [-1, 1].
    Returns uint8 [N, 64, 64, 3] (what the classifier sees) and each 128 px image's grain."""
    import torch.nn.functional as F

    from .grain import image_grain

    out, grains = [], []
    uncond = text_encoder.encode([""]).to(device)
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        cond = text_encoder.encode([p for p, _, _ in chunk]).to(device)
        noise = seeded_noise([s for _, _, s in chunk]).to(device)
        z = sampler(noise, cond, uncond.expand(len(chunk), -1, -1)).float()
        img = decode(z).float().clamp(-1, 1)
        grains.append(image_grain(img).cpu().numpy())
        img = F.avg_pool2d(img, 2)
        out.append(((img + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out), np.concatenate(grains)


def ds_prompts(cfg: FactoryConfig) -> list[str]:
    """Every evaluation prompt (the largest evaluation's sets: 600 per split), for the text encoder's cosine."""
    from .dataset import EmojiDataset

    sets = eval_prompt_sets(EmojiDataset(Path(cfg.data.folder)), 600, 24, 8)
    return sorted({p for v in sets.values() for p, _, _ in v})
