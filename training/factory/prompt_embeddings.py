"""The text embeddings the model ships for the prompts a visit can open with: the empty prompt in
the box of a first visit. With them the first image needs no text encoder, so its 14 MB and its
session come after that image instead of before it (workers/load-model.ts).

Computed by the exported graph itself (onnxruntime, CPU) on the exported tokenizer's ids, so they
are the shipped encoder's output; the browser's own WASM run of that graph differs from them by
rounding only (the e2e WASM suite measures it). Stored as float32, little-endian, one
[max_length, width] block per prompt in the order of the manifest's `prompt_embeddings.prompts`.

  python -m factory prompt-embeddings --config configs/full.json   add them to the exported model in place
  (export.add_prompt_embeddings; export_model writes them with every export)
"""
from pathlib import Path

import numpy as np

from .common import sha256_file
from .onnx_export import ort_run
from .onnx_pack import graph_file

PROMPTS = [""]
FILE_KEY = "prompt_embeddings"
REL_PATH = "text_encoder/prompt_embeddings.f32"


def write_prompt_embeddings(model_dir: Path, prompts: list[str] = PROMPTS) -> tuple[dict, dict]:
    """Writes the file next to the text encoder; returns (its files entry, the manifest's
    prompt_embeddings field)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer" / "tokenizer.json"))
    ids = np.array([e.ids for e in tok.encode_batch(prompts)], dtype=np.int64)
    out = ort_run(graph_file(model_dir, "text_encoder"), {"input_ids": ids})[0]
    path = model_dir / REL_PATH
    path.write_bytes(np.ascontiguousarray(out, dtype="<f4").tobytes())
    entry = {"path": REL_PATH, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return entry, {"file": FILE_KEY, "prompts": list(prompts)}
