"""The autoencoder and teacher stages: finished checkpoints, and resume after an interruption."""
import json
from pathlib import Path

import numpy as np
import torch

from factory.common import load_checkpoint
from factory.config import from_dict


def test_ae_and_teacher_write_finished_checkpoints(tiny_trained):
    run = Path(tiny_trained.run_dir)
    ae = load_checkpoint(run / "ae" / "ae.pt")
    assert ae["final"] and ae["scaling_factor"] > 0 and "config" in ae
    assert np.load(run / "ae" / "latents.npy").shape[1:] == (4, 16, 16)
    te = load_checkpoint(run / "teacher" / "teacher.pt")
    assert te["final"] and te["step"] == 2
    assert from_dict(te["config"]).teacher.block_out_channels == (32, 32, 32)  # config travels with weights
    assert (run / "teacher" / "samples_final.png").exists()


def test_interrupted_teacher_resumes_from_its_checkpoint(tiny_trained, tmp_path):
    from factory.teacher import train_teacher

    cfg = from_dict(json.loads(json.dumps(load_checkpoint(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt")["config"])))
    cfg.run_dir = tiny_trained.run_dir
    # simulate an interruption: a non-final checkpoint at step 2, then ask for 3 steps
    run2 = tmp_path / "run2"
    (run2 / "teacher").mkdir(parents=True)
    import shutil

    shutil.copytree(Path(tiny_trained.run_dir) / "ae", run2 / "ae")
    shutil.copy(Path(tiny_trained.run_dir) / "captions.pt", run2 / "captions.pt")
    ck = load_checkpoint(Path(tiny_trained.run_dir) / "teacher" / "teacher.pt")
    ck.pop("final")
    torch.save(ck, run2 / "teacher" / "teacher.pt")
    cfg.run_dir = str(run2)
    cfg.teacher.max_steps = 3
    report = train_teacher(cfg)
    assert report["steps"] == 3  # resumed at 2, did one more
