"""The evaluation's metrics, from the committed classifier's outputs on generated images: per-prompt
scores (features, top-1 / top-5, diversity, grain), their summary, and the Frechet distance.
Pure functions of arrays, shared by evaluate.py (which makes the images) and verdict.py (which
resamples the scores): neither imports the other.
"""
from __future__ import annotations

import numpy as np
import torch


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance of two feature sets; tr sqrt(S1 S2) as the sum of the square roots of the
    eigenvalues of S1 S2 (real and >= 0 for a product of covariances): equal to scipy's sqrtm to 1e-8
    and 4x faster, which the bootstrap in verdict.py needs."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


SPLITS = ("train", "val", "paraphrase")


def item_scores(clf, images: dict[str, np.ndarray], sets: dict) -> dict:
    """Per prompt: classifier features, whether the intended concept is top-1 / in the top 5, and per
    diversity prompt the mean pairwise feature distance over its seeds. metrics() summarises these;
    verdict.py resamples them."""
    from .classifier import features_and_logits

    out = {"feats": {}, "top1": {}, "top5": {}}
    for name in SPLITS:
        feats, logits = features_and_logits(clf, images[name])
        target = torch.tensor([c for _, c, _ in sets[name]])
        top5 = torch.from_numpy(logits).topk(5, dim=1).indices
        out["feats"][name] = feats
        out["top1"][name] = (top5[:, 0] == target).numpy()
        out["top5"][name] = (top5 == target[:, None]).any(1).numpy()
    if all(f"grain_{name}" in images for name in SPLITS):
        out["grain"] = {name: images[f"grain_{name}"] for name in SPLITS}
    feats, _ = features_and_logits(clf, images["diversity"])
    seeds = len(sets["diversity"]) // len({c for _, c, _ in sets["diversity"]})
    feats = feats.reshape(-1, seeds, feats.shape[-1])
    d = np.linalg.norm(feats[:, :, None] - feats[:, None, :], axis=-1)
    iu = np.triu_indices(seeds, 1)
    out["diversity"] = d[:, iu[0], iu[1]].mean(1)
    return out


def summarize(scores: dict, real_feats: np.ndarray) -> dict:
    res = {}
    for name in SPLITS:
        res[f"{name}_top1"] = float(scores["top1"][name].mean() * 100)
        res[f"{name}_top5"] = float(scores["top5"][name].mean() * 100)
    res["fid"] = frechet(np.concatenate([scores["feats"][n] for n in SPLITS]), real_feats)
    res["diversity"] = float(scores["diversity"].mean())
    if "grain" in scores:
        res["grain"] = float(np.concatenate([scores["grain"][n] for n in SPLITS]).mean())
    return res


def metrics(clf, images: dict[str, np.ndarray], sets: dict, real_feats: np.ndarray) -> dict:
    return summarize(item_scores(clf, images, sets), real_feats)
