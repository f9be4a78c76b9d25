"""int4 weights chosen with calibration inputs (GPTQ, Frantar et al. 2022): the rounding itself.

Rounding each weight to its nearest int4 level (RTN) cost MiniLM a token cosine of 0.974–0.985
(LAB_NOTEBOOK.md, session 20): the errors of a layer's weights add up in its outputs. GPTQ rounds
one input column at a time and moves the rounding error onto the columns not yet rounded, weighted
by the inverse of the layer's input Hessian H = 2 X^T X, so the layer's *outputs* on real inputs
stay close. Which inputs calibrate which network is gptq_models.py's job.

Levels are unsigned 4-bit, asymmetric, in groups of `group` inputs per output (as MatMulNBits
groups K; a Conv's inputs are its in-channels x kernel taps), one fp16 scale and one zero level per
group, the scale's clipping chosen per group by least squares. onnx_grouped.py stores them. A token
table has no Hessian to speak of (each row is read alone): `rtn` rounds its rows to the nearest
level in groups, clipping chosen the same way.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

CLIP_SHRINK = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)


@dataclass
class GroupWeight:
    """W [out, in] ~ (q - zero) * scale, each group of `group` inputs of one output sharing a scale and zero."""
    q: np.ndarray  # uint8 [out, in], values 0 .. 2^bits - 1
    scale: np.ndarray  # float16 [out, in // group]
    zero: np.ndarray  # uint8 [out, in // group]
    group: int
    bits: int = 4

    def dequantized(self) -> np.ndarray:
        """What the graph computes with: (q - zero) * scale in float32 (onnx_grouped does the same arithmetic)."""
        out, inp = self.q.shape
        q = self.q.astype(np.float32).reshape(out, inp // self.group, self.group)
        z = self.zero.astype(np.float32)[..., None]
        s = self.scale.astype(np.float32)[..., None]
        return ((q - z) * s).reshape(out, inp)


def fingerprint(a: np.ndarray) -> str:
    """Identifies a weight in the exported graph by its float32 values (a MatMul stores Linear.weight.T)."""
    return hashlib.sha1(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()


def _levels(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.clamp(torch.round(w / scale) + zero, 0, 2 ** bits - 1)


def group_params(w: torch.Tensor, bits: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, zero) per row of w [rows, group]: the range (always holding 0) shrunk by the factor of
    CLIP_SHRINK with the least squared error; the scale already rounded to its fp16 storage."""
    lo = torch.minimum(w.min(1, keepdim=True).values, torch.zeros(1))
    hi = torch.maximum(w.max(1, keepdim=True).values, torch.zeros(1))
    best = None
    for shrink in CLIP_SHRINK:
        scale = ((hi - lo) * shrink / (2 ** bits - 1)).clamp(min=1e-8).half().float()
        zero = torch.round(-lo * shrink / scale).clamp(0, 2 ** bits - 1)
        err = (((_levels(w, scale, zero, bits) - zero) * scale - w) ** 2).sum(1, keepdim=True)
        if best is None:
            best = [scale, zero, err]
        else:
            better = err < best[2]
            best = [torch.where(better, a, b) for a, b in zip((scale, zero, err), best)]
    return best[0], best[1]


def rtn(w: torch.Tensor, group: int, bits: int = 4) -> GroupWeight:
    """Nearest-level rounding of w [rows, cols], groups of `group` columns per row (the token table)."""
    q = torch.zeros_like(w)
    scales, zeros = [], []
    for j in range(0, w.shape[1], group):
        s, z = group_params(w[:, j:j + group], bits)
        q[:, j:j + group] = _levels(w[:, j:j + group], s, z, bits)
        scales.append(s)
        zeros.append(z)
    return _pack(q, scales, zeros, group, bits)


def gptq(w: torch.Tensor, hessian: torch.Tensor, group: int, damp: float, bits: int = 4, block: int = 128) -> GroupWeight:
    """GPTQ of a Linear weight w [out, in] given H [in, in] of its inputs (column order, lazy
    block updates; the group's scale is fixed when its first column is reached)."""
    w = w.clone().float()
    cols = w.shape[1]
    h = hessian.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    scales, zeros = [], []
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1, err1, hi = w[:, i1:i2].clone(), torch.zeros(w.shape[0], i2 - i1), hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if (i1 + i) % group == 0:
                s, z = group_params(w1[:, i:i + group], bits)
                scales.append(s)
                zeros.append(z)
            col = w1[:, i:i + 1]
            level = _levels(col, s, z, bits)
            q[:, i1 + i] = level[:, 0]
            e = (col[:, 0] - ((level - z) * s)[:, 0]) / hi[i, i]
            w1[:, i:] -= e[:, None] @ hi[i:i + 1, i:]
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    return _pack(q, scales, zeros, group, bits)


def _pack(q, scales, zeros, group, bits) -> GroupWeight:
    return GroupWeight(q.to(torch.uint8).numpy(), torch.cat(scales, 1).half().numpy(),
                       torch.cat(zeros, 1).to(torch.uint8).numpy(), group, bits)


def weight_matrix(m: torch.nn.Module) -> torch.Tensor:
    """A Linear's or Conv2d's weight as [outputs, inputs] (a Conv's inputs in unfold's order)."""
    return m.weight.data.reshape(m.weight.shape[0], -1)


def collect_hessians(modules: list, run, rows_per_call: int | None = None, seed: int = 0) -> dict:
    """H = 2 X^T X / n of each module's inputs (a Conv2d's as unfold patches) over `run()`.
    rows_per_call: a random subset of each call's input rows. A Conv's X has a row per output
    position and in-channels x taps columns (1,728 for 192 channels): X^T X over every position of
    every call costs far more than the forward passes, and a few times 1,728 rows estimate H."""
    import torch.nn.functional as F

    hessians = {m: torch.zeros(weight_matrix(m).shape[1], weight_matrix(m).shape[1]) for m in modules}
    counts = dict.fromkeys(modules, 0)
    g = torch.Generator().manual_seed(seed)

    def collect(m, inp, out):  # returns None: a hook's return value would replace the output
        x = inp[0].float()
        if isinstance(m, torch.nn.Conv2d):
            x = F.unfold(x, m.kernel_size, m.dilation, m.padding, m.stride).transpose(1, 2)
        x = x.reshape(-1, x.shape[-1])
        if rows_per_call is not None and len(x) > rows_per_call:
            x = x[torch.randperm(len(x), generator=g)[:rows_per_call]]
        hessians[m].add_(x.T @ x)
        counts[m] += x.shape[0]

    hooks = [m.register_forward_hook(collect) for m in modules]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    return {m: 2 * h / max(counts[m], 1) for m, h in hessians.items()}
