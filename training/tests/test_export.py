"""The export, import-student and requote stages: ONNX parity, the manifest, its index entry and its quality."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from factory.browser_decoder import train_browser_decoder  # noqa: E402
from factory.common import load_checkpoint


def test_export_round_trip_passes_parity_and_manifest_validates(tiny_trained):
    from factory.common import sha256_file
    from factory.distill import train_student
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
    from factory.onnx_pack import PACKED_NAME, inline_model, unpack

    for key in ("text_encoder", "unet", "unet_teacher", "vae_decoder"):
        onnx.checker.check_model(inline_model(out / manifest["files"][key]["path"]))
        assert manifest["export"][f"{key}_max_abs_err"] < 0.05
    # the text encoder and UNets ship packed (int4, int8 and 8-bit GPTQ weights: every recipe), the
    # same numbers as the stored graphs bit for bit; the stored graphs do not ship
    for key in ("text_encoder", "unet", "unet_teacher"):
        assert manifest["files"][key]["path"] == f"{key}/{PACKED_NAME}" and manifest["files"][key]["format"] == "onnx-pack"
        assert manifest["export"][f"{key}_packed_max_abs_err"] == 0.0
        assert not (out / key / "model.onnx").exists()
        graph, weights = unpack(out / manifest["files"][key]["path"])
        assert len(weights) > sum(len(i.raw_data) for i in graph.graph.initializer)  # most weights are rebuilt ones
    assert "format" not in manifest["files"]["vae_decoder"]
    # the browser parts: the decoder stage's network, an int4 text encoder (GPTQ) close to fp32 MiniLM
    # at under a third of MiniLM's fp16 bytes (43 MiB; int8 was 23.6)
    assert manifest["export"]["vae_decoder_kind"] == "browser" and manifest["export"]["vae_decoder_gflop"] > 0
    assert manifest["export"]["text_encoder_weights"] == "int4" and manifest["export"]["text_encoder_cosine_mean"] > 0.99
    assert manifest["files"]["text_encoder"]["bytes"] < 15_000_000
    # the empty prompt's embedding ships (a first visit's first image needs no encoder): it is the
    # exported encoder's own output for the exported tokenizer's ids of ""
    from tokenizers import Tokenizer

    from factory.onnx_export import ort_run

    assert manifest["prompt_embeddings"] == {"file": "prompt_embeddings", "prompts": [""]}
    shipped = np.fromfile(out / manifest["files"]["prompt_embeddings"]["path"], dtype="<f4")
    ids = np.array([Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json")).encode("").ids], dtype=np.int64)
    assert np.array_equal(shipped, ort_run(out / manifest["files"]["text_encoder"]["path"], {"input_ids": ids})[0].ravel())
    assert manifest["one_step"]["timestep"] == 999 and abs(manifest["one_step"]["alpha_bar"] - 0.0046601) < 1e-6
    index = json.loads((out.parent / "index.json").read_text())
    assert [m["id"] for m in index["models"]] == ["tiny-test"]
    assert not list(out.parent.glob(".*staging"))
    # a re-export of unchanged UNets keeps the shipped (packed) bytes (no new download, no repository churn)
    again = json.loads((export_model(tiny_trained) / "manifest.json").read_text())
    for key in ("unet", "unet_teacher"):
        assert again["files"][key]["sha256"] == manifest["files"][key]["sha256"]


def test_pack_stage_turns_a_plain_export_into_packed_graphs_with_the_same_outputs(tiny_trained):
    """`python -m factory pack` on a model exported with export.packed false: same outputs, new manifest."""
    import copy as copy_mod

    from factory.common import sha256_file
    from factory.distill import train_student
    from factory.export import export_model, pack_exported
    from factory.manifest_schema import validate_manifest
    from factory.onnx_export import ort_run
    from factory.onnx_pack import example_feeds

    cfg = copy_mod.deepcopy(tiny_trained)
    cfg.export.model_id, cfg.export.packed = "tiny-plain", False
    train_student(cfg, cfg.distill.variant)
    train_browser_decoder(cfg)
    out = export_model(cfg)
    before = json.loads((out / "manifest.json").read_text())
    keys = ("text_encoder", "unet", "unet_teacher")
    feeds = {k: example_feeds(before["tensors"]["unet" if k == "unet_teacher" else k]) for k in keys}
    plain = {k: ort_run(out / before["files"][k]["path"], feeds[k])[0] for k in keys}
    assert all(before["files"][k]["path"] == f"{k}/model.onnx" and "format" not in before["files"][k] for k in keys)
    pack_exported(cfg)
    after = json.loads((out / "manifest.json").read_text())
    validate_manifest(after)
    for k in keys:
        f = after["files"][k]
        assert f["format"] == "onnx-pack" and (out / f["path"]).stat().st_size == f["bytes"] and sha256_file(out / f["path"]) == f["sha256"]
        assert not (out / k / "model.onnx").exists()
        assert np.array_equal(ort_run(out / f["path"], feeds[k])[0], plain[k])
    assert after["files"]["vae_decoder"] == before["files"]["vae_decoder"]
    pack_exported(cfg)  # a second run finds them packed and changes nothing
    assert json.loads((out / "manifest.json").read_text()) == after


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
    """import-student: the exported (packed) UNet back to PyTorch, so a run can continue from it."""
    import copy as copy_mod
    import shutil

    from factory.distill import load_student, shipped_student_name, train_student
    from factory.export import export_model, models_root
    from factory.onnx_import import OnnxImportError, import_student, unet_state_from_onnx
    from factory.onnx_pack import PACKED_NAME
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
        unet_state_from_onnx(build_unet(other), model_dir / "unet" / PACKED_NAME, (x, t, c))


def test_bad_manifest_is_rejected():
    """The shared schema (src/shared/manifest.schema.json) refuses, naming the field."""
    from factory.manifest_schema import ManifestError, validate_manifest

    with pytest.raises(ManifestError, match="missing '"):
        validate_manifest({"schema": 1, "id": "x"})
    shipped = json.loads((Path(__file__).resolve().parents[2] / "public/models/onestep-emoji/manifest.json").read_text())
    validate_manifest(shipped)
    for field, value, named in [("sha256", "zz", "files.unet.sha256"), ("path", "../x.onnx", "files.unet.path"), ("bytes", 2**40, "files.unet.bytes")]:
        bad = json.loads(json.dumps(shipped))
        bad["files"]["unet"][field] = value
        with pytest.raises(ManifestError, match=named.replace(".", r"\.")):
            validate_manifest(bad)


def test_manifest_quality_quotes_the_largest_evaluation_of_the_exported_student(tmp_path):
    from factory.quoted_quality import measured_quality

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
    from factory.export import export_model
    from factory.pipeline_spec import export_pipeline
    from factory.quoted_quality import requote_manifest

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
            "pipeline": pipeline or export_pipeline(cfg.export)}))  # the export's own

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
