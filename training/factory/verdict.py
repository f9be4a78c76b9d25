"""Student vs teacher against the distillation targets, each figure with a 95 % bootstrap interval.

With 60 prompts per split one prompt is 1.7 points of accuracy, so a bare difference of a few
points says nothing about a 3-point target. Every model answers the same prompts with the same
seeds, so the bootstrap draws one resample of the prompts and applies it to every model (paired):
the interval of a student-minus-teacher difference then reflects which prompts were drawn, not
two independent draws. The real images that FID compares against are held fixed.

A target is "met" when the whole interval is on the good side of it, "missed" when the whole
interval is on the bad side, and "undecided" when the interval contains it: more prompts are
needed before anyone may claim either.
"""
from __future__ import annotations

import numpy as np

from .config import FactoryConfig
from .metrics import SPLITS, frechet

# figure → (direction, bound): the targets of the distillation issue. Accuracy gaps are
# student − teacher in points; ratios are student / teacher.
TARGETS = {
    "fid_ratio": ("<=", 1.1),
    "train_top1_gap": (">=", -3.0),
    "val_top1_gap": (">=", -3.0),
    "paraphrase_top1_gap": (">=", -3.0),
    "diversity_ratio": (">=", 0.8),
    "grain_ratio": ("<=", 1.1),
}


