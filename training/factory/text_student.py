"""The browser's text encoder: two transformer layers distilled from MiniLM's token embeddings.

MiniLM (text_encoder.py) costs 0.43 GFLOP for 20 tokens and 22 MB even in int8, and its session is
the slowest to create at start-up. The UNets were trained on its `last_hidden_state`, so a smaller
encoder must give the same [B, 20, 384] output, pads included (the UNet attends to all 20 tokens).

Design (FLOPs counted first, `gflops`):
  - the token table factorised: 30,522 x rank rows, then one shared rank -> 384 projection
    (initialised from the SVD of MiniLM's table: the table is half of MiniLM's weights);
  - two post-LN BERT layers with MiniLM's 12 heads of 32 and a narrower FFN (the FFN neurons kept are
    those with the largest in x out weight norms), initialised from MiniLM's layers `layers`;
  - trained to MiniLM's output on text drawn afresh every step (`TextSampler`): training captions of
    training concepts, templated labels and tags, and random words from the tokenizer's vocabulary;
    no evaluation prompt and no validation concept is drawn on purpose, so the cosine over the
    evaluation prompts (export's `text_encoder_cosine_*`) is measured on text it was not fitted to.

Same input and output as MiniLM (input_ids -> last_hidden_state, the mask derived inside), so the
app and the manifest's tensors do not change.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .common import EMA, Timer, checkpoint_state, load_checkpoint, resume, save_checkpoint
from .config import FactoryConfig


class EncoderLayer(nn.Module):
    """One BERT layer (post-LN): self-attention, then a GELU FFN, each with a residual and LayerNorm."""

    def __init__(self, width: int, heads: int, ffn: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(width, width) for _ in range(4))
        self.norm1 = nn.LayerNorm(width, eps=1e-12)
        self.ffn_in = nn.Linear(width, ffn)
        self.ffn_out = nn.Linear(ffn, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-12)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, n, w = h.shape
        split = lambda x: x.view(b, n, self.heads, w // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(w // self.heads) + key_bias
        a = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, w)
        h = self.norm1(h + self.out(a))
        return self.norm2(h + self.ffn_out(F.gelu(self.ffn_in(h))))


class DistilledTextEncoder(nn.Module):
    """input_ids [B, L] (int64) -> [B, L, width], MiniLM's contract."""

    def __init__(self, vocab: int, rank: int, width: int, max_tokens: int, layers: int, heads: int, ffn: int,
                 pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.word = nn.Embedding(vocab, rank)
        self.word_proj = nn.Linear(rank, width, bias=False)
        self.position = nn.Parameter(torch.zeros(max_tokens, width))  # MiniLM's position + token type 0
        self.norm = nn.LayerNorm(width, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer(width, heads, ffn) for _ in range(layers))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        # pads are masked as keys (as in MiniLM); -1e4, not -inf: a row of pads stays finite
        key_bias = (input_ids == self.pad_id).to(torch.float32)[:, None, None, :] * -1e4
        h = self.norm(self.word_proj(self.word(input_ids)) + self.position[:n])
        for layer in self.layers:
            h = layer(h, key_bias)
        return h


def gflops(model: DistilledTextEncoder, tokens: int = 20) -> float:
    """Multiply-adds x 2 for one prompt of `tokens` tokens: every Linear, attention's two products,
    and the projection of the gathered table rows (the gather itself costs none)."""
    lin = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    width = model.word_proj.out_features
    attention = len(model.layers) * 2 * tokens * width
    return 2 * tokens * (lin + attention) / 1e9


def build_from_minilm(cfg: FactoryConfig, bert) -> DistilledTextEncoder:
    """A student whose weights start from MiniLM's (`bert`, a transformers BertModel)."""
    c = cfg.text_student
    emb = bert.embeddings
    table = emb.word_embeddings.weight.detach()
    width, heads = table.shape[1], bert.config.num_attention_heads
    model = DistilledTextEncoder(table.shape[0], c.embed_rank, width, cfg.text.max_tokens, len(c.layers), heads, c.ffn)
    with torch.no_grad():
        u, s, vt = torch.linalg.svd(table, full_matrices=False)
        model.word.weight.copy_(u[:, :c.embed_rank] * s[:c.embed_rank])
        model.word_proj.weight.copy_(vt[:c.embed_rank].T)
        model.position.copy_(emb.position_embeddings.weight[:cfg.text.max_tokens] + emb.token_type_embeddings.weight[0])
        model.norm.load_state_dict(emb.LayerNorm.state_dict())
        for ours, i in zip(model.layers, c.layers):
            theirs = bert.encoder.layer[i]
            att = theirs.attention
            for mine, src in ((ours.q, att.self.query), (ours.k, att.self.key), (ours.v, att.self.value),
                              (ours.out, att.output.dense)):
                mine.load_state_dict(src.state_dict())
            ours.norm1.load_state_dict(att.output.LayerNorm.state_dict())
            w_in, b_in = theirs.intermediate.dense.weight, theirs.intermediate.dense.bias
            w_out = theirs.output.dense.weight
            keep = (w_in.norm(dim=1) * w_out.norm(dim=0)).topk(c.ffn).indices.sort().values
            ours.ffn_in.weight.copy_(w_in[keep])
            ours.ffn_in.bias.copy_(b_in[keep])
            ours.ffn_out.weight.copy_(w_out[:, keep])
            ours.ffn_out.bias.copy_(theirs.output.dense.bias)
            ours.norm2.load_state_dict(theirs.output.LayerNorm.state_dict())
    return model


# Wordings of our own for the templated share (none is one of eval_prompts.PARAPHRASE_TEMPLATES).
TEMPLATES = ("{a}", "a {a}", "the {a}", "{a} icon", "{a} emoji", "an emoji of {a}", "cute {a}", "a small {a}",
             "{a} and {b}", "{a} with {b}", "{a} next to a {b}", "big {a}", "happy {a}", "sad {a}", "{a} on {b}",
             "{s} style {a}", "{a}, {s} emoji", "{a} in {s} style", "flat {a} symbol", "{a} {b} {c}",
             "a {a} holding a {b}", "simple drawing {a}", "{a}: {b}, {c}")


class TextSampler:
    """Fresh prompts every step: a share of training captions (training concepts only), templated
    labels, tags and vocabulary words, and bare runs of random vocabulary words (any wording a person
    might type, and prompts long enough to be cut at the token limit)."""

    def __init__(self, ds, vocab: dict[str, int], avoid: set[str], seed: int):
        from .dataset import captions_for

        train = [c for c in ds.concepts if c["split"] == "train"]
        styles = ds.meta["styles"]
        self.captions = sorted({t for c in train for s in styles for t in captions_for(c, s)} - avoid)
        self.labels = sorted({c["label"] for c in train})
        self.tags = sorted({t for c in train for t in c["tags"]})
        self.words = sorted(w for w in vocab if w.isalpha() and len(w) > 1 and not w.startswith("["))
        self.styles = styles
        self.avoid = avoid
        self.rng = np.random.default_rng(seed)

    def _pick(self, pool):
        return pool[self.rng.integers(len(pool))]

    def _phrase(self) -> str:
        r = self.rng.random()
        return self._pick(self.labels) if r < 0.4 else self._pick(self.tags) if r < 0.7 else self._pick(self.words)

    def one(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return self._pick(self.captions)
        if r < 0.75:
            t = self._pick(TEMPLATES)
            return t.format(a=self._phrase(), b=self._phrase(), c=self._phrase(), s=self._pick(self.styles))
        words = [self._pick(self.words) for _ in range(self.rng.integers(1, 16))]
        return " ".join(words)

    def batch(self, n: int) -> list[str]:
        out = [""]  # the unconditional embedding, exact in every batch: the teacher's CFG uses it
        while len(out) < n:
            p = self.one()
            if p not in self.avoid:
                out.append(p)
        return out


def student_path(cfg: FactoryConfig, name: str | None = None) -> Path:
    return Path(cfg.run_dir) / "text" / (name or cfg.text_student.name) / "ckpt.pt"


def load_text_student(cfg: FactoryConfig, name: str | None = None) -> DistilledTextEncoder:
    """The finished student's EMA weights (the architecture from its recorded config)."""
    from .config import from_dict

    ck = load_checkpoint(student_path(cfg, name))
    if ck is None or "final" not in ck:
        raise FileNotFoundError(f"no finished text student in {student_path(cfg, name).parent}: run the `text` stage")
    rec = from_dict(ck["config"])
    c = rec.text_student
    model = DistilledTextEncoder(ck["vocab"], c.embed_rank, rec.text.width, rec.text.max_tokens, len(c.layers),
                                 ck["heads"], c.ffn)
    model.load_state_dict(ck["ema"])
    return model.eval().requires_grad_(False)


def distilled_text_encoder(cfg: FactoryConfig, enc):
    """A copy of a TextEncoder (same tokenizer) whose module is the finished student, on enc's device."""
    import copy

    twin = copy.copy(enc)
    twin.module = load_text_student(cfg).to(enc.device)
    return twin


def distillation_loss(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """1 - cosine per token (what the target is stated in), plus the MSE relative to the target's own
    power (the UNet also sees the norms)."""
    cos = F.cosine_similarity(out, ref, dim=-1)
    return (1 - cos).mean() + F.mse_loss(out, ref) / ref.pow(2).mean()


@torch.no_grad()
def token_cosine(model, enc, prompts: list[str]) -> np.ndarray:
    """Per-token cosine of `model`'s output to MiniLM's (enc: a TextEncoder), over `prompts`."""
    ids = enc.tokenize(prompts)
    cos = [F.cosine_similarity(model(ids[i:i + 256]), enc.module(ids[i:i + 256]), dim=-1)
           for i in range(0, len(ids), 256)]
    return torch.cat(cos).flatten().numpy()


def train_text_student(cfg: FactoryConfig) -> dict:
    from .conditioning import text_encoder_for
    from .dataset import EmojiDataset
    from .eval_prompts import ds_prompts

    c = cfg.text_student
    path = student_path(cfg)
    enc = text_encoder_for(cfg, "cpu")
    torch.manual_seed(cfg.seed)
    model = build_from_minilm(cfg, enc.module.bert)
    print(f"text: {sum(p.numel() for p in model.parameters()):,} parameters, {gflops(model, cfg.text.max_tokens):.4f} "
          f"GFLOP for {cfg.text.max_tokens} tokens (MiniLM layers {tuple(c.layers)}, FFN {c.ffn}, table rank {c.embed_rank})")
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=0.01)
    ema = EMA(model, c.ema_decay)
    step, finished = resume(path, "text", model, ema, opt)
    if finished is not None:
        return finished
    held_out = ds_prompts(cfg)
    sampler = TextSampler(EmojiDataset(Path(cfg.data.folder)), enc.tokenizer.get_vocab(), set(held_out), cfg.seed + step)
    if step == 0:
        print(f"text: at the start, token cosine over {len(held_out)} evaluation prompts "
              f"{token_cosine(model, enc, held_out).mean():.4f}")
    timer = Timer(c.time_budget_s, c.checkpoint_every_s)
    bar = tqdm(total=c.max_steps, initial=step, desc="text")

    def save(final=False, report=None):
        state = checkpoint_state(cfg, step, model=model.state_dict(), ema=ema.model.state_dict(), opt=opt.state_dict(),
                                 vocab=model.word.num_embeddings, heads=model.layers[0].heads)
        if final:
            state.update(final=True, report=report)
        save_checkpoint(path, state)

    model.train()
    while step < c.max_steps and not timer.out_of_time():
        lr = c.lr * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / c.max_steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        ids = enc.tokenize(sampler.batch(c.batch_size))
        with torch.no_grad():
            ref = enc.module(ids)
        loss = distillation_loss(model(ids), ref)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(model, step)
        step += 1
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % 500 == 0:
            print(f"\ntext: step {step}, EMA token cosine {token_cosine(ema.model, enc, held_out).mean():.4f}", flush=True)
        if timer.due():
            save()
    bar.close()
    cos = token_cosine(ema.model, enc, held_out)
    report = {"steps": step, "seconds": round(timer.elapsed()), "token_cosine_mean": float(cos.mean()),
              "token_cosine_min": float(cos.min()), "prompts": len(held_out),
              "gflop": round(gflops(ema.model, cfg.text.max_tokens), 4),
              "parameters": sum(p.numel() for p in ema.model.parameters())}
    print(f"text: {step} steps, token cosine over {len(held_out)} evaluation prompts mean {cos.mean():.4f}, min {cos.min():.4f}")
    save(final=True, report=report)
    return report
