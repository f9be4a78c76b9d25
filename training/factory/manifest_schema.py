"""Validation of manifest.json, the model contract between training/ and the app (DESIGN.md).

The exporter validates what it writes; the app validates the same fields at load time.
"""
from __future__ import annotations

import re

REQUIRED_FILES = ("tokenizer", "text_encoder", "unet", "vae_decoder")
DTYPES = {"float32", "float16", "int64", "int32"}


class ManifestError(ValueError):
    pass


def _need(obj: dict, key: str, kind, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise ManifestError(f"manifest: missing '{where}{key}'")
    if not isinstance(obj[key], kind):
        raise ManifestError(f"manifest: '{where}{key}' must be {getattr(kind, '__name__', kind)}")
    return obj[key]


def validate_manifest(m: dict) -> dict:
    if _need(m, "schema", int, "") != 1:
        raise ManifestError("manifest: unsupported schema version")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", _need(m, "id", str, "")):
        raise ManifestError("manifest: id must be lower-case letters, digits, '.', '_' or '-'")
    files = _need(m, "files", dict, "")
    for key in REQUIRED_FILES:
        f = _need(files, key, dict, "files.")
        path = _need(f, "path", str, f"files.{key}.")
        if path.startswith("/") or ".." in path.split("/"):
            raise ManifestError(f"manifest: files.{key}.path must be relative and inside the model folder")
        if _need(f, "bytes", int, f"files.{key}.") <= 0:
            raise ManifestError(f"manifest: files.{key}.bytes must be positive")
        if not re.fullmatch(r"[0-9a-f]{64}", _need(f, "sha256", str, f"files.{key}.")):
            raise ManifestError(f"manifest: files.{key}.sha256 must be 64 hex digits")
    tensors = _need(m, "tensors", dict, "")
    for net in ("text_encoder", "unet", "vae_decoder"):
        t = _need(tensors, net, dict, "tensors.")
        for side in ("inputs", "outputs"):
            for name, spec in _need(t, side, dict, f"tensors.{net}.").items():
                if _need(spec, "dtype", str, f"tensors.{net}.{side}.{name}.") not in DTYPES:
                    raise ManifestError(f"manifest: tensors.{net}.{side}.{name}.dtype is not one of {sorted(DTYPES)}")
                _need(spec, "shape", list, f"tensors.{net}.{side}.{name}.")
    lat = _need(m, "latent", dict, "")
    for k in ("channels", "height", "width"):
        if _need(lat, k, int, "latent.") <= 0:
            raise ManifestError(f"manifest: latent.{k} must be positive")
    rule = _need(m, "one_step", dict, "")
    if _need(rule, "rule", str, "one_step.") not in ("ddpm", "euler"):
        raise ManifestError("manifest: one_step.rule must be 'ddpm' or 'euler'")
    ts = _need(rule, "timestep", int, "one_step.")
    if not 0 <= ts < 1000:
        raise ManifestError("manifest: one_step.timestep out of range")
    ab = _need(rule, "alpha_bar", float, "one_step.")
    if not 0 < ab < 1:
        raise ManifestError("manifest: one_step.alpha_bar must be in (0, 1)")
    if _need(rule, "prediction_type", str, "one_step.") != "epsilon":
        raise ManifestError("manifest: only epsilon prediction is supported")
    if _need(_need(m, "vae", dict, ""), "scaling_factor", float, "vae.") <= 0:
        raise ManifestError("manifest: vae.scaling_factor must be positive")
    tok = _need(m, "tokenizer", dict, "")
    kind = _need(tok, "kind", str, "tokenizer.")
    if kind not in ("tokenizers-json", "clip-bpe"):
        raise ManifestError("manifest: tokenizer.kind must be 'tokenizers-json' or 'clip-bpe'")
    if kind == "clip-bpe" and _need(tok, "merges", str, "tokenizer.") not in files:
        raise ManifestError("manifest: tokenizer.merges must name a key of files (CLIP's merges.txt)")
    if rule["rule"] == "euler" and not isinstance(rule.get("sigma"), float):
        raise ManifestError("manifest: one_step.sigma is needed by the euler rule")
    for graph, keys in m.get("external_data", {}).items():
        if graph not in files or not all(k in files for k in keys):
            raise ManifestError(f"manifest: external_data.{graph} must name keys of files")
    _need(m, "license", dict, "")
    _need(m, "attribution", dict, "")
    _need(_need(m, "requirements", dict, ""), "webgpu_features", list, "requirements.")
    return m
