"""One config for the whole factory: dataclass defaults, overridden by a JSON file (configs/*.json).

Every checkpoint stores the config it was trained with, so a resumed or exported run never
depends on the defaults of the day.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path


@dataclass
class DataConfig:
    folder: str = "data/emoji128"
    cache: str = "data/npm-cache"
    size: int = 128
    styles: tuple = ("twemoji", "noto", "openmoji")
    limit: int | None = None  # first N concepts (tiny runs)
    val_fraction: float = 0.05


@dataclass
class TextConfig:
    max_tokens: int = 20  # MiniLM tokens the UNet cross-attends to (static shape in ONNX)
    width: int = 384


@dataclass
class GptqConfig:
    """GPTQ-rounded weights (gptq.py, gptq_models.py): MiniLM and the student UNet in int4
    (export/eval text_weights, unet_weights "int4"), the teacher UNet in 8-bit groups
    (teacher_weights "int8-gptq"). runs/<run>/gptq/ caches each rounding."""
    name: str = "minilm-int4"  # MiniLM's cache file
    calibration_prompts: int = 1024  # TextSampler prompts whose activations weigh MiniLM's rounding
    unet_calibration_prompts: int = 512  # the student UNet's: one noise each, at its one timestep
    teacher_calibration_prompts: int = 32  # the teacher's: one 25-step trajectory each
    teacher_guidance: float = 2.5  # the app's compare mode default
    group: int = 32  # inputs per output sharing a scale and zero
    damp: float = 0.01  # added to H's diagonal, as a share of its mean
    hessian_rows: int = 16384  # UNet layers: input rows sampled for each H, spread over the calibration's calls


@dataclass
class AEConfig:
    block_out_channels: tuple = (16, 32, 64, 128)  # 3 downsamples: 128x128x3 -> 16x16x4
    layers_per_block: int = 1
    norm_num_groups: int = 8
    latent_channels: int = 4
    lr: float = 1e-3
    batch_size: int = 64
    max_steps: int = 20000
    time_budget_s: float | None = None
    kl_weight: float = 1e-6
    checkpoint_every_s: float = 120.0


@dataclass
class DecoderConfig:
    """The browser decoder (browser_decoder.py) that replaces the autoencoder's in the export."""
    name: str = "decoder"  # folder under run_dir: the one the export and evaluation use
    init_from: str | None = None  # another decoder folder whose EMA weights start this one
    channels: tuple = (64, 32, 16)  # at 16x16, 32x32, 64x64 (pixel shuffle to 128x128)
    blocks: tuple = (1, 1, 1)  # residual blocks per resolution
    lr: float = 2e-3
    batch_size: int = 32
    max_steps: int = 12000
    time_budget_s: float | None = None
    ema_decay: float = 0.999
    gradient_weight: float = 0.5  # L1 on image differences: keeps edges sharp
    # robustness to the one-step student: this share of each batch gets one of the student's grain
    # residuals (high-pass of what one teacher step at t=100 removes from a student output) scaled by
    # U(residual_scale) added
    residual_share: float = 0.5
    residual_scale: tuple = (0.5, 1.25)
    residual_samples: int = 512  # student outputs drawn for both of these
    # and this share of each batch is the student's own outputs, each paired with the image the
    # autoencoder's decoder draws from it after one teacher step at t=100 (`student_targets`)
    student_share: float = 0.0
    residual_guidance: float = 2.5  # the teacher's guidance in that step (the shipped student's)
    checkpoint_every_s: float = 120.0


@dataclass
class TextStudentConfig:
    """The browser text encoder (text_student.py): two layers distilled from MiniLM's token embeddings."""
    name: str = "text-student"  # folder under run_dir/text: the one the export and evaluation use
    layers: tuple = (0, 5)  # MiniLM layers whose weights start the student's (one student layer each)
    ffn: int = 768  # FFN width (MiniLM's 1536): 2 layers x 384 wide fit 0.1 GFLOP for 20 tokens
    embed_rank: int = 128  # token table 30,522 x rank, then rank -> 384 (int8: 3.9 MB)
    lr: float = 5e-4
    batch_size: int = 128
    max_steps: int = 6000
    time_budget_s: float | None = None
    ema_decay: float = 0.999
    checkpoint_every_s: float = 180.0


@dataclass
class TeacherConfig:
    block_out_channels: tuple = (128, 192, 256)
    layers_per_block: int = 2
    attention_heads: int = 4
    lr: float = 3e-4
    batch_size: int = 128
    max_steps: int = 200000
    time_budget_s: float | None = None
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    checkpoint_every_s: float = 300.0
    sample_every_steps: int = 2000


