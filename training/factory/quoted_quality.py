"""The `quality` a manifest quotes: the evaluation of the very student and pipeline it ships.

`export` quotes it when it writes a manifest; `python -m factory requote` re-quotes a shipped
manifest from a newer, larger evaluation without exporting again (files and hashes unchanged).
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import ExportConfig, FactoryConfig, models_root
from .onnx_export import write_manifest
from .pipeline_spec import export_pipeline, with_defaults


def measured_quality(run: Path, student_name: str, pipeline: dict | None = None) -> dict:
    """The evaluation figures of this export, for the manifest: from the evaluation of this student,
    through the export's own pipeline (decoder and text weights), with the most prompts (a larger
    one has its own folder, eval.name), since small prompt sets bias FID towards 1× and leave
    verdicts undecided."""
    key = f"student:{student_name}"
    pipeline = with_defaults(pipeline)
    reports = [(p.parent.name, json.loads(p.read_text())) for p in sorted(run.glob("*/report.json"))]
    # evaluation reports only (they record their prompt sets): the grain stage's report has student rows too
    reports = [(name, r) for name, r in reports if "sets" in r and key in r.get("rows", {})
               and with_defaults(r.get("pipeline")) == pipeline]
    if not reports:
        return {"note": f"not evaluated through this pipeline ({pipeline}): run the eval stage before export"}
    name, report = max(reports, key=lambda nr: sum(nr[1].get("sets", {}).values()))
    rows = report["rows"]
    teachers = {k: v for k, v in rows.items() if k.startswith("teacher@")}
    best = min(teachers, key=lambda k: teachers[k]["fid"]) if teachers else None
    out = {"source": "training/MODEL_CARD.md", "evaluation": name, "pipeline": pipeline, "prompts": report.get("sets", {}),
           "classifier_fid_real_vs_real": rows.get("real vs real", {}).get("fid"), "student": rows[key]}
    if best:
        out["teacher"] = {"setting": best, **teachers[best]}
        verdicts = report.get("vs_teacher", {}).get(key, {}).get(best)
        if verdicts:
            out["vs_teacher"] = verdicts
    return out


def requote_quality(cfg: FactoryConfig) -> Path:
    """`python -m factory requote`: the shipped manifest's `quality` from the largest evaluation of the
    student it ships, without exporting again (its files, hashes and the users' caches stay valid)."""
    return requote_manifest(models_root(cfg) / cfg.export.model_id / "manifest.json", Path(cfg.run_dir))


def requote_manifest(path: Path, run: Path) -> Path:
    manifest = json.loads(path.read_text())
    # the student named by the manifest itself: figures of another student are never quoted for it
    student = manifest["one_step"]["student_variant"]
    made = manifest.get("export", {})
    # the pipeline the manifest's files were made with (older manifests: the parts of that time)
    parts = ExportConfig(decoder=made.get("vae_decoder_kind", "autoencoder"), text_encoder=made.get("text_encoder_kind", "minilm"),
                         text_weights=made.get("text_encoder_weights", "fp16"),
                         unet_weights=made.get("unet_weights", "fp16"),
                         teacher_weights=made.get("teacher_weights", made.get("unet_weights", "fp16")))
    quality = measured_quality(run, student, export_pipeline(parts))
    if "student" not in quality:
        raise FileNotFoundError(f"no evaluation of '{student}' in {run}: run the eval stage first")
    manifest["quality"] = quality
    write_manifest(path, manifest)
    fid = quality.get("vs_teacher", {}).get("fid_ratio", {})
    print(f"requote: {path} quotes {quality['evaluation']} (FID ratio {fid.get('value', float('nan')):.3f}, {fid.get('verdict', '?')})")
    return path
