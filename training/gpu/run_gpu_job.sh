#!/usr/bin/env bash
# Runs on the borrowed GPU box, from the repository root, with .carry/ (gpu/pack_carry.py) carried.
# Uses the box's own PyTorch; only pure-Python wheels travel.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .carry/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20
OUT=${OUT:-/tmp/onestep-out}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout "${JOB_TIMEOUT:-560}" python3 training/gpu/gpu_job.py --out "$OUT" "$@" 2>&1 | tee "$OUT/log.txt"