@dataclass
class DistillConfig:
    variant: str = "dmd2"  # "regression" | "dm" | "dmd" (dm + regression) | "dmd2" (dm + TTUR + GAN)
    student_name: str | None = None  # folder under runs/<run>/distill/ for the shipped student (default: variant)
    # another student (folder name under distill/) whose EMA weights start the generator instead of the
    # teacher: continues a finished run with a new budget or setting (its fake score and GAN head come
    # along when its checkpoint kept them)
    init_from: str | None = None
    conditioning_timestep: int = 999
    real_guidance: float = 3.0
    min_step_percent: float = 0.02
    max_step_percent: float = 0.98
    lr_generator: float = 2e-5
    lr_fake: float = 2e-5
    batch_size: int = 128
    # DMD2's two time-scale update rule: fake-score updates per generator step for every variant with
    # a critic. None = the variant's own: 5 for dmd2 (DMD2), 1 for dm and dmd (DMD).
    fake_updates_per_generator_step: int | None = None
    regression_weight: float = 0.25
    # Teacher polish (not in DMD/DMD2): pulls each output towards the real score's denoising of itself
    # at a small t, i.e. score distillation restricted to low noise. One-step students left a
    # high-frequency latent grain that one teacher step at t=100 removes (MODEL_CARD.md, "Grain");
    # this term trains the student to need no such step. 0 = off; applies to the dm, dmd and dmd2 variants.
    polish_weight: float = 0.0
    polish_t: tuple = (50, 250)
    # Critic-only iterations before the first generator step, when the generator starts from a
    # student but the fake score restarts from the teacher (an imported ONNX student has none), or
    # the GAN term is on and the start's head never trained: DM's gradient is real - fake, and a fake
    # score that still describes the teacher would push the generator along the guidance direction
    # instead of towards what it gets wrong (an untrained head, at random). With a TTUR above
    # 1 the first generator step waits for the next full round (e.g. 3 with 2 per step -> 4).
    critic_warmup_steps: int = 0
    # DMD2's GAN term (a head on the fake score's bottleneck told real latents from generated ones).
    # None = the variant's own: on for dmd2, off for dm and dmd; a value set applies to every variant
    # with a critic (regression has none). A start without a trained head gets critic_warmup_steps
    # critic-only iterations first (none when that is 0: the run then says so in its log).
    gan: bool | None = None
    gan_generator_weight: float = 3e-3
    gan_critic_weight: float = 1e-2
    ode_pairs: int = 4096
    ode_steps: int = 25
    max_generator_steps: int = 20000
    time_budget_s: float | None = None
    ema_decay: float = 0.99
    checkpoint_every_s: float = 300.0
    sample_every_steps: int = 500


@dataclass
class EvalConfig:
    classifier_steps: int = 3000
    # Use checkpoints/classifier.safetensors when it was trained on this dataset's concepts (the
    # instrument every session measures with; classifier_steps and its budget then do not apply);
    # false = train a classifier for this run.
    committed_classifier: bool = True
    classifier_time_budget_s: float | None = None
    prompts_per_split: int = 200
    diversity_prompts: int = 24
    diversity_seeds: int = 8
    teacher_settings: tuple = ((4, 3.0), (8, 3.0), (25, 3.0), (50, 3.0), (25, 1.0), (25, 5.0), (25, 3.5))
    # Metrics use the first N prompts of each set (and the first M diversity prompts): the sets are
    # generated larger on GPUs, and CPU-only runs measure a consistent prefix.
    measured_per_split: int = 60
    measured_diversity_prompts: int = 8
    # Students are judged against these teachers (best FID at the strongest guidance, and at the
    # guidance the students are distilled towards), with intervals from this many resamples of the
    # prompts (FID, a matrix square root per resample, from the first fid_resamples of them).
    reference_teachers: tuple = ("teacher@25x5.0", "teacher@25x3.5")
    bootstrap_resamples: int = 2000
    fid_resamples: int = 200
    # The pipeline around the UNet: "autoencoder" or "browser" (browser_decoder.py) decodes, the text
    # encoder's weights are "fp32", "int8" or "int4", the student's and the teacher's UNet "fp16" or "int8"
    # (as onnx_weights stores them; the student's also "int4", the teacher's "int8-gptq": gptq_models.py),
    # the text encoder "minilm" or "distilled" (text_student.py);
    # None = the export's (export.decoder, .text_encoder, .text_weights, .unet_weights,
    # .teacher_weights), so the evaluation
    # measures what is shipped. Give each other pipeline its own name (its cached images record the
    # pipeline that made them).
    decoder: str | None = None
    text_encoder: str | None = None
    text_weights: str | None = None
    unet_weights: str | None = None
    teacher_weights: str | None = None
    # another evaluation (its eval.name) whose pipeline every model here is also judged against, with
    # the same prompts and seeds: old pipeline vs new, paired (report "baseline")
    baseline: str | None = None
    # Folder under run_dir for the images and the report; a larger evaluation (more prompts per
    # split) gets its own name, so it neither overwrites nor reuses the standard one.
    name: str = "eval"
    # Students to evaluate; empty = every student found in the run.
    students: tuple = ()
    # Students also evaluated with one teacher step at t=100 after their one step (3 UNet calls, rows
    # "refined:<name>"): how much of a student's gap to the teacher is what one teacher step removes.
    refined: tuple = ()
    # Ablation contrasts (student a vs student b): does distribution matching beat regression alone,
    # does regression on top of it help, does DMD2's TTUR + GAN beat DMD.
    ablation_pairs: tuple = (("dm", "regression"), ("dmd", "dm"), ("dmd", "regression"), ("dmd2", "dmd"))


