"""A tiny configuration of the whole chain, built once per test session in a temporary folder."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
os.chdir(TRAINING)

from factory.config import load_config  # noqa: E402

NPM_CACHE = TRAINING / "data" / "npm-cache"  # shared with real runs: packages are fetched once


def tiny_overrides(tmp: Path) -> dict:
    return {
        "run_dir": str(tmp / "run"),
        "data": {"folder": str(tmp / "data"), "cache": str(NPM_CACHE), "limit": 12, "val_fraction": 0.2},
        "text": {"max_tokens": 8},
        "ae": {"block_out_channels": [8, 8, 8, 8], "max_steps": 2, "batch_size": 4},
        "teacher": {"block_out_channels": [32, 32, 32], "layers_per_block": 1, "attention_heads": 2,
                    "max_steps": 2, "batch_size": 4, "sample_every_steps": 100000},
        "distill": {"max_generator_steps": 1, "batch_size": 2, "ode_pairs": 4, "ode_steps": 2,
                    "fake_updates_per_generator_step": 2, "sample_every_steps": 0},
        "gptq": {"calibration_prompts": 32, "unet_calibration_prompts": 16, "teacher_calibration_prompts": 4},
        "decoder": {"channels": [8, 8, 8], "max_steps": 2, "batch_size": 4, "residual_samples": 4},
        # the autoencoder's decoder (the shipped one): evaluation tests need not train the browser decoder first
        "eval": {"decoder": "autoencoder", "classifier_steps": 3, "prompts_per_split": 3, "diversity_prompts": 2, "diversity_seeds": 2,
                 "teacher_settings": [[2, 3.0]]},
        "export": {"model_id": "tiny-test", "out_dir": str(tmp / "models"), "parity_tolerance": 0.02, "decoder": "browser"},
    }


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("factory")
    path = tmp / "tiny.json"
    path.write_text(json.dumps(tiny_overrides(tmp)))
    return load_config(path)


@pytest.fixture(scope="session")
def tiny_data(tiny_cfg):
    from factory.dataset import build

    d = tiny_cfg.data
    return build(Path(d.folder), Path(d.cache), d.size, tuple(d.styles), d.limit, d.val_fraction, workers=2)


@pytest.fixture(scope="session")
def tiny_trained(tiny_cfg, tiny_data):
    """AE + teacher trained for a couple of steps: enough for every later stage to run for real."""
    from factory.autoencoder import train_autoencoder
    from factory.teacher import train_teacher

    train_autoencoder(tiny_cfg)
    train_teacher(tiny_cfg)
    return tiny_cfg
