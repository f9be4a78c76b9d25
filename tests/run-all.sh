#!/usr/bin/env bash
# Runs every test of the repository and ends with one plain line: "N passed, N failed".
#   - training/ (pytest): the model factory's tiny end-to-end chain, data, export parity
# Each suite's counts are summed; the exit status is non-zero if anything failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
passed=0; failed=0
log=$(mktemp)

venv=$("$root/training/setup_env.sh") || { echo "could not build the Python environment"; echo "0 passed, 1 failed"; exit 1; }
(cd "$root/training" && "$venv/bin/python" -m pytest -q -p no:cacheprovider) 2>&1 | tee "$log"
py_rc=${PIPESTATUS[0]}
summary=$(grep -E "^[0-9]+ (passed|failed)|^(=+ )?[0-9]+ (passed|failed)" "$log" | tail -1)
p=$(grep -oE "[0-9]+ passed" <<<"$summary" | grep -oE "[0-9]+" || echo 0)
f=0
for n in $(grep -oE "[0-9]+ (failed|errors?)" <<<"$summary" | grep -oE "^[0-9]+"); do f=$((f + n)); done
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [ "$py_rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
rm -f "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
