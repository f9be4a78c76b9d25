"""A tiny Stable-Diffusion-architecture pipeline with random weights, built locally (no downloads).

It has the real component classes and folder layout of an SD pipeline (CLIPTextModel + CLIP BPE
tokenizer, UNet2DConditionModel, AutoencoderKL with a factor-8 latent, an SD-Turbo-style Euler
scheduler config) at a few MB, so the converter and the browser's "add a model by URL" path can be
tested end to end on this machine. The images it makes are noise; the shapes, dtypes and files are
the real ones.

  python -m factory.tiny_sd OUT_DIR [--onestep-unet FILE]

--onestep-unet also writes a perturbed copy of the UNet as a bare state-dict file, the way DMD2
publishes its one-step UNets (weights only, the base pipeline's config).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

# SD's own conventions: 77 tokens, BOS/EOS names, scaled-linear betas, VAE factor 8.
MAX_LENGTH = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
WORDS = ("a", "red", "apple", "cat", "dog", "rocket", "photo", "of", "the", "blue", "sky", "smiling", "face")
LATENT = 16  # 16x16x4 latents -> 128x128 images


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's byte -> printable character table (byte-level BPE's base alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_clip_vocab() -> tuple[dict[str, int], list[str]]:
    """A CLIP-shaped BPE vocabulary: 256 byte symbols, the same with '</w>', merges that build a
    dozen whole words left to right, then the two special tokens (last, as in CLIP's vocab)."""
    base = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for tok in base + [b + "</w>" for b in base]:
        vocab.setdefault(tok, len(vocab))
    merges: list[str] = []
    for word in WORDS:
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            pair = f"{symbols[0]} {symbols[1]}"
            if pair not in merges:
                merges.append(pair)
            merged = symbols[0] + symbols[1]
            vocab.setdefault(merged, len(vocab))
            symbols = [merged] + symbols[2:]
    for special in (BOS, EOS):
        vocab[special] = len(vocab)
    return vocab, merges


def write_tokenizer(folder: Path) -> None:
    """vocab.json + merges.txt + configs, the files a diffusers SD pipeline keeps in tokenizer/."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = tiny_clip_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    # SD-1.x pads with <|endoftext|> (SD-2.x with "!"); the converter reads whichever is named here.
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH, "do_lower_case": True, **special}, indent=2))


def build_tiny_pipeline(out: Path, seed: int = 0) -> Path:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(out / "tokenizer")
    vocab, _ = tiny_clip_vocab()
    torch.manual_seed(seed)
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH, bos_token_id=vocab[BOS], eos_token_id=vocab[EOS], pad_token_id=vocab[EOS],
        projection_dim=32)).eval()
    unet = UNet2DConditionModel(
        sample_size=LATENT, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32).eval()
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(32, 32, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=32, sample_size=LATENT * 8, scaling_factor=0.18215).eval()
    # SD-Turbo's scheduler: Euler, scaled-linear betas, trailing spacing (one step at t = 999).
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, prediction_type="epsilon", timestep_spacing="trailing")
    text.save_pretrained(out / "text_encoder")
    unet.save_pretrained(out / "unet")
    vae.save_pretrained(out / "vae")
    scheduler.save_pretrained(out / "scheduler")
    (out / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1", "_name_or_path": "onestep/tiny-sd",
        "requires_safety_checker": False, "feature_extractor": [None, None], "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}, indent=2))
    return out


def write_onestep_unet(pipeline: Path, path: Path, seed: int = 1) -> Path:
    """A 'distilled' UNet as DMD2 ships it: the base UNet's state dict, changed, in one file."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    unet = UNet2DConditionModel.from_pretrained(pipeline / "unet")
    g = torch.Generator().manual_seed(seed)
    state = {k: (v + 0.02 * torch.randn(v.shape, generator=g)).contiguous() for k, v in unet.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m factory.tiny_sd", description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--onestep-unet", type=Path, default=None)
    a = p.parse_args(argv)
    build_tiny_pipeline(a.out)
    if a.onestep_unet:
        write_onestep_unet(a.out, a.onestep_unet)
    print(f"tiny_sd: {a.out}")


if __name__ == "__main__":
    main()
