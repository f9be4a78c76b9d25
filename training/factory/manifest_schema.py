"""Validation of manifest.json, the model contract between training/ and the app (DESIGN.md).

The shape and bounds are src/shared/manifest.schema.json, the one source the app's worker
validates against too (workers/model-store/manifest.ts), checked here with `jsonschema`; the
checks across fields that a schema cannot say follow it. On top of what the app needs to run a
model, what our exporters write must also carry what shipping it needs (`validate_export`'s extras):
a folder-safe id, the licence, the attribution and the device requirements.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "src" / "shared" / "manifest.schema.json"
MAX_LATENT_VALUES = 16 * 256 * 256
MAX_TOKENIZER_BYTES = 64 * 2**20


class ManifestError(ValueError):
    pass


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _message(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return f"manifest: missing '{where + '.' if where else ''}{missing.group(1) if missing else '?'}'"
    description = error.schema.get("description", "what the schema allows") if isinstance(error.schema, dict) else "valid"
    return f"manifest: '{where or '(top)'}' must be {description}, got {json.dumps(error.instance)[:80]}"


def validate_manifest(m: dict) -> dict:
    """ManifestError (naming the field) unless `m` is a manifest the app can run."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(m))
    if error is not None:
        raise ManifestError(_message(error))
    files = m["files"]
    tok = m["tokenizer"]
    if tok["kind"] == "clip-bpe" and tok["merges"] not in files:
        raise ManifestError("manifest: tokenizer.merges must name a key of files (CLIP's merges.txt)")
    for key in ["tokenizer"] + ([tok["merges"]] if tok["kind"] == "clip-bpe" else []):
        if files[key]["bytes"] > MAX_TOKENIZER_BYTES:
            raise ManifestError(f"manifest: files.{key}.bytes must be at most {MAX_TOKENIZER_BYTES} (64 MiB) for a tokenizer file")
    lat = m["latent"]
    if lat["channels"] * lat["height"] * lat["width"] > MAX_LATENT_VALUES:
        raise ManifestError(f"manifest: latent holds more than the {MAX_LATENT_VALUES} values the app allocates for one image")
    if m["output"]["range"][0] >= m["output"]["range"][1]:
        raise ManifestError("manifest: output.range must be [low, high] with low < high")
    for graph, keys in m.get("external_data", {}).items():
        if graph not in files or not all(k in files for k in keys):
            raise ManifestError(f"manifest: external_data.{graph} must name keys of files")
    if "teacher" in m and m["teacher"]["file"] not in files:
        raise ManifestError("manifest: teacher.file must name a key of files")
    # What our exporters write must also carry what shipping it needs.
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", m["id"]):
        raise ManifestError("manifest: id must be lower-case letters, digits, '.', '_' or '-' (it names the model folder)")
    if not 0 <= m["one_step"]["timestep"] < 1000:
        raise ManifestError("manifest: one_step.timestep out of range")
    for key in ("license", "attribution"):
        if not isinstance(m.get(key), dict):
            raise ManifestError(f"manifest: missing '{key}' (an object)")
    if not isinstance(m.get("requirements", {}).get("webgpu_features"), list):
        raise ManifestError("manifest: missing 'requirements.webgpu_features'")
    return m
