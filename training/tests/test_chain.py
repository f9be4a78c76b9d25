"""The tiny chain for real: AE -> teacher -> checkpoint round trip -> DMD step -> export + ORT parity."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from factory.common import load_checkpoint
from factory.config import from_dict
from factory.browser_decoder import train_browser_decoder  # noqa: E402


def test_ae_and_teacher_write_finished_checkpoints(tiny_trained):
    run = Path(tiny_trained.run_dir)
    ae = load_checkpoint(run / "ae" / "ae.pt")
    assert ae["final"] and ae["scaling_factor"] > 0 and "config" in ae
    assert np.load(run / "ae" / "latents.npy").shape[1:] == (4, 16, 16)
    te = load_checkpoint(run / "teacher" / "teacher.pt")
    assert te["final"] and te["step"] == 2
    assert from_dict(te["config"]).teacher.block_out_channels == (32, 32, 32)  # config travels with weights
    assert (run / "teacher" / "samples_final.png").exists()


def test_interrupted_teacher_resumes_from_its_checkpoint(tiny_trained, tmp_path):
    from factory.teacher import train_teacher

    cfg = from_dict(json.loads(json.dumps(load_checkpoint(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt")["config"])))
    cfg.run_dir = tiny_trained.run_dir
    # simulate an interruption: a non-final checkpoint at step 2, then ask for 3 steps
    run2 = tmp_path / "run2"
    (run2 / "teacher").mkdir(parents=True)
    import shutil

    shutil.copytree(Path(tiny_trained.run_dir) / "ae", run2 / "ae")
    shutil.copy(Path(tiny_trained.run_dir) / "captions.pt", run2 / "captions.pt")
    ck = load_checkpoint(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt")
    ck.pop("final")
    torch.save(ck, run2 / "teacher" / "teacher.pt")
    cfg.run_dir = str(run2)
    cfg.teacher.max_steps = 3
    report = train_teacher(cfg)
    assert report["steps"] == 3  # resumed at 2, did one more


def test_one_distillation_step_updates_generator_and_fake_score(tiny_trained):
    from factory.distill import load_student, train_student
    from factory.teacher import load_teacher

    report = train_student(tiny_trained, "dmd2")
    assert report["generator_steps"] == 1 and report["critic_steps"] == 2
    ck = load_checkpoint(Path(tiny_trained.run_dir) / "distill" / "dmd2" / "student.pt")
    teacher = load_teacher(tiny_trained.run_dir).state_dict()
    changed = lambda sd: any(not torch.equal(sd[k].float(), teacher[k].float()) for k in teacher)  # noqa: E731
    assert changed(ck["model"]), "generator weights did not move"
    assert changed(ck["fake_score"]), "fake score weights did not move"
    student, _ = load_student(tiny_trained.run_dir, "dmd2")
    assert student.training is False


def test_init_from_starts_the_generator_from_a_finished_student(tiny_trained):
    """distill.init_from continues from another student's EMA weights instead of the teacher's."""
    import copy as copy_mod

    from factory.distill import train_student
    from factory.teacher import load_teacher

    train_student(tiny_trained, "dmd2")  # the starting point (returns at once if already trained)
    start_ck = load_checkpoint(Path(tiny_trained.run_dir) / "distill" / "dmd2" / "student.pt")
    start = start_ck["ema"]
    cfg = copy_mod.deepcopy(tiny_trained)
    cfg.distill.init_from = "dmd2"
    cfg.distill.max_generator_steps = 1
    cfg.distill.lr_generator = 0.0  # the generator cannot move: its EMA must stay at the start
    cfg.distill.lr_fake = 0.0  # nor can the critic: it must still be the start's fake score
    train_student(cfg, "dm")
    got_ck = load_checkpoint(Path(cfg.run_dir) / "distill" / "dm" / "student.pt")
    got = got_ck["ema"]
    teacher = load_teacher(tiny_trained.run_dir).state_dict()
    gap = lambda a, b: max((a[k].float() - b[k].float()).abs().max().item() for k in a)  # noqa: E731
    assert gap(got, start) <= 1e-6, "the generator did not start from the dmd2 student"
    assert gap(start, teacher) > 0 and gap(got, teacher) > gap(got, start), "the run started from the teacher"
    assert gap(got_ck["fake_score"], start_ck["fake_score"]) <= 1e-6, "the fake score restarted from the teacher"
    assert gap(start_ck["fake_score"], teacher) > 0, "the starting fake score never trained: the check above proves nothing"


def run_beside(cfg, run_dir: Path):
    """A copy of `cfg` writing to `run_dir`, which shares the trained AE and teacher of cfg's run."""
    import copy as copy_mod

    other = copy_mod.deepcopy(cfg)
    other.run_dir = str(run_dir)
    for part in ("ae", "teacher"):
        (run_dir / part).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / part).symlink_to(Path(cfg.run_dir) / part, target_is_directory=True)
    return other


