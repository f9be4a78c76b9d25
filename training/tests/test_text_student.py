"""The `text` stage: the browser's text encoder distilled from MiniLM (factory/text_student.py)."""
from __future__ import annotations

import json

import onnx
import torch

from factory.config import load_config


def test_a_student_with_all_of_minilm_is_minilm():
    """Every MiniLM layer, the full table rank and FFN: the student's forward is MiniLM's, pads included
    (so the architecture, the SVD factorisation and the weight copy are right)."""
    from factory.conditioning import text_encoder_for
    from factory.text_student import build_from_minilm, gflops

    cfg = load_config(None, {"text_student": {"layers": [0, 1, 2, 3, 4, 5], "ffn": 1536, "embed_rank": 384}})
    enc = text_encoder_for(cfg)
    student = build_from_minilm(cfg, enc.module.bert).eval()
    ids = enc.tokenize(["red apple, noto emoji", "", "a cat holding a very small umbrella in the rain"])
    with torch.no_grad():
        err = (student(ids) - enc.module(ids)).abs().max().item()
    assert err < 1e-3, err
    assert abs(gflops(student) - 0.43) < 0.02  # MiniLM's cost for 20 tokens, as the issue counts it


def test_the_default_student_fits_the_browser_budget():
    from factory.conditioning import text_encoder_for
    from factory.text_student import build_from_minilm, gflops

    cfg = load_config(None)
    student = build_from_minilm(cfg, text_encoder_for(cfg).module.bert)
    assert gflops(student, cfg.text.max_tokens) <= 0.1
    assert sum(p.numel() for p in student.parameters()) < 8e6  # under 8 MB at one byte a weight


def test_the_sampler_never_draws_a_held_out_prompt_and_always_the_empty_one():
    from factory.text_student import TextSampler

    class Data:
        concepts = [{"label": "red apple", "tags": ["fruit"], "split": "train"},
                    {"label": "secret owl", "tags": ["bird"], "split": "val"}]
        meta = {"styles": ["noto"]}

    held_out = {"red apple", "red apple, noto emoji"}
    sampler = TextSampler(Data(), {"cat": 1, "##s": 2, "[PAD]": 0, "dog": 3}, held_out, seed=0)
    batch = sampler.batch(400)
    assert batch[0] == "" and len(batch) == 400
    assert not held_out & set(batch)
    assert not any("owl" in p for p in batch), "a validation concept is never drawn"
    assert set(sampler.words) == {"cat", "dog"}


def test_distilled_encoder_exports_with_parity_and_its_cost_in_the_manifest(tiny_trained):
    from factory.browser_decoder import train_browser_decoder
    from factory.config import from_dict, to_dict
    from factory.distill import train_student
    from factory.export import export_model
    from factory.onnx_pack import inline_model
    from factory.text_student import student_path, train_text_student

    d = to_dict(tiny_trained)
    d["text_student"].update(max_steps=2, batch_size=4)
    d["export"].update(text_encoder="distilled", text_weights="int8")  # int4 is GPTQ of MiniLM only
    cfg = from_dict(d)
    report = train_text_student(cfg)
    assert report["steps"] == 2 and student_path(cfg).exists()
    assert train_text_student(cfg) == report, "a finished student is not trained again"
    train_student(cfg, cfg.distill.variant)
    train_browser_decoder(cfg)
    out = export_model(cfg)
    manifest = json.loads((out / "manifest.json").read_text())
    made = manifest["export"]
    encoder = out / manifest["files"]["text_encoder"]["path"]  # a packed graph (onnx_pack.py)
    onnx.checker.check_model(inline_model(encoder))
    assert made["text_encoder_kind"] == "distilled" and made["text_encoder_max_abs_err"] < 0.05
    assert 0 < made["text_encoder_gflop"] <= 0.1 and "text_encoder_cosine_mean" in made
    assert manifest["attribution"]["text_encoder"]["name"].startswith("distilled by Onestep from")
    assert encoder.stat().st_size < 8e6

