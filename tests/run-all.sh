#!/usr/bin/env bash
# Runs every test of the repository and ends with one plain line: "N passed, N failed".
#   - training/ (pytest): the model factory's tiny end-to-end chain, data, export parity
#   - lint (scripts/lint.sh): tsc for the page and for the workers without the DOM, ESLint,
#     Prettier --check, ruff; a lint failure fails the run
#   - app unit tests (vitest): manifest, sha256, chunks, noise, x0 rule, pixels, coalescing
#   - app end-to-end (tests/e2e/run-e2e.mjs): built app + real model in headless Chromium
#     (/usr/bin/chromium: WASM, WebGPU on SwiftShader, offline/PWA, privacy, faults, endurance)
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

# ---- the app (TypeScript) ----------------------------------------------------------------------
# add_counts LOG RC: adds a runner's "N passed" / "N failed" to the totals; a non-zero exit with
# no failure counted (a crash, a failed build) counts as one failure so it is never hidden.
add_counts() {
  local p f n
  p=$(grep -oE "[0-9]+ passed" <<<"$1" | grep -oE "[0-9]+" | tail -1)
  f=$(grep -oE "[0-9]+ failed" <<<"$1" | grep -oE "[0-9]+" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$2" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
}

if [ ! -d "$root/node_modules" ]; then (cd "$root" && npm ci --no-audit --no-fund); fi

# lint (scripts/lint.sh): both TypeScript projects, ESLint, Prettier, ruff; one test per check.
log=$(mktemp)
(cd "$root" && bash scripts/lint.sh) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
add_counts "$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)" "$rc"
rm -f "$log"
# The browser tests drive Debian's Chromium; a fresh machine may not have it yet.
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the end-to-end tests need Chromium: sudo apt-get install -y chromium"
  fi
fi

# vitest: its "Tests  N passed | M failed (T)" line, colour codes stripped.
log=$(mktemp)
(cd "$root" && NO_COLOR=1 npx vitest run --reporter=default) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
add_counts "$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E "^ *Tests +" | tail -1)" "$rc"
rm -f "$log"

# e2e: the runner builds, serves on a free port, and ends with a plain "N passed, N failed".
log=$(mktemp)
(cd "$root" && node tests/e2e/run-e2e.mjs) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
add_counts "$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)" "$rc"
rm -f "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