def test_a_restarted_critic_trains_alone_first_and_a_carried_one_does_not(tiny_trained, tmp_path):
    """critic_warmup_steps: when the generator starts from a student whose checkpoint has no fake score
    (an imported ONNX student), the critic runs that many iterations before the generator's first step."""
    from factory.common import save_checkpoint
    from factory.distill import train_student

    train_student(tiny_trained, "dmd2")
    start_ck = load_checkpoint(Path(tiny_trained.run_dir) / "distill" / "dmd2" / "student.pt")
    reports = {}
    for start in ("slim", "dmd2"):
        cfg = run_beside(tiny_trained, tmp_path / start)
        # "slim": the start's EMA without its fake score (as `import-student` writes it)
        dropped = ("fake_score", "head", "model", "opt_g", "opt_f") if start == "slim" else ()
        save_checkpoint(Path(cfg.run_dir) / "distill" / start / "student.pt", {k: v for k, v in start_ck.items() if k not in dropped})
        cfg.distill.init_from, cfg.distill.critic_warmup_steps = start, 3
        cfg.distill.fake_updates_per_generator_step = 1  # DMD's: the counts below are warm-up only
        reports[start] = train_student(cfg, "dm")
    assert reports["slim"]["generator_steps"] == 1 and reports["slim"]["critic_steps"] == 4
    assert reports["slim"]["critic_warmup"] == 3
    assert reports["dmd2"]["critic_steps"] == 1 and reports["dmd2"]["critic_warmup"] == 0


def test_each_variant_takes_its_own_ttur_unless_one_is_set(tiny_trained, tmp_path):
    """fake_updates_per_generator_step: None gives DMD's 1 critic update per generator step to dm and
    DMD2's 5 to dmd2; a value set applies to every variant with a critic."""
    from factory.distill import train_student

    seen = {}
    for variant, setting in (("dm", None), ("dmd2", None), ("dm", 3), ("regression", 3)):
        cfg = run_beside(tiny_trained, tmp_path / f"{variant}-{setting}")
        cfg.distill.fake_updates_per_generator_step = setting
        report = train_student(cfg, variant)
        seen[(variant, setting)] = (report["ttur"], report["critic_steps"], report["generator_steps"])
    # regression alone has no critic: the setting does not apply to it
    assert seen == {("dm", None): (1, 1, 1), ("dmd2", None): (5, 5, 1), ("dm", 3): (3, 3, 1),
                    ("regression", 3): (1, 1, 1)}
    cfg = run_beside(tiny_trained, tmp_path / "zero")
    cfg.distill.fake_updates_per_generator_step = 0
    with pytest.raises(ValueError, match="at least 1"):
        train_student(cfg, "dm")


