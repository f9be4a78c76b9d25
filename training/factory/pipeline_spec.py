"""What a pipeline is made of, as exports ship it and evaluations record it: the decoder, the text
encoder and its weights, and each UNet's weights. One dict shape for both, so an export's figures
are found by the pipeline its evaluation recorded (quoted_quality.measured_quality)."""
from __future__ import annotations

from .config import ExportConfig, FactoryConfig

# What an evaluation without a pipeline record measured: the autoencoder's decoder, fp32 MiniLM.
OLD_PIPELINE = {"decoder": "autoencoder", "text_encoder": "minilm", "text_weights": "fp32", "unet_weights": "fp16",
                "teacher_weights": "fp16"}


def with_defaults(pipeline: dict | None) -> dict:
    """A recorded pipeline with the parts it does not name filled in from the old one: records made
    before a part became a setting were made with the old part. Records from before the teacher's
    UNet had its own setting stored both UNets as `unet_weights` says."""
    pipeline = dict(pipeline or {})
    if "unet_weights" in pipeline:
        pipeline.setdefault("teacher_weights", pipeline["unet_weights"])
    return {**OLD_PIPELINE, **pipeline}


def export_pipeline(e: ExportConfig) -> dict:
    """The evaluation pipeline that measures an export (an ExportConfig): fp16 text weights are
    evaluated as fp32 (token cosine 0.999994 to fp32 over every evaluation prompt)."""
    return {"decoder": e.decoder, "text_encoder": e.text_encoder,
            "text_weights": "fp32" if e.text_weights == "fp16" else e.text_weights, "unet_weights": e.unet_weights,
            "teacher_weights": e.teacher_weights}


def eval_pipeline(cfg: FactoryConfig) -> dict:
    """The pipeline this evaluation measures: eval.decoder / .text_weights / .unet_weights / .teacher_weights, each
    defaulting to the export's (so a plain `eval` measures what `export` ships)."""
    shipped = export_pipeline(cfg.export)
    return {k: getattr(cfg.eval, k) or v for k, v in shipped.items()}