def resamples(scores: dict, n_boot: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Index arrays [n_boot, n] per split and for the diversity prompts, shared by every model."""
    rng = np.random.default_rng(seed)
    idx = {name: rng.integers(0, len(scores["top1"][name]), (n_boot, len(scores["top1"][name]))) for name in SPLITS}
    idx["diversity"] = rng.integers(0, len(scores["diversity"]), (n_boot, len(scores["diversity"])))
    return idx


def replicates(scores: dict, real_feats: np.ndarray, idx: dict[str, np.ndarray], fid_resamples: int) -> dict[str, np.ndarray]:
    """One model's figures under each resample (item_scores layout in, one value per resample out).
    FID, a matrix square root per resample, uses only the first `fid_resamples` of them."""
    out = {f"{name}_top1": scores["top1"][name][idx[name]].mean(1) * 100 for name in SPLITS}
    out["diversity"] = scores["diversity"][idx["diversity"]].mean(1)
    if "grain" in scores:  # per image of the three splits, resampled with the same prompts
        out["grain"] = np.concatenate([scores["grain"][n][idx[n]] for n in SPLITS], axis=1).mean(1)
    out["fid"] = np.array([frechet(np.concatenate([scores["feats"][n][idx[n][b]] for n in SPLITS]), real_feats)
                           for b in range(min(fid_resamples, len(idx["diversity"])))])
    return out


def judge(lo: float, hi: float, target: tuple[str, float]) -> str:
    op, bound = target
    good = (lambda v: v <= bound) if op == "<=" else (lambda v: v >= bound)
    if good(lo) and good(hi):
        return "met"
    if not good(lo) and not good(hi):
        return "missed"
    return "undecided"


def paired(a: dict, b: dict, rep_a: dict, rep_b: dict) -> dict:
    """Model a against model b: each figure's value (from all prompts) and 95 % interval (resamples)."""
    # FID of a resample (repeated images) is inflated for every model alike (~9 points at 60 prompts
    # per split), which would pull a ratio of resampled FIDs towards 1 (2.33 came out as [1.60, 2.17]).
    # The difference keeps its centre (4.8 → mean 4.4 over resamples), so the ratio's interval comes
    # from it.
    pairs = {
        "fid_ratio": (a["fid"] / b["fid"], 1 + (rep_a["fid"] - rep_b["fid"]) / b["fid"]),
        "diversity_ratio": (a["diversity"] / b["diversity"], rep_a["diversity"] / rep_b["diversity"]),
    }
    for name in SPLITS:
        k = f"{name}_top1"
        pairs[f"{name}_top1_gap"] = (a[k] - b[k], rep_a[k] - rep_b[k])
    if "grain" in rep_a and "grain" in rep_b:
        pairs["grain_ratio"] = (a["grain"] / b["grain"], rep_a["grain"] / rep_b["grain"])
    out = {}
    for figure, (value, reps) in pairs.items():
        lo, hi = (float(v) for v in np.percentile(reps, [2.5, 97.5]))
        out[figure] = {"value": float(value), "lo": lo, "hi": hi}
    return out


# FID carries a small-sample bias that is the same for every model and pulls any ratio towards 1
# (real vs real, its floor here, is 14.7 at 60 prompts per split and 2.3 at 600). A ratio pulled
# towards 1 can only look better than it is: when the floor is a large share of the teacher's FID,
# "missed" stands but "met" is not trusted.
FID_FLOOR_SHARE = 0.25


def compare(student: dict, teacher: dict, rep_s: dict, rep_t: dict, fid_floor: float | None = None) -> dict:
    """Student vs teacher against TARGETS: each figure with its interval and met / missed / undecided.
    `fid_floor`: the real-vs-real FID at this sample size."""
    out = paired(student, teacher, rep_s, rep_t)
    for figure, f in out.items():
        f["target"] = f"{TARGETS[figure][0]} {TARGETS[figure][1]}"
        f["verdict"] = judge(f["lo"], f["hi"], TARGETS[figure])
    if fid_floor is not None and fid_floor > FID_FLOOR_SHARE * teacher["fid"] and out["fid_ratio"]["verdict"] == "met":
        out["fid_ratio"]["verdict"] = "undecided (FID floor)"
    return out


# For two students: the side of "no difference" on which a figure says the first one is better.
BETTER = {"fid_ratio": ("<=", 1.0), "diversity_ratio": (">=", 1.0), "train_top1_gap": (">=", 0.0),
          "val_top1_gap": (">=", 0.0), "paraphrase_top1_gap": (">=", 0.0), "grain_ratio": ("<=", 1.0)}


def contrast(name_a: str, name_b: str, a: dict, b: dict, rep_a: dict, rep_b: dict) -> dict:
    """Ablation: student a against student b, each figure saying which is better, or that the
    interval cannot tell."""
    out = paired(a, b, rep_a, rep_b)
    for figure, f in out.items():
        op, even = BETTER[figure]
        # strictly: an interval that touches "no difference" (two equal students give [0, 0]) says nothing
        a_side = (lambda v: v < even) if op == "<=" else (lambda v: v > even)
        b_side = (lambda v: v > even) if op == "<=" else (lambda v: v < even)
        f["verdict"] = (f"{name_a} better" if a_side(f["lo"]) and a_side(f["hi"]) else
                        f"{name_b} better" if b_side(f["lo"]) and b_side(f["hi"]) else "no difference shown")
    return out


def judge_students(cfg: FactoryConfig, rows: dict, scores: dict, real_feats: np.ndarray) -> tuple[dict, dict]:
    """Every student against each reference teacher that was evaluated ({student: {teacher: figures}}),
    and the ablation pairs of cfg.eval.ablation_pairs that were evaluated ({"a vs b": figures})."""
    teachers = [t for t in cfg.eval.reference_teachers if t in scores]
    if len(teachers) < len(cfg.eval.reference_teachers):  # e.g. [25, 5] in teacher_settings is teacher@25x5
        print(f"eval: reference teachers not evaluated, no verdicts against them: "
              f"{sorted(set(cfg.eval.reference_teachers) - set(teachers))} (evaluated: {[k for k in scores if k.startswith('teacher@')]})")
    students = [k for k in scores if k.startswith("student:")]
    pairs = [(f"student:{a}", f"student:{b}") for a, b in cfg.eval.ablation_pairs
             if f"student:{a}" in scores and f"student:{b}" in scores]
    if not students or not (teachers or pairs):
        return {}, {}
    idx = resamples(scores[students[0]], cfg.eval.bootstrap_resamples)
    reps = {k: replicates(scores[k], real_feats, idx, cfg.eval.fid_resamples) for k in teachers + students}
    floor = rows.get("real vs real", {}).get("fid")
    vs_teacher = {s: {t: compare(rows[s], rows[t], reps[s], reps[t], floor) for t in teachers} for s in students} if teachers else {}
    ablation = {f"{a} vs {b}": contrast(a.split(":")[1], b.split(":")[1], rows[a], rows[b], reps[a], reps[b]) for a, b in pairs}
    return vs_teacher, ablation


def judge_pipelines(cfg: FactoryConfig, rows: dict, scores: dict, base_rows: dict, base_scores: dict,
                    real_feats: np.ndarray) -> dict:
    """Each model through this evaluation's pipeline against the same model through the baseline's
    (eval.baseline), same prompts and seeds, paired resamples: {model: figures, "this"/"baseline" better}."""
    keys = [k for k in scores if k in base_scores]
    if not keys:
        return {}
    idx = resamples(scores[keys[0]], cfg.eval.bootstrap_resamples)
    out = {}
    for k in keys:
        rep, base = (replicates(s[k], real_feats, idx, cfg.eval.fid_resamples) for s in (scores, base_scores))
        out[k] = contrast("this", "baseline", rows[k], base_rows[k], rep, base)
    return out


# three decimals for ratios: at two, a missed 1.1003 would print as the bar itself
COLUMNS = [("fid_ratio", "FID ratio", "{:.3f}"), ("train_top1_gap", "train top-1 gap, points", "{:+.1f}"),
           ("val_top1_gap", "val top-1 gap", "{:+.1f}"), ("paraphrase_top1_gap", "paraphrase top-1 gap", "{:+.1f}"),
           ("diversity_ratio", "diversity ratio", "{:.3f}"), ("grain_ratio", "grain ratio", "{:.3f}")]


def markdown_table(rows: dict[str, dict], first_column: str, with_targets: bool = False) -> str:
    """One row per comparison: every figure as value [lo, hi] and its verdict."""
    def bar(key):  # "(≥ −3)"
        op, bound = TARGETS[key]
        return f"({'≤' if op == '<=' else '≥'} {bound:g})".replace("-", "−")

    head = [f"{title} {bar(key)}" if with_targets else title for key, title, _ in COLUMNS]
    lines = [f"| {first_column} | " + " | ".join(head) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for label, figs in rows.items():
        cells = []
        for key, _, fmt in COLUMNS:
            if key not in figs:  # images without grain figures (generated before grain was measured)
                cells.append("–")
                continue
            f = figs[key]
            v, lo, hi = (fmt.format(x + 0.0) for x in (f["value"], f["lo"], f["hi"]))  # + 0.0: no "-0.0"
            cells.append(f"{v} [{lo}, {hi}] {f['verdict']}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def vs_teacher_rows(vs_teacher: dict) -> dict[str, dict]:
    return {f"{s} vs {t}": figs for s, by_teacher in vs_teacher.items() for t, figs in by_teacher.items()}
