#!/usr/bin/env bash
# The same benchmark on a machine WITH a GPU: WebGPU on real hardware through Chromium's Vulkan
# backend (no SwiftShader). Writes bench/results/gpu.json; the README table gains a GPU column
# only when that file exists from a successful run. Not run on the project's CPU-only machines.
#
# Needs: Node 20, `npm ci` done, a Chromium (CHROMIUM=/path, default /usr/bin/chromium) and the
# GPU's Vulkan driver (NVIDIA: the proprietary driver's libGLX_nvidia / nvidia_icd.json; AMD/Intel:
# mesa-vulkan-drivers). Check first:  vulkaninfo --summary  (must list the GPU, not llvmpipe).
#
# Chromium flags (bench/lib/browser.mjs, mode "gpu"):
#   --enable-unsafe-webgpu     WebGPU on Linux is still behind this flag
#   --enable-features=Vulkan   Dawn on Vulkan
#   --use-angle=vulkan --use-vulkan=native --ignore-gpu-blocklist --disable-vulkan-surface
# The run stops at once if the adapter is a fallback (SwiftShader): those are not GPU figures.
#
#   bash bench/gpu.sh [--reps 30 --teacher-reps 9 ...]     (any npm run bench option)
set -euo pipefail
cd "$(dirname "$0")/.."
# Headless Chromium needs no display; on some drivers Vulkan wants a runtime dir.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
exec node bench/run.mjs --gpu --backends wasm,webgpu --only latency,overhead,limit,teacher,cold,memory,size --gens 1000 "$@"
