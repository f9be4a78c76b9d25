#!/usr/bin/env bash
# The code's habits, checked: TypeScript (the page project, and the workers' project compiled
# without the DOM library), ESLint, Prettier, ruff for the Python factory, and the import structure
# (scripts/check-imports.mjs, scripts/check_py_imports.py). Each check is one
# test; the run ends with "N passed, N failed" (tests/run-all.sh counts it).
#   bash scripts/lint.sh          check (npm run lint)
#   bash scripts/lint.sh --fix    fix what the tools can fix and format (npm run fix)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$(training/setup_env.sh) || { echo "lint: could not build the Python environment"; echo "0 passed, 1 failed"; exit 1; }

if [ "${1:-}" = "--fix" ]; then
  npx eslint --fix . ; npx prettier --write . >/dev/null ; (cd training && "$venv/bin/ruff" check --fix .)
  echo "fixed what could be fixed; run 'npm run lint' to see what is left"
  exit 0
fi

passed=0; failed=0
check() {
  local name=$1; shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "lint: $name ok"
  else
    failed=$((failed + 1)); echo "lint: $name FAILED"; echo "$out" | tail -40
  fi
}
check "tsc (page)" npx tsc --noEmit -p tsconfig.json
check "tsc (workers, no DOM)" npx tsc --noEmit -p workers/tsconfig.json
check "eslint" npx eslint .
check "prettier" npx prettier --check .
check "ruff" bash -c "cd training && '$venv/bin/ruff' check ."
check "imports (no circles, no product module importing tests/bench)" node scripts/check-imports.mjs
check "imports (factory, no circles)" python3 scripts/check_py_imports.py
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
