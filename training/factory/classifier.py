"""The evaluation classifier: a small CNN that names the concept of a 64x64 emoji image.

Trained on real images only (every concept, every style, with augmentation: shifts, scale,
colour jitter, blur, noise), it is the measuring instrument of evaluate.py: its penultimate
features give the classifier-FID and diversity, its logits give prompt accuracy. It knows every
concept, including those held out from the generators, so it can score unseen-concept prompts.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .common import Timer, load_checkpoint, read_bundle, save_checkpoint, sha256_file, write_bundle, write_json
from .config import FactoryConfig, to_dict
from .dataset import EmojiDataset

FEATURE_DIM = 256
# The instrument, committed (~4 MB): a classifier retrained on another machine has other features
# (same config and seed, real-vs-real FID 2.32 in session 9, 2.43 in session 10), so without it no
# two sessions' figures compare, and every fresh machine spent ~8 minutes retraining it.
INSTRUMENT = Path(__file__).resolve().parent.parent / "checkpoints" / "classifier.safetensors"


def block(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class ConceptClassifier(nn.Module):
    def __init__(self, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            block(3, 32, 2), block(32, 64, 2), block(64, 64, 1), block(64, 128, 2), block(128, 128, 1),
            block(128, FEATURE_DIM, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(FEATURE_DIM, n_classes)
        self.report: dict = {}

    def forward(self, x):
        f = self.body(x)
        return f, self.head(f)


def to_input(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC (any size) -> float NCHW 64x64 in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-1] != 64:
        x = F.interpolate(x, size=64, mode="area")
    return x


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    scale = 1 + (torch.rand(b, generator=g) - 0.5) * 0.3
    shift = (torch.rand(b, 2, generator=g) - 0.5) * 0.2
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x + 1, grid, padding_mode="zeros", align_corners=False) - 1  # pads with white
    x = x * (1 + (torch.rand(b, 1, 1, 1, generator=g) - 0.5) * 0.3) + (torch.rand(b, 3, 1, 1, generator=g) - 0.5) * 0.2
    blur = torch.rand(b, generator=g) < 0.4
    if blur.any():
        x[blur] = F.avg_pool2d(x[blur], 3, 1, 1, count_include_pad=False)
    x = x + torch.randn(x.shape, generator=g) * torch.rand(b, 1, 1, 1, generator=g) * 0.1
    return x.clamp(-1, 1)


def classifier_path(cfg: FactoryConfig) -> Path:
    return Path(cfg.run_dir) / "classifier" / "classifier.pt"


def train_classifier(cfg: FactoryConfig) -> dict:
    ds = EmojiDataset(Path(cfg.data.folder))
    # The committed instrument first: a run folder kept from before it was committed (or replaced)
    # must not go on measuring with another classifier. Restoring it costs a second.
    if cfg.eval.committed_classifier and INSTRUMENT.exists():
        report = restore_instrument(cfg, ds, INSTRUMENT)
        if report is not None:
            return report
    ck = load_checkpoint(classifier_path(cfg))
    if ck is not None and ck.get("final"):
        print("classifier: finished checkpoint found, skipping")
        return ck["report"]
    labels = torch.tensor([r["concept"] for r in ds.records])
    x_all = to_input(ds.images)
    model = ConceptClassifier(len(ds.concepts))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=5e-4)
    g = torch.Generator().manual_seed(cfg.seed)
    steps = cfg.eval.classifier_steps
    timer = Timer(cfg.eval.classifier_time_budget_s, 1e9)
    bar = tqdm(range(steps), desc="classifier")
    for step in bar:
        if timer.out_of_time():
            break
        for group in opt.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(len(x_all), (128,), generator=g)
        _, logits = model(augment(x_all[idx], g))
        loss = F.cross_entropy(logits, labels[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    with torch.no_grad():
        g2 = torch.Generator().manual_seed(99)
        aug_acc = np.mean([(model(augment(x_all[i:i + 512], g2))[1].argmax(1) == labels[i:i + 512]).float().mean().item()
                           for i in range(0, len(x_all), 512)])
    report = {"steps": steps, "classes": len(ds.concepts), "images": len(x_all),
              "augmented_real_top1": float(aug_acc * 100), "train_seconds": round(timer.elapsed(), 1)}
    print(f"classifier: top-1 on augmented real images {report['augmented_real_top1']:.1f}%")
    return finish_classifier(cfg, model.state_dict(), len(ds.concepts), report)


def finish_classifier(cfg: FactoryConfig, state: dict, classes: int, report: dict) -> dict:
    path = classifier_path(cfg)
    save_checkpoint(path, {"config": to_dict(cfg), "model": state, "classes": classes, "final": True, "report": report})
    write_json(path.parent / "report.json", report)
    return report


def concepts_key(ds: EmojiDataset) -> str:
    """Names the classifier's output classes, in order: an instrument fits a dataset only if they match."""
    return hashlib.sha256(json.dumps([c["label"] for c in ds.concepts]).encode()).hexdigest()[:16]