@dataclass
class ExportConfig:
    model_id: str = "onestep-emoji"
    version: str = "1"
    out_dir: str = "public/models"
    # UNet weights: "fp16", "int8" (weight-only, onnx_weights.py) or GPTQ (gptq_models.py): the
    # student's one call keeps its quality in int8 and loses it in int4 (its ε error reaches x0
    # x14.6); the teacher's 25 steps compound int8's per-channel rounding, not GPTQ's 8-bit groups
    # ("int8-gptq"; LAB_NOTEBOOK.md, sessions 16 and 21)
    unet_weights: str = "int8"
    teacher_weights: str = "int8-gptq"
    parity_tolerance: float = 2e-2
    # text encoder: "minilm" (all-MiniLM-L6-v2, 0.43 GFLOP) or "distilled" (text_student.py,
    # text_student.name: two layers, 0.1 GFLOP); its weights "int4" (MiniLM only: GPTQ, gptq_models.py
    # and onnx_grouped.py), "int8" (weight-only, onnx_weights.py) or "fp16"
    text_encoder: str = "minilm"
    text_weights: str = "int4"
    # an int4 export fails when its token cosine to fp32 MiniLM over the evaluation prompts is lower
    min_text_cosine: float = 0.99
    # "autoencoder": the autoencoder's own decoder (1.37 GFLOP, shipped); "browser": the decoder
    # stage's network (browser_decoder.py, 0.14 GFLOP; not shipped yet: it cost FID, LAB_NOTEBOOK.md)
    decoder: str = "autoencoder"
    # text encoder and UNets as packed graphs (onnx_pack.py): folded at export, their weights rebuilt
    # by the page, so ORT's session neither folds them nor holds two copies (LAB_NOTEBOOK.md, session 25)
    packed: bool = True


@dataclass
class FactoryConfig:
    run_dir: str = "runs/full"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    text: TextConfig = field(default_factory=TextConfig)
    gptq: GptqConfig = field(default_factory=GptqConfig)
    ae: AEConfig = field(default_factory=AEConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    text_student: TextStudentConfig = field(default_factory=TextStudentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


def _merge(obj, overrides: dict, path: str = ""):
    known = {f.name: f for f in fields(obj)}
    for key, value in overrides.items():
        if key not in known:
            raise ValueError(f"unknown config key '{path}{key}' (known: {sorted(known)})")
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"config key '{path}{key}' must be an object")
            _merge(current, value, f"{path}{key}.")
        else:
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            setattr(obj, key, value)
    return obj


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> FactoryConfig:
    cfg = FactoryConfig()
    if path:
        _merge(cfg, json.loads(Path(path).read_text()))
    if overrides:
        _merge(cfg, overrides)
    return cfg


# Settings that checkpoints written before a rename still carry: (section, old key) -> how to read it.
RENAMED = {("export", "fp16"): lambda v: {"unet_weights": "fp16" if v else "fp32"}}


def from_dict(d: dict) -> FactoryConfig:
    """A checkpoint's recorded config (older ones may carry settings renamed since: RENAMED)."""
    d = json.loads(json.dumps(d))
    for (section, key), new in RENAMED.items():
        if key in d.get(section, {}):
            d[section].update(new(d[section].pop(key)))
    return _merge(FactoryConfig(), d)


def to_dict(cfg) -> dict:
    return json.loads(json.dumps(asdict(cfg)))


def models_root(cfg: FactoryConfig) -> Path:
    """export.out_dir; a relative one is relative to the repository root, where the app serves it
    (so `export` writes the same place whether run from the root or from training/)."""
    out = Path(cfg.export.out_dir)
    return out if out.is_absolute() else Path(__file__).resolve().parents[2] / out
