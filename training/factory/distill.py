"""Stage 4: Distribution Matching Distillation of the teacher into a one-step student.

Follows DMD (Yin et al., CVPR 2024) and the DMD2 reference implementation (tianweiy/DMD2,
main/sd_guidance.py), re-written here:

  generator  (student)  copy of the teacher; unit noise at t = conditioning_timestep -> eps -> x0
  real_score            the frozen teacher, with classifier-free guidance
  fake_score            copy of the teacher trained online (eps-MSE, t ~ U[0, 1000), no CFG) on the
                        generator's detached outputs
  DM loss               t ~ U[0.02T, 0.98T]; p_real = x - x0_real, p_fake = x - x0_fake;
                        grad = (p_real - p_fake) / mean|p_real| (per sample), nan_to_num;
                        loss = 0.5 * MSE(x, (x - grad).detach())  -> dL/dx is proportional to grad
  regression (DMD)      distance between the student's output and the teacher's deterministic DDIM
                        output for the same noise, on precomputed (noise, latent) pairs. LPIPS weights
                        cannot be downloaded here; we use the L2 distance in the autoencoder's latent
                        space, which is itself a learned perceptual compression and costs no decoder pass.
  TTUR (DMD2)           the fake score takes `fake_updates_per_generator_step` updates per generator step
                        (dmd2's default 5; dm and dmd default to DMD's 1 and may take it too)
  GAN (DMD2)            a small head on the fake score's bottleneck (mid block) classifies noisy real
                        latents vs noisy generator latents; generator loss softplus(-logit_fake),
                        critic loss softplus(logit_fake) + softplus(-logit_real)
                        (dmd2's by default; `distill.gan` adds it to dm and dmd)

Variants (the ablation): regression | dm | dmd (dm + regression) | dmd2 (dm + TTUR + GAN).
The losses themselves are pure functions in `dmd_losses.py`; this file is the training loop.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .common import EMA, Timer, checkpoint_state, load_checkpoint, make_accelerator, save_checkpoint, write_json
from .conditioning import SHOWCASE_PROMPTS, latents_and_bank
from .config import FactoryConfig, from_dict
from .diffusion import alphas_cumprod, ddim_sample, one_step
from .dmd_losses import BottleneckHead, BottleneckTap, distribution_matching_loss, fake_score_loss, gan_logits, polish_loss

VARIANTS = ("regression", "dm", "dmd", "dmd2")


@torch.no_grad()
def make_ode_pairs(cfg, teacher, emb, cap_index, uncond, train_idx, dev, path: Path):
    """(noise, teacher DDIM output) pairs for the regression loss, cached to disk."""
    if path.exists():
        return torch.load(path, map_location="cpu")
    c = cfg.distill
    g = torch.Generator(device="cpu").manual_seed(cfg.seed + 7)
    n = c.ode_pairs
    img = train_idx.cpu()[torch.randint(len(train_idx), (n,), generator=g)]
    caps = cap_index.cpu()[img, torch.randint(cap_index.shape[1], (n,), generator=g)]
    noise = torch.randn(n, 4, cfg.data.size // 8, cfg.data.size // 8, generator=g)
    outs = []
    for i in range(0, n, 512):
        cond = emb[caps[i:i + 512].to(dev)].float()
        u = uncond.float().expand(len(cond), -1, -1)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            outs.append(ddim_sample(teacher, noise[i:i + 512].to(dev), cond, u, c.ode_steps, c.real_guidance).float().cpu())
    pairs = {"noise": noise, "caption": caps, "latent": torch.cat(outs)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(pairs, path)
    return pairs


def ode_pairs_path(cfg: FactoryConfig) -> Path:
    """The cache file names what made the pairs, so a run with another count, step count or guidance
    never regresses onto stale targets."""
    c = cfg.distill
    return Path(cfg.run_dir) / "distill" / f"ode_pairs_{c.ode_pairs}_{c.ode_steps}x{c.real_guidance:g}_seed{cfg.seed}.pt"


def distilled_guidance(student_ck: dict) -> float:
    """The real-score guidance a student was distilled towards, from its own checkpoint's config
    (not the config of whoever exports it)."""
    return float(student_ck["config"]["distill"]["real_guidance"])


def shipped_student_name(cfg: FactoryConfig) -> str:
    return cfg.distill.student_name or cfg.distill.variant


def student_dir(cfg: FactoryConfig, variant: str | None = None) -> Path:
    """runs/<run>/distill/<name>: ablation runs are named by variant, the shipped one by student_name."""
    return Path(cfg.run_dir) / "distill" / (variant or shipped_student_name(cfg))


def load_student(run_dir: Path, variant: str, device="cpu"):
    from .teacher import build_unet

    ck = load_checkpoint(Path(run_dir) / "distill" / variant / "student.pt")
    if ck is None:
        raise FileNotFoundError(f"no student checkpoint in {run_dir}/distill/{variant}: run the `distill` stage")
    unet = build_unet(from_dict(ck["config"]))
    unet.load_state_dict(ck["ema"])
    return unet.to(device).eval().requires_grad_(False), ck


def gan_on(variant: str, setting: bool | None) -> bool:
    """Whether a variant trains with DMD2's GAN term: its own rule (dmd2 only) unless `distill.gan` is set;
    regression has no critic to put the head on."""
    if variant == "regression":
        return False
    return variant == "dmd2" if setting is None else bool(setting)


def ttur_for(variant: str, setting: int | None) -> int:
    """Fake-score updates per generator step: the variant's own (DMD2's 5 for dmd2, DMD's 1 for dm and dmd)
    unless `distill.fake_updates_per_generator_step` is set; regression has no critic, so a generator
    step every iteration."""
    if setting is not None and setting < 1:
        raise ValueError(f"fake_updates_per_generator_step must be at least 1 (got {setting})")
    if variant == "regression":
        return 1
    return (5 if variant == "dmd2" else 1) if setting is None else setting


def train_student(cfg: FactoryConfig, variant: str | None = None) -> dict:
    from .autoencoder import load_autoencoder
    from .teacher import load_teacher, sample_grid

    run = student_dir(cfg, variant)
    variant = variant or cfg.distill.variant
    if variant not in VARIANTS:
        raise ValueError(f"unknown distillation variant '{variant}'; choose from {VARIANTS}")
    c = cfg.distill
    use_dm = variant in ("dm", "dmd", "dmd2")
    use_reg = variant in ("regression", "dmd")
    use_gan = gan_on(variant, c.gan)
    ttur = ttur_for(variant, c.fake_updates_per_generator_step)
    acc = make_accelerator(bf16=True)
    dev = acc.device
    ds, latents, bank = latents_and_bank(cfg, dev)
    emb, cap_index, uncond = bank["embeddings"].to(dev), bank["index"].to(dev), bank["uncond"].to(dev)
    train_idx = torch.tensor(ds.indices("train"), device=dev)
    real_score = load_teacher(cfg.run_dir, dev)
    generator = copy.deepcopy(real_score).train().requires_grad_(True)
    fake_score = copy.deepcopy(real_score).train().requires_grad_(True)
    tap = BottleneckTap(fake_score)
    head = BottleneckHead(fake_score.config.block_out_channels[-1]).to(dev)
    opt_g = torch.optim.AdamW(generator.parameters(), lr=c.lr_generator, betas=(0.9, 0.999), weight_decay=0.01)
    opt_f = torch.optim.AdamW(list(fake_score.parameters()) + list(head.parameters()), lr=c.lr_fake,
                              betas=(0.9, 0.999), weight_decay=0.01)
    ema = EMA(generator, c.ema_decay)
    pairs = make_ode_pairs(cfg, real_score, emb, cap_index, uncond, train_idx, dev, ode_pairs_path(cfg)) if use_reg else None
    step = it = 0
    critic_warmup = 0  # critic-only iterations at the start (critic_warmup_steps: a restarted critic or a fresh GAN head)
    earlier_s, logs = 0.0, []  # training time and loss log of the runs this one resumes
    ck = load_checkpoint(run / "student.pt")
    if ck is not None:
        if ck.get("final"):
            acc.print(f"distill[{variant}]: finished checkpoint found, skipping")
            return ck["report"]
        generator.load_state_dict(ck["model"])
        fake_score.load_state_dict(ck["fake_score"])
        head.load_state_dict(ck["head"])
        ema.model.load_state_dict(ck["ema"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_f.load_state_dict(ck["opt_f"])
        step, it = ck["step"], ck["iteration"]
        critic_warmup = ck.get("critic_warmup", 0)
        earlier_s, logs = ck.get("train_seconds", 0.0), ck.get("logs", [])
        if "train_seconds" not in ck:
            acc.print("distill: this checkpoint predates time/loss records; the report counts from this resume only")
        acc.print(f"distill[{variant}]: resuming from generator step {step}")
    elif c.init_from:
        _, start = load_student(cfg.run_dir, c.init_from)
        generator.load_state_dict(start["ema"])
        ema.model.load_state_dict(start["ema"])
        # the start's fake score already models that generator's outputs: restarting it from the
        # teacher would spend the first hundreds of steps on a critic that describes another model.
        # Checkpoints slimmed to their EMA (the GPU job's) have none: then the critic restarts.
        critic = "fake_score" in start and "head" in start
        if critic:
            fake_score.load_state_dict(start["fake_score"])
            head.load_state_dict(start["head"])
        # a start trained without the GAN term carries an untrained head: its logits would steer the
        # generator at random until the critic rounds have taught it real from generated
        start_gan = gan_on(start.get("variant", ""), start["config"]["distill"].get("gan"))
        fresh_head = use_gan and not (critic and start_gan)
        if (use_dm or use_gan) and (not critic or fresh_head):
            critic_warmup = c.critic_warmup_steps
        head_note = ""
        if fresh_head:
            head_note = ", GAN head untrained" + ("" if critic_warmup else " (critic_warmup_steps is 0: it steers the generator untrained)")
        acc.print(f"distill[{variant}]: generator starts from student '{c.init_from}' ({start.get('step')} "
                  f"generator steps); fake score from {'it' if critic else 'the teacher'}{head_note}"
                  + (f", critic trained alone for {critic_warmup} iterations first" if critic_warmup else ""))
    generator, fake_score, head, opt_g, opt_f = acc.prepare(generator, fake_score, head, opt_g, opt_f)
    ema.model.to(dev)
    ab = alphas_cumprod(dev)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + acc.process_index + it)
    t_min, t_max = int(c.min_step_percent * 1000), int(c.max_step_percent * 1000)
    timer = Timer(c.time_budget_s, c.checkpoint_every_s)
    bar = tqdm(total=c.max_generator_steps, initial=step, desc=f"distill[{variant}]", disable=not acc.is_local_main_process)
    b = c.batch_size
    unet_g, unet_f = acc.unwrap_model(generator), acc.unwrap_model(fake_score)

    def batch_cond(n):
        idx = train_idx[torch.randint(len(train_idx), (n,), device=dev, generator=gen)]
        which = torch.randint(cap_index.shape[1], (n,), device=dev, generator=gen)
        return idx, emb[cap_index[idx, which]].float()

    def save(final=False, report=None):
        state = checkpoint_state(cfg, step, iteration=it, critic_warmup=critic_warmup, train_seconds=earlier_s + timer.elapsed(), logs=logs,
                                 variant=variant, model=unet_g.state_dict(),
                                 fake_score=unet_f.state_dict(), head=acc.unwrap_model(head).state_dict(),
                                 ema=ema.model.state_dict(), opt_g=opt_g.state_dict(), opt_f=opt_f.state_dict())
        if final:
            state.update(final=True, report=report)
        if acc.is_main_process:
            save_checkpoint(run / "student.pt", state)

    while step < c.max_generator_steps and not timer.out_of_time():
        warm_g = min(1.0, (step + 1) / 100)
        warm_f = min(1.0, (it + 1) / 100) if critic_warmup else warm_g
        for o, lr, warm in ((opt_g, c.lr_generator, warm_g), (opt_f, c.lr_fake, warm_f)):
            for g in o.param_groups:
                g["lr"] = lr * warm
        log = {}
        # --- critic: fake score (+ GAN head) on the generator's current outputs ---
        if use_dm or use_gan:
            real_idx, cond = batch_cond(b)
            noise = torch.randn(b, 4, latents.shape[2], latents.shape[3], device=dev, generator=gen)
            with torch.no_grad(), acc.autocast():
                x_fake = one_step(unet_g, noise, cond, c.conditioning_timestep).float()
            with acc.autocast():
                loss_f = fake_score_loss(fake_score, x_fake, cond, ab, gen)
                if use_gan:
                    logit_fake = gan_logits(fake_score, tap, head, x_fake, cond, ab, gen)
                    real_cond = emb[cap_index[real_idx, 0]].float()
                    logit_real = gan_logits(fake_score, tap, head, latents[real_idx], real_cond, ab, gen)
                    loss_cls = (F.softplus(logit_fake) + F.softplus(-logit_real)).mean()
                    loss_f = loss_f + c.gan_critic_weight * loss_cls
                    log["critic_gan"] = loss_cls.item()
            acc.backward(loss_f)
            acc.clip_grad_norm_(list(fake_score.parameters()) + list(head.parameters()), 10.0)
            opt_f.step()
            opt_f.zero_grad(set_to_none=True)
            log["fake_score"] = loss_f.item()
        it += 1
        # --- generator step every `ttur` critic steps, once a restarted critic has caught up ---
        if it > critic_warmup and (it % ttur == 0 or not (use_dm or use_gan)):
            unet_f.requires_grad_(False)
            loss_g = torch.zeros((), device=dev)
            if use_dm or use_gan:
                _, cond = batch_cond(b)
                noise = torch.randn(b, 4, latents.shape[2], latents.shape[3], device=dev, generator=gen)
                with acc.autocast():
                    x = one_step(generator, noise, cond, c.conditioning_timestep).float()
                if use_dm:
                    with acc.autocast():
                        l_dm, extra = distribution_matching_loss(x, cond, uncond.float().expand_as(cond), real_score,
                                                                 unet_f, ab, c.real_guidance, t_min, t_max, gen)
                    loss_g = loss_g + l_dm
                    log.update(dm=l_dm.item(), **extra)
                if c.polish_weight:
                    with acc.autocast():
                        l_pol, extra = polish_loss(x, cond, uncond.float().expand_as(cond), real_score, c.real_guidance,
                                                   *c.polish_t, gen)
                    loss_g = loss_g + c.polish_weight * l_pol
                    log.update(polish=l_pol.item(), **extra)
                if use_gan:
                    with acc.autocast():
                        l_gan = F.softplus(-gan_logits(unet_f, tap, head, x, cond, ab, gen)).mean()
                    loss_g = loss_g + c.gan_generator_weight * l_gan
                    log["gen_gan"] = l_gan.item()
            if use_reg:
                sel = torch.randint(len(pairs["noise"]), (b,), generator=torch.Generator().manual_seed(it))
                cond_r = emb[pairs["caption"][sel].to(dev)].float()
                with acc.autocast():
                    x_r = one_step(generator, pairs["noise"][sel].to(dev), cond_r, c.conditioning_timestep).float()
                l_reg = F.mse_loss(x_r, pairs["latent"][sel].to(dev))
                loss_g = loss_g + (c.regression_weight if use_dm else 1.0) * l_reg
                log["regression"] = l_reg.item()
            acc.backward(loss_g)
            acc.clip_grad_norm_(generator.parameters(), 10.0)
            opt_g.step()
            opt_g.zero_grad(set_to_none=True)
            opt_f.zero_grad(set_to_none=True)  # the GAN term put grads on the critic; they are not its update
            unet_f.requires_grad_(True)
            ema.update(unet_g, step)
            step += 1
            bar.update(1)
            if step % 20 == 0:
                logs.append({"step": step, **log})
                bar.set_postfix({k: f"{v:.3g}" for k, v in log.items()})
            if acc.is_main_process and c.sample_every_steps and step % c.sample_every_steps == 0:
                vae = load_autoencoder(cfg.run_dir, dev)
                sample_grid(cfg, None, vae, SHOWCASE_PROMPTS[:4], run / f"samples_{step:06d}.png", device=dev,
                            sampler=lambda n, cc, u: one_step(ema.model, n, cc, c.conditioning_timestep))
        if timer.due():
            save()
    bar.close()
    report = {"variant": variant, "generator_steps": step, "critic_steps": it, "critic_warmup": critic_warmup,
              "train_seconds": round(earlier_s + timer.elapsed(), 1),
              "batch_size": b, "ttur": ttur, "gan": use_gan, "real_guidance": c.real_guidance, "log_tail": logs[-5:], "device": str(dev)}
    if acc.is_main_process:
        vae = load_autoencoder(cfg.run_dir, dev)
        sample_grid(cfg, None, vae, SHOWCASE_PROMPTS, run / "samples_final.png", device=dev,
                    sampler=lambda n, cc, u: one_step(ema.model, n, cc, c.conditioning_timestep))
        write_json(run / "report.json", report)
        write_json(run / "log.json", logs)
    save(final=True, report=report)
    return report
