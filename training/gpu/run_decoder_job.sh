#!/usr/bin/env bash
# On the borrowed GPU box, from the repository root, with .carry (gpu/decoder_job.py pack) carried:
#   device run: bash training/gpu/run_decoder_job.sh            (JOB_BUDGET: seconds for the whole job, default 420; a call runs at most 600)
# Uses the box's own PyTorch; only diffusers travels, as a pure-Python wheel.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .carry/decoder/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20
OUT=${OUT:-/tmp/onestep-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout $(( ${JOB_BUDGET:-420} + 100 )) python3 training/gpu/decoder_job.py run --out "$OUT" --budget "${JOB_BUDGET:-420}" "$@" 2>&1 | tee "$OUT/log.txt"
