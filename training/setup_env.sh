#!/usr/bin/env bash
# Creates the pinned Python environment for training/ once, and prints its path.
#
# The environment lives outside the checkout (CI clones afresh every run) under
# $ONESTEP_VENV_ROOT (default ~/.cache/onestep), keyed by a hash of requirements.txt, so a fresh
# clone reuses it and a change of pins builds a new one. PyPI only.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hash=$(sha256sum "$here/requirements.txt" | cut -c1-16)
root=${ONESTEP_VENV_ROOT:-$HOME/.cache/onestep}
venv="$root/venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "setup_env: building $venv (PyTorch wheels are large; this happens once per pin set)" >&2
  rm -rf "$venv"
  mkdir -p "$root"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
