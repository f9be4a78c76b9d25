"""The distill stage: one DMD step, init_from, the critic's warm-up, TTUR and the GAN term, resume, and the two gradients."""
from pathlib import Path

import pytest
import torch

from factory.common import load_checkpoint


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
    from factory.dmd_losses import distribution_matching_loss

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
    from factory.dmd_losses import polish_loss

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
