"""verdict.py: paired bootstrap intervals and the met / missed / undecided rule, on synthetic scores."""
import numpy as np

from factory.metrics import SPLITS, frechet, summarize
from factory.verdict import compare, contrast, judge, replicates, resamples


def synthetic_scores(rng, n=60, dim=8, correct=0.5, shift=0.0, spread=1.0):
    return {
        "feats": {s: rng.normal(shift, 1.0, (n, dim)) for s in SPLITS},
        "top1": {s: rng.random(n) < correct for s in SPLITS},
        "top5": {s: np.ones(n, bool) for s in SPLITS},
        "diversity": rng.normal(spread, 0.1, 8),
    }


def judged(student, teacher, real, n_boot=100):
    idx = resamples(teacher, n_boot)
    return compare(summarize(student, real), summarize(teacher, real),
                   replicates(student, real, idx, n_boot), replicates(teacher, real, idx, n_boot))


def test_judge_needs_the_whole_interval_on_one_side():
    assert judge(1.0, 1.05, ("<=", 1.1)) == "met"
    assert judge(1.2, 1.3, ("<=", 1.1)) == "missed"
    assert judge(1.0, 1.2, ("<=", 1.1)) == "undecided"
    assert judge(-2.0, 4.0, (">=", -3.0)) == "met"
    assert judge(-9.0, -4.0, (">=", -3.0)) == "missed"


def test_a_student_identical_to_its_teacher_meets_every_target_exactly():
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (120, 8))
    teacher = synthetic_scores(rng)
    out = judged(teacher, teacher, real)
    for fig in ("train_top1_gap", "val_top1_gap", "paraphrase_top1_gap"):
        assert out[fig]["value"] == out[fig]["lo"] == out[fig]["hi"] == 0.0 and out[fig]["verdict"] == "met"
    assert out["fid_ratio"]["lo"] == out["fid_ratio"]["hi"] == 1.0 and out["fid_ratio"]["verdict"] == "met"
    assert out["diversity_ratio"]["verdict"] == "met"


def test_a_clearly_worse_student_misses_and_the_intervals_hold_the_values():
    rng = np.random.default_rng(1)
    real = rng.normal(0, 1, (120, 8))
    teacher = synthetic_scores(rng, correct=0.9)
    student = synthetic_scores(rng, correct=0.1, shift=1.5, spread=0.3)
    out = judged(student, teacher, real)
    assert out["train_top1_gap"]["verdict"] == "missed" and out["train_top1_gap"]["hi"] < -50
    assert out["fid_ratio"]["verdict"] == "missed" and out["diversity_ratio"]["verdict"] == "missed"
    for f in out.values():  # the FID ratio's interval too: it must not drift away from its value
        assert f["lo"] <= f["value"] <= f["hi"], f


def test_pairing_makes_one_differing_prompt_a_narrow_interval():
    # Same prompts for both models: a student that misses one prompt the teacher gets right is
    # 1.7 points under, and the paired interval stays within a few points of that (unpaired
    # resampling of two 50 % accuracies would span about ±18 points).
    rng = np.random.default_rng(2)
    real = rng.normal(0, 1, (120, 8))
    teacher = synthetic_scores(rng)
    student = {**teacher, "top1": {s: v.copy() for s, v in teacher["top1"].items()}}
    right = int(np.flatnonzero(teacher["top1"]["train"])[0])
    student["top1"]["train"][right] = False
    gap = judged(student, teacher, real)["train_top1_gap"]
    assert abs(gap["value"] + 100 / 60) < 1e-9
    assert -6 < gap["lo"] <= gap["value"] <= gap["hi"] <= 0


def test_ablation_contrast_names_the_better_student_only_when_the_interval_excludes_a_tie():
    rng = np.random.default_rng(3)
    real = rng.normal(0, 1, (120, 8))
    good = synthetic_scores(rng, correct=0.9)
    bad = synthetic_scores(rng, correct=0.1, shift=1.5, spread=0.3)
    idx = resamples(good, 100)
    rep_good, rep_bad = replicates(good, real, idx, 100), replicates(bad, real, idx, 100)
    out = contrast("a", "b", summarize(good, real), summarize(bad, real), rep_good, rep_bad)
    assert {f["verdict"] for f in out.values()} == {"a better"}
    same = contrast("a", "b", summarize(good, real), summarize(good, real), rep_good, rep_good)
    assert {f["verdict"] for f in same.values()} == {"no difference shown"}  # [0, 0] is a tie, not a win


def test_a_met_fid_target_is_not_trusted_when_the_small_sample_floor_dominates():
    rng = np.random.default_rng(4)
    real = rng.normal(0, 1, (120, 8))
    teacher = synthetic_scores(rng)
    idx = resamples(teacher, 50)
    rep = replicates(teacher, real, idx, 50)
    row = summarize(teacher, real)
    assert compare(row, row, rep, rep)["fid_ratio"]["verdict"] == "met"
    assert compare(row, row, rep, rep, fid_floor=0.5 * row["fid"])["fid_ratio"]["verdict"] == "undecided (FID floor)"
    assert compare(row, row, rep, rep, fid_floor=0.1 * row["fid"])["fid_ratio"]["verdict"] == "met"


def test_frechet_equals_the_textbook_formula_with_scipys_matrix_square_root():
    # frechet() takes tr sqrt(S1 S2) from eigenvalues for speed; scipy's sqrtm is the reference.
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (200, 16)) @ rng.normal(0, 1, (16, 16))
    b = rng.normal(0.5, 2, (150, 16))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    textbook = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * sqrtm(s1 @ s2).real)
    assert abs(frechet(a, b) - textbook) < 1e-6 * textbook
    assert abs(frechet(a, a)) < 1e-6 and frechet(a, b) > 1.0


def test_grain_is_judged_when_both_sides_have_it_and_pipelines_are_contrasted_per_model():
    from factory.config import FactoryConfig
    from factory.verdict import judge_pipelines

    rng = np.random.default_rng(3)
    real = rng.normal(0, 1, (120, 8))
    teacher = synthetic_scores(rng)
    grainy = {**teacher, "grain": {s: rng.normal(4.0, 0.3, 60) for s in SPLITS}}
    smooth = {**teacher, "grain": {s: rng.normal(3.0, 0.3, 60) for s in SPLITS}}
    out = judged(grainy, smooth, real)
    assert out["grain_ratio"]["verdict"] == "missed" and out["grain_ratio"]["lo"] > 1.1
    assert "grain_ratio" not in judged(teacher, teacher, real)  # no grain figures: no column
    cfg = FactoryConfig()
    cfg.eval.bootstrap_resamples = cfg.eval.fid_resamples = 100
    rows = {"student:a": summarize(smooth, real)}
    base_rows = {"student:a": summarize(grainy, real)}
    out = judge_pipelines(cfg, rows, {"student:a": smooth}, base_rows, {"student:a": grainy}, real)
    assert out["student:a"]["grain_ratio"]["verdict"] == "this better"
    assert out["student:a"]["train_top1_gap"]["verdict"] == "no difference shown"