def test_the_gan_term_follows_the_variant_unless_set_and_a_fresh_head_warms_up_first(tiny_trained, tmp_path):
    """distill.gan: None keeps DMD2's GAN to dmd2; True adds it to dm/dmd (regression has no critic).
    Continuing a student trained without it, the untrained head learns with the critic before the
    generator's first step; continuing one trained with it (by variant or by the setting), or
    continuing without the term, needs no warm-up, and the start's head is carried over."""
    from factory.common import save_checkpoint
    from factory.distill import gan_on, train_student

    assert [gan_on(v, None) for v in ("regression", "dm", "dmd", "dmd2")] == [False, False, False, True]
    assert [gan_on(v, True) for v in ("regression", "dm", "dmd", "dmd2")] == [False, True, True, True]
    assert gan_on("dmd2", False) is False
    train_student(tiny_trained, "dmd2")
    starts = {"dmd2": load_checkpoint(Path(tiny_trained.run_dir) / "distill" / "dmd2" / "student.pt")}
    plain = run_beside(tiny_trained, tmp_path / "plain")
    plain.distill.fake_updates_per_generator_step = 1
    assert train_student(plain, "dm")["gan"] is False
    starts["plain"] = load_checkpoint(Path(plain.run_dir) / "distill" / "dm" / "student.pt")
    reports, heads = {}, {}

    def continue_from(name, start, gan, lr_fake=None):
        cfg = run_beside(tiny_trained, tmp_path / name)
        save_checkpoint(Path(cfg.run_dir) / "distill" / "start" / "student.pt", starts[start])
        cfg.distill.init_from, cfg.distill.critic_warmup_steps, cfg.distill.gan = "start", 2, gan
        cfg.distill.fake_updates_per_generator_step = 1
        if lr_fake is not None:
            cfg.distill.lr_fake = lr_fake
        reports[name] = train_student(cfg, "dmd")
        ck = load_checkpoint(Path(cfg.run_dir) / "distill" / "dmd" / "student.pt")
        heads[name] = ck["head"]
        return ck

    starts["gan-set"] = continue_from("plain+gan", "plain", True)
    continue_from("dmd2+gan", "dmd2", True, lr_fake=0.0)  # the critic cannot move: its head must be the start's
    continue_from("gan-set+gan", "gan-set", True)
    continue_from("plain-no-gan", "plain", None)
    counts = {k: (r["gan"], r["critic_warmup"], r["critic_steps"]) for k, r in reports.items()}
    assert counts == {"plain+gan": (True, 2, 3), "dmd2+gan": (True, 0, 1), "gan-set+gan": (True, 0, 1),
                      "plain-no-gan": (False, 0, 1)}
    differs = lambda a, b: any(not torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    assert differs(heads["plain+gan"], starts["plain"]["head"]), "the GAN head did not train"
    assert not differs(heads["dmd2+gan"], starts["dmd2"]["head"]), "the start's trained head was not carried over"
    assert differs(starts["dmd2"]["head"], starts["plain"]["head"]), "dmd2's head never trained: the check above proves nothing"


def test_a_resumed_student_reports_the_time_and_losses_of_the_runs_before_it(tiny_trained, tmp_path):
    from factory.common import save_checkpoint
    from factory.distill import train_student

    train_student(tiny_trained, "dmd2")
    ck = load_checkpoint(Path(tiny_trained.run_dir) / "distill" / "dmd2" / "student.pt")
    interrupted = {k: v for k, v in ck.items() if k not in ("final", "report")}
    interrupted.update(train_seconds=100.0, logs=[{"step": 0, "dm": 0.5}])
    cfg = run_beside(tiny_trained, tmp_path / "run")
    save_checkpoint(Path(cfg.run_dir) / "distill" / "dmd2" / "student.pt", interrupted)
    cfg.distill.max_generator_steps = ck["step"] + 1
    report = train_student(cfg, "dmd2")
    assert report["generator_steps"] == ck["step"] + 1
    assert report["train_seconds"] >= 100.0, "the interrupted run's time was dropped"
    assert {"step": 0, "dm": 0.5} in report["log_tail"], "the interrupted run's losses were dropped"
    saved = load_checkpoint(Path(cfg.run_dir) / "distill" / "dmd2" / "student.pt")
    assert saved["train_seconds"] >= 100.0 and {"step": 0, "dm": 0.5} in saved["logs"], "the checkpoint lost the records"


class ConstScore(torch.nn.Module):
    """A toy score whose denoised estimate is always x0 (for any x_t and t)."""

    def __init__(self, x0):
        super().__init__()
        self.x0 = x0

    def forward(self, x_t, t, encoder_hidden_states=None):
        from factory.diffusion import alphas_cumprod

        ab = alphas_cumprod()[t].float().view(-1, 1, 1, 1)
        eps = (x_t - ab.sqrt() * self.x0) / (1 - ab).sqrt()  # the eps that makes x0_hat = self.x0

        class Out:
            sample = eps
        return Out()


def test_dm_gradient_pushes_towards_the_real_score():
    """Toy case: if the real score says x0 = 0 and the fake says x0 = x, the step moves x towards 0."""
    from factory.diffusion import alphas_cumprod
    from factory.distill import distribution_matching_loss

    x = torch.full((2, 4, 4, 4), 1.0, requires_grad=True)
    real = ConstScore(torch.zeros(1))
    fake = ConstScore(x.detach().clone())
    cond = torch.zeros(2, 3, 8)
    loss, _ = distribution_matching_loss(x, cond, cond, real, fake, alphas_cumprod(), 1.0, 20, 980, torch.Generator().manual_seed(0))
    loss.backward()
    assert (x.grad > 0).all(), "gradient descent must decrease x towards the real score's x0 = 0"


def test_polish_gradient_removes_what_the_teacher_denoises_away():
    """Toy case: an output = smooth + checkerboard grain, a teacher that denoises to the smooth part:
    descent on the polish loss lowers exactly the grain."""
    from factory.distill import polish_loss

    smooth = torch.full((2, 4, 8, 8), 0.7)
    grain = 0.3 * (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)).remainder(2).mul(2).sub(1).expand(2, 4, 8, 8)
    x = (smooth + grain).requires_grad_(True)
    cond = torch.zeros(2, 3, 8)
    loss, log = polish_loss(x, cond, cond, ConstScore(smooth[:1]), 3.0, 50, 250, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.equal(torch.sign(x.grad), torch.sign(grain)), "descent must move each element against its grain"
    stepped = x.detach() - 0.5 * x.grad / x.grad.abs().max()
    assert (stepped - smooth).abs().max() < grain.abs().max(), "a step must shrink the grain"
    assert abs(log["polish_pull"] - 0.3) < 1e-4, "the logged pull is the grain's mean size"


def test_export_round_trip_passes_parity_and_manifest_validates(tiny_trained):
    from factory.distill import train_student
    from factory.common import sha256_file
    from factory.export import export_model
    from factory.manifest_schema import validate_manifest

    train_student(tiny_trained, tiny_trained.distill.variant)
    train_browser_decoder(tiny_trained)
    out = export_model(tiny_trained)
    manifest = json.loads((out / "manifest.json").read_text())
    validate_manifest(manifest)
    for f in manifest["files"].values():
        p = out / f["path"]
        assert p.stat().st_size == f["bytes"] and sha256_file(p) == f["sha256"]
    for key in ("text_encoder", "unet", "unet_teacher", "vae_decoder"):
        onnx.checker.check_model(str(out / manifest["files"][key]["path"]))
        assert manifest["export"][f"{key}_max_abs_err"] < 0.05
    # the browser parts: the decoder stage's network, an int8 text encoder close to fp32 MiniLM
    assert manifest["export"]["vae_decoder_kind"] == "browser" and manifest["export"]["vae_decoder_gflop"] > 0
    assert manifest["export"]["text_encoder_weights"] == "int8" and manifest["export"]["text_encoder_cosine_mean"] > 0.99
    assert manifest["one_step"]["timestep"] == 999 and abs(manifest["one_step"]["alpha_bar"] - 0.0046601) < 1e-6
    index = json.loads((out.parent / "index.json").read_text())
    assert [m["id"] for m in index["models"]] == ["tiny-test"]
    assert not list(out.parent.glob(".*staging"))
    # a re-export of unchanged UNets keeps the shipped bytes (no new download, no repository churn)
    again = json.loads((export_model(tiny_trained) / "manifest.json").read_text())
    for key in ("unet", "unet_teacher"):
        assert again["files"][key]["sha256"] == manifest["files"][key]["sha256"]


def test_reexport_replaces_its_index_entry_in_place_and_keeps_other_entries(tmp_path):
    from factory.export import update_index

    hand = {"id": "remote-x", "name": "Remote (512×512)", "source": "remote", "url": "o/r"}
    (tmp_path / "index.json").write_text(json.dumps({"schema": 1, "models": [
        {"id": "m", "name": "old", "bytes": 1}, hand]}, ensure_ascii=False), encoding="utf-8")
    manifest = {"id": "m", "name": "M", "license": {"weights": "MIT"}, "files": {"a": {"bytes": 5}, "b": {"bytes": 7}}}
    update_index(tmp_path, manifest)
    text = (tmp_path / "index.json").read_text(encoding="utf-8")
    models = json.loads(text)["models"]
    assert [m["id"] for m in models] == ["m", "remote-x"], "the picker's order must survive a re-export"
    assert models[0]["bytes"] == 12 and models[0]["name"] == "M" and models[1] == hand
    assert "512×512" in text, "hand-written entries stay readable (no \\u escapes)"


def test_student_rebuilt_from_its_onnx_has_the_exported_weights(tiny_trained, tmp_path):
    """import-student: the exported unet/model.onnx back to PyTorch, so a run can continue from it."""
    import copy as copy_mod
    import shutil

    from factory.distill import load_student, shipped_student_name, train_student
    from factory.export import export_model, models_root
    from factory.onnx_import import OnnxImportError, import_student, unet_state_from_onnx
    from factory.teacher import build_unet

    train_student(tiny_trained, tiny_trained.distill.variant)
    model_dir = models_root(tiny_trained) / tiny_trained.export.model_id
    if not (model_dir / "manifest.json").exists():
        train_browser_decoder(tiny_trained)
        export_model(tiny_trained)
    cfg = copy_mod.deepcopy(tiny_trained)
    cfg.run_dir = str(tmp_path / "run")  # a fresh run folder: only the teacher, as after `restore`
    (tmp_path / "run" / "teacher").mkdir(parents=True)
    shutil.copy(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt", tmp_path / "run" / "teacher")
    out = import_student(cfg, model_dir)
    got = load_checkpoint(out)["ema"]
    want, _ = load_student(tiny_trained.run_dir, shipped_student_name(tiny_trained))
    lat = tiny_trained.data.size // 8
    example = (torch.zeros(1, 4, lat, lat), torch.tensor([500]), torch.zeros(1, tiny_trained.text.max_tokens, tiny_trained.text.width))
    if tiny_trained.export.unet_weights == "int8":  # the rounded weights the int8 graph computes with
        from factory.onnx_weights import int8_module

        want = int8_module(want, *example)
    want = want.state_dict()
    teacher = load_checkpoint(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt")["ema"]
    assert set(got) == set(want)
    # weights come back as exported: exact, rounded to fp16, or int8 x scale, as export stored them
    for k in want:
        assert torch.allclose(got[k], want[k].float(), rtol=1e-3, atol=1e-4), k
    assert any(not torch.equal(got[k], teacher[k].float()) for k in got), "imported the teacher, not the student"
    # another architecture cannot take these weights: a clear error, not a silently wrong model
    other = copy_mod.deepcopy(tiny_trained)
    other.teacher.block_out_channels = [32, 32, 64]
    lat = other.data.size // 8
    x, t, c = torch.randn(1, 4, lat, lat), torch.tensor([999]), torch.randn(1, other.text.max_tokens, other.text.width)
    with pytest.raises(OnnxImportError):
        unet_state_from_onnx(build_unet(other), model_dir / "unet" / "model.onnx", (x, t, c))


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


def test_bad_manifest_is_rejected():
    from factory.manifest_schema import ManifestError, validate_manifest

    with pytest.raises(ManifestError, match="files"):
        validate_manifest({"schema": 1, "id": "x"})


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


def test_manifest_quality_quotes_the_largest_evaluation_of_the_exported_student(tmp_path):
    from factory.export import measured_quality

    def report(folder, n, students, teacher_fid=5.0):
        rows = {"real vs real": {"fid": 10.0 / n}, "teacher@25x3.5": {"fid": teacher_fid},
                "teacher@25x5.0": {"fid": teacher_fid + 1}}
        rows.update({f"student:{s}": {"fid": 2 * teacher_fid, "n": n} for s in students})
        verdicts = {f"student:{s}": {"teacher@25x3.5": {"fid_ratio": {"verdict": "missed"}}} for s in students}
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.json").write_text(json.dumps(
            {"rows": rows, "vs_teacher": verdicts, "sets": {"train": n, "paraphrase": n}}))

    assert "not evaluated" in measured_quality(tmp_path, "a")["note"]
    report("eval", 60, ["a", "b"])
    report("eval-600", 600, ["a"])
    big = measured_quality(tmp_path, "a")
    assert (big["evaluation"], big["student"]["n"], big["teacher"]["setting"]) == ("eval-600", 600, "teacher@25x3.5")
    assert big["vs_teacher"]["fid_ratio"]["verdict"] == "missed"
    # a student only in the small evaluation is quoted from there, not reported missing
    assert measured_quality(tmp_path, "b")["evaluation"] == "eval"
    # only an evaluation through the export's own pipeline (decoder, text weights) is quoted for it
    browser = {"decoder": "browser", "text_weights": "int8"}
    assert "not evaluated" in measured_quality(tmp_path, "a", browser)["note"]
    report("eval-browser", 150, ["a"])
    r = json.loads((tmp_path / "eval-browser" / "report.json").read_text())
    (tmp_path / "eval-browser" / "report.json").write_text(json.dumps({**r, "pipeline": browser}))
    assert measured_quality(tmp_path, "a", browser)["evaluation"] == "eval-browser"
    assert measured_quality(tmp_path, "a")["evaluation"] == "eval-600"


def test_requote_rewrites_only_the_quality_of_the_student_the_manifest_ships(tiny_trained, tmp_path):
    import dataclasses

    from factory.distill import train_student
    from factory.export import export_model, requote_manifest

    train_student(tiny_trained, tiny_trained.distill.variant)
    train_browser_decoder(tiny_trained)
    cfg = dataclasses.replace(tiny_trained, export=dataclasses.replace(tiny_trained.export, out_dir=str(tmp_path / "models")))
    path = export_model(cfg, quality={"note": "old"}) / "manifest.json"
    before = json.loads(path.read_text())
    shipped = before["one_step"]["student_variant"]

    def report(run, students, pipeline=None):
        (run / "eval").mkdir(parents=True)
        (run / "eval" / "report.json").write_text(json.dumps({
            "sets": {"train": 600}, "rows": {"teacher@25x3.5": {"fid": 5.0}, **{f"student:{s}": {"fid": 6.0} for s in students}},
            "vs_teacher": {f"student:{s}": {"teacher@25x3.5": {"fid_ratio": {"value": 1.2, "verdict": "missed"}}} for s in students},
            "pipeline": pipeline or {"decoder": "browser", "text_weights": "int8", "unet_weights": "int8", "teacher_weights": "fp16"}}))  # the export's own

    report(tmp_path / "other-run", ["another-student"])
    with pytest.raises(FileNotFoundError, match=shipped):
        requote_manifest(path, tmp_path / "other-run")
    assert json.loads(path.read_text()) == before, "a refused requote leaves the manifest as it was"
    # the shipped student measured through another pipeline (the autoencoder's decoder) is not quoted
    report(tmp_path / "old-pipeline", [shipped], {"decoder": "autoencoder", "text_weights": "fp32"})
    with pytest.raises(FileNotFoundError, match=shipped):
        requote_manifest(path, tmp_path / "old-pipeline")
    report(tmp_path / "run", [shipped, "another-student"])
    requote_manifest(path, tmp_path / "run")
    after = json.loads(path.read_text())
    assert after["quality"]["student"] == {"fid": 6.0} and after["quality"]["vs_teacher"]["fid_ratio"]["value"] == 1.2
    assert {k: v for k, v in after.items() if k != "quality"} == {k: v for k, v in before.items() if k != "quality"}


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
