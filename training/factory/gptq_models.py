"""Which inputs calibrate GPTQ (gptq.py) for each network, and the cached rounded copies.

- MiniLM (int4): `TextSampler` prompts (training captions, templates, vocabulary words; never an
  evaluation prompt, so the export's token cosine stays held out). Layer by layer, each layer's
  Hessians taken with the layers before it already rounded; the token table rounded by `rtn`.
- The student UNet (int4): what it is fed in the app, unit noise at its one timestep with the text
  embeddings of TextSampler prompts (and the empty prompt); every Conv2d and Linear from one pass.
- The teacher UNet (8-bit groups): its own 25-step DDIM trajectories with guidance, conditional and
  unconditional halves, for TextSampler prompts: every timestep the app's compare mode runs.

A copy keeps every other weight as the export stores it (fp16 where onnx_weights.fp16_weights
would), so the PyTorch copy computes what the graph computes. The rounding is cached in the run
folder (gptq.name, unet-<variant>, teacher), so the export and every evaluation use the same one.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from .gptq import GroupWeight, collect_hessians, fingerprint, gptq, rtn, weight_matrix

TEACHER_STEPS = 25  # the app's compare mode (manifest teacher.default_steps)


def _roundable(m: torch.nn.Module, group: int) -> bool:
    return isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and weight_matrix(m).shape[1] % group == 0


def _assign(m: torch.nn.Module, rounded: GroupWeight, records: dict):
    """Put the rounded values into m's weight; record them under each layout the graph may store:
    [out, in] (Gemm, Conv) and, for a Linear, [in, out] (a MatMul on 3-D input)."""
    values = rounded.dequantized()
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(values).reshape(m.weight.shape))
    records[fingerprint(values.reshape(m.weight.shape))] = rounded
    if isinstance(m, torch.nn.Linear):
        records[fingerprint(values.T)] = rounded


def _rest_as_fp16(twin: torch.nn.Module, rounded: set):
    """Every other weight of 1,024 values or more as onnx_weights.fp16_weights stores it."""
    with torch.no_grad():
        for p in twin.parameters():
            if id(p) not in rounded and p.numel() >= 1024 and p.abs().max() <= 65000:
                p.copy_(p.half().float())


def quantize_minilm(module, calibration_ids: torch.Tensor, group: int, damp: float, batch: int = 256):
    """A copy of MiniLMTokenEmbedder with int4 weights, and their GroupWeights by fingerprint."""
    twin = copy.deepcopy(module).eval()
    records: dict[str, GroupWeight] = {}
    table = twin.bert.embeddings.word_embeddings
    values = rtn(table.weight.data, group)
    with torch.no_grad():
        table.weight.copy_(torch.from_numpy(values.dequantized()))
    records[fingerprint(values.dequantized())] = values
    rounded = {id(table.weight)}
    for layer in twin.bert.encoder.layer:
        linears = [m for m in layer.modules() if _roundable(m, group)]
        run = lambda: [twin(calibration_ids[i:i + batch]) for i in range(0, len(calibration_ids), batch)]  # noqa: E731
        for m, h in collect_hessians(linears, run).items():
            _assign(m, gptq(weight_matrix(m), h, group, damp), records)
            rounded.add(id(m.weight))
    _rest_as_fp16(twin, rounded)
    return twin, records


def quantize_unet(unet, calibrate, group: int, damp: float, bits: int = 4, rows_per_call: int | None = None):
    """A copy of a UNet2DConditionModel with every roundable Conv2d and Linear at `bits`, from one
    calibration pass: `calibrate(twin)` runs the copy on the calibration inputs."""
    twin = copy.deepcopy(unet).eval()
    modules = [m for m in twin.modules() if _roundable(m, group)]
    hessians = collect_hessians(modules, lambda: calibrate(twin), rows_per_call)
    records: dict[str, GroupWeight] = {}
    for m, h in hessians.items():
        _assign(m, gptq(weight_matrix(m), h, group, damp, bits), records)
    _rest_as_fp16(twin, {id(m.weight) for m in modules})
    return twin, records


def _weights_id(net: torch.nn.Module) -> str:
    """The network's own weights, in each cache key: a retrained teacher or student is rounded anew."""
    import hashlib

    h = hashlib.sha1()
    for v in net.state_dict().values():
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def _cached(path: Path, settings: dict, build):
    saved = torch.load(path, weights_only=False) if path.exists() else None
    if saved is not None and saved["settings"] == settings:
        return saved["state"], saved["records"]
    twin, records = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": twin.state_dict(), "records": records, "settings": settings}, path)
    return twin.state_dict(), records