def save_instrument(cfg: FactoryConfig, path: Path = INSTRUMENT) -> Path:
    """`python -m factory classifier-milestone`: commit this run's classifier as the instrument."""
    ck = load_checkpoint(classifier_path(cfg))
    if ck is None or not ck.get("final"):
        raise FileNotFoundError(f"no finished classifier in {cfg.run_dir}/classifier: run the `classifier` stage first")
    ds = EmojiDataset(Path(cfg.data.folder))
    if ck["classes"] != len(ds.concepts):
        raise RuntimeError(f"the run's classifier names {ck['classes']} concepts, {cfg.data.folder} has {len(ds.concepts)}: "
                           "it was trained on another dataset")
    write_bundle(path, ck["model"], {"classes": ck["classes"], "concepts_key": concepts_key(ds), "report": ck["report"]})
    print(f"classifier: saved the instrument to {path}")
    return path


def restore_instrument(cfg: FactoryConfig, ds: EmojiDataset, path: Path = INSTRUMENT) -> dict | None:
    """The committed classifier as this run's, when it names this dataset's concepts; else None (train one)."""
    tensors, meta = read_bundle(path)
    if meta.get("concepts_key") != concepts_key(ds):
        print(f"classifier: {path.name} was not trained on this dataset's concepts; training one for it")
        return None
    # The evaluation report carries this: which instrument measured its figures.
    report = {"restored_from": path.name, "sha256": sha256_file(path)[:16],
              "classes": meta["classes"], "as_trained": meta["report"]}
    print(f"classifier: using the committed instrument {path.name} ({report['sha256']}; top-1 on augmented "
          f"real images {meta['report']['augmented_real_top1']:.1f}% where it was trained)")
    return finish_classifier(cfg, tensors, meta["classes"], report)


def load_classifier(cfg: FactoryConfig) -> ConceptClassifier:
    ck = load_checkpoint(classifier_path(cfg))
    if ck is None:
        raise FileNotFoundError(f"no classifier in {cfg.run_dir}/classifier: run the `classifier` stage first")
    m = ConceptClassifier(ck["classes"])
    m.load_state_dict(ck["model"])
    m.report = ck["report"]
    return m.eval()


@torch.no_grad()
def features_and_logits(model: ConceptClassifier, images_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    feats, logits = [], []
    for i in range(0, len(images_u8), 256):
        f, logit = model(to_input(images_u8[i:i + 256]))
        feats.append(f.numpy())
        logits.append(logit.numpy())
    return np.concatenate(feats), np.concatenate(logits)


def real_eval_images(ds: EmojiDataset, sets: dict) -> tuple[np.ndarray, np.ndarray]:
    """Real images of the evaluated concepts: A in the prompted style (the FID reference), B in another
    style of the same concept (the real-vs-real row)."""
    by_concept: dict[int, dict[str, int]] = {}
    for i, r in enumerate(ds.records):
        by_concept.setdefault(r["concept"], {})[r["style"]] = i
    styles = ds.meta["styles"]
    a, b = [], []
    for name in ("train", "val", "paraphrase"):
        for k, (_, c, _) in enumerate(sets[name]):
            avail = by_concept[c]
            want = styles[k % len(styles)]
            first = avail.get(want, next(iter(avail.values())))
            others = [i for i in avail.values() if i != first] or [first]
            a.append(first)
            b.append(others[k % len(others)])
    return downsample_u8(ds.images[np.array(a)]), downsample_u8(ds.images[np.array(b)])


def downsample_u8(images_u8: np.ndarray) -> np.ndarray:
    """128 px uint8 -> 64 px uint8 by 2x2 averaging, the same reduction generate_set applies."""
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float()
    return F.avg_pool2d(x, 2).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
