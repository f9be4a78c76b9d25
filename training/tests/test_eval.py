"""The classifier, eval and grain stages: the committed instrument, cached images, the grain figure."""
from pathlib import Path

import numpy as np
import torch


def test_the_committed_classifier_is_used_only_on_the_dataset_it_was_trained_on(tiny_trained, tmp_path, monkeypatch):
    import dataclasses

    import factory.classifier as classifier
    from factory.classifier import load_classifier, restore_instrument, save_instrument, to_input, train_classifier
    from factory.dataset import EmojiDataset

    def run_in(name, committed):
        return dataclasses.replace(tiny_trained, run_dir=str(tmp_path / name),
                                   eval=dataclasses.replace(tiny_trained.eval, committed_classifier=committed))

    trained = run_in("trained", False)
    train_classifier(trained)
    monkeypatch.setattr(classifier, "INSTRUMENT", save_instrument(trained, tmp_path / "classifier.safetensors"))
    ds = EmojiDataset(Path(trained.data.folder))
    x = to_input(ds.images[:4])

    def same_instrument(a, b):
        return all(torch.equal(p, q) for p, q in zip(load_classifier(a)(x), load_classifier(b)(x)))

    # a run whose finished classifier was trained here (a stale run folder) measures with the committed one
    stale = run_in("stale", False)
    train_classifier(dataclasses.replace(stale, seed=stale.seed + 1))
    assert not same_instrument(trained, stale)
    report = train_classifier(run_in("stale", True))
    assert report["restored_from"] == "classifier.safetensors" and len(report["sha256"]) == 16
    assert same_instrument(trained, stale)
    # with the flag off the run keeps (or trains) its own
    assert "restored_from" not in train_classifier(run_in("own", False))
    # another dataset: its classes are other concepts (or another order), so the instrument does not fit
    ds.concepts = ds.concepts[::-1]
    assert restore_instrument(run_in("other", True), ds, classifier.INSTRUMENT) is None
    assert not (tmp_path / "other" / "classifier").exists()


def test_cached_eval_images_are_reused_only_for_the_same_prompts(tiny_trained, tmp_path):
    # Another prompts_per_split draws other concepts: a cache of equal length must not be reused.
    import dataclasses

    from factory.evaluate import generate_for, images_path

    cfg = dataclasses.replace(tiny_trained, eval=dataclasses.replace(tiny_trained.eval, name="eval-cache-test"))
    sets = {"train": [("red apple, noto emoji", 0, 10_000)], "val": [("rocket, noto emoji", 1, 20_000)],
            "paraphrase": [("a drawing of red apple", 0, 30_000)], "diversity": [("red apple", 0, 40_000)] * 2}
    first = generate_for(cfg, "teacher@2x3.0", sets)
    stamp = images_path(cfg, "teacher@2x3.0").stat().st_mtime_ns
    again = generate_for(cfg, "teacher@2x3.0", sets)
    assert images_path(cfg, "teacher@2x3.0").stat().st_mtime_ns == stamp  # same prompts: read back
    assert all(np.array_equal(first[k], again[k]) for k in sets)
    other = {**sets, "train": [("rocket, twemoji emoji", 1, 10_000)]}
    changed = generate_for(cfg, "teacher@2x3.0", other)
    assert not np.array_equal(changed["train"], first["train"])  # generated anew, not the cached apple
    assert np.array_equal(changed["val"], first["val"])  # same prompt + seed + model: same image


def test_grain_stage_measures_students_and_writes_its_grid(tiny_trained):
    import copy as copy_mod

    from factory.distill import train_student
    from factory.grain import grain, measure_grain

    flat = torch.zeros(1, 4, 8, 8)
    checker = (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)).remainder(2).float().expand(1, 4, 8, 8)
    assert grain(flat) == 0 and grain(checker) > 0.1
    train_student(tiny_trained, "dmd2")
    cfg = copy_mod.deepcopy(tiny_trained)
    cfg.eval.students = ("dmd2",)
    report = measure_grain(cfg, n=8, steps=2)
    assert {"student:dmd2", "student:dmd2 polished", "real (train latents)"} <= set(report["rows"])
    assert all(v >= 0 and np.isfinite(v) for r in report["rows"].values() for v in r.values())
    assert (Path(cfg.run_dir) / "grain" / "dmd2-autoencoder.png").exists()
    # the refined eval rows: the student's images after one teacher step, another image, same layout
    from factory.evaluate import generate_for

    sets = {"train": [("red apple, noto emoji", 0, 10_000)], "diversity": [("red apple", 0, 40_000)] * 2}
    cfg.eval.name = "eval-refined-test"
    one, refined = generate_for(cfg, "student:dmd2", sets), generate_for(cfg, "refined:dmd2", sets)
    assert refined["train"].shape == one["train"].shape and not np.array_equal(refined["train"], one["train"])