def _sampler(cfg, enc):
    from .dataset import EmojiDataset
    from .eval_prompts import ds_prompts
    from .text_student import TextSampler

    return TextSampler(EmojiDataset(Path(cfg.data.folder)), enc.tokenizer.get_vocab(), set(ds_prompts(cfg)), cfg.seed)


def int4_text_encoder(cfg, enc):
    """(a copy of the TextEncoder `enc` with int4 MiniLM weights, their GroupWeights by fingerprint)."""
    c = cfg.gptq

    def build():
        ids = enc.tokenize(_sampler(cfg, enc).batch(c.calibration_prompts))
        print(f"gptq: MiniLM on {len(ids)} calibration prompts, groups of {c.group}")
        return quantize_minilm(enc.module, ids, c.group, c.damp)

    settings = {k: getattr(c, k) for k in ("name", "calibration_prompts", "group", "damp")}
    state, records = _cached(Path(cfg.run_dir) / "gptq" / f"{c.name}.pt", settings, build)
    twin = copy.copy(enc)
    twin.module = copy.deepcopy(enc.module)
    twin.module.load_state_dict(state)
    return twin, records


def int4_student_unet(cfg, unet, variant: str, batch: int = 64):
    """(a copy of the student UNet `variant` with int4 weights, their GroupWeights by fingerprint),
    calibrated on what the app feeds it: unit noise at distill.conditioning_timestep."""
    c = cfg.gptq

    def build():
        inputs = _unet_inputs(cfg, c.unet_calibration_prompts, batch)
        t = cfg.distill.conditioning_timestep
        print(f"gptq: the student UNet {variant} on {c.unet_calibration_prompts} calibration inputs, int4 in groups of {c.group}")
        run = lambda twin: [twin(x, torch.full((len(x),), t), encoder_hidden_states=e) for x, e, _ in inputs]  # noqa: E731
        return quantize_unet(unet, run, c.group, c.damp, 4, max(1, c.hessian_rows // len(inputs)))

    settings = {"variant": variant, "weights": _weights_id(unet),
                **{k: getattr(c, k) for k in ("unet_calibration_prompts", "group", "damp", "hessian_rows")}}
    return _load_unet(unet, _cached(Path(cfg.run_dir) / "gptq" / f"unet-{variant}.pt", settings, build))


def int8_teacher_unet(cfg, teacher, batch: int = 16):
    """(a copy of the teacher with 8-bit grouped weights, their GroupWeights by fingerprint),
    calibrated on its own DDIM trajectories (TEACHER_STEPS at the app's default guidance)."""
    from .diffusion import ddim_sample

    c = cfg.gptq

    def build():
        inputs = _unet_inputs(cfg, c.teacher_calibration_prompts, batch)
        print(f"gptq: the teacher UNet on {c.teacher_calibration_prompts} calibration trajectories, 8 bits in groups of {c.group}")
        run = lambda twin: [ddim_sample(twin, x, e, u, TEACHER_STEPS, c.teacher_guidance) for x, e, u in inputs]  # noqa: E731
        return quantize_unet(teacher, run, c.group, c.damp, 8, max(1, c.hessian_rows // (TEACHER_STEPS * len(inputs))))

    keys = ("teacher_calibration_prompts", "teacher_guidance", "group", "damp", "hessian_rows")
    settings = {"weights": _weights_id(teacher), **{k: getattr(c, k) for k in keys}}
    return _load_unet(teacher, _cached(Path(cfg.run_dir) / "gptq" / "teacher.pt", settings, build))


def gptq_unet(cfg, unet, role: str, weights: str, variant: str | None = None):
    """(GPTQ copy, its GroupWeights) where `weights` names a GPTQ setting for this role ("int4" for
    the student, "int8-gptq" for the teacher), else None: the one place export and eval ask."""
    if role == "student" and weights == "int4":
        return int4_student_unet(cfg, unet, variant)
    if role == "teacher" and weights == "int8-gptq":
        return int8_teacher_unet(cfg, unet)
    return None


def _unet_inputs(cfg, n: int, batch: int) -> list[tuple]:
    """(unit noise, text embeddings, the empty prompt's embedding) batches for n TextSampler prompts."""
    from .conditioning import text_encoder_for

    enc = text_encoder_for(cfg, "cpu")
    prompts = _sampler(cfg, enc).batch(n)
    g = torch.Generator().manual_seed(cfg.seed)
    lat = cfg.data.size // 8
    out = []
    for i in range(0, len(prompts), batch):
        emb = enc.encode(prompts[i:i + batch])
        out.append((torch.randn(len(emb), cfg.ae.latent_channels, lat, lat, generator=g), emb,
                    enc.encode([""]).expand(len(emb), -1, -1)))
    return out


def _load_unet(unet, cached):
    state, records = cached
    twin = copy.deepcopy(unet)
    twin.load_state_dict(state)
    return twin, records
