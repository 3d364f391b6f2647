#!/usr/bin/env bash
# Runs the whole envprint test suite on a fresh machine: creates (or refreshes) its own virtualenv,
# installs envprint with the test and dev extras (pytest, hypothesis, tensorflow-cpu, ruff, mypy),
# lints, type-checks, then runs pytest. Extra arguments go to pytest (e.g. -k, -x, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${ENVPRINT_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "== installing envprint[test,dev] into $VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test,dev]"

echo "== ruff"
"$VENV/bin/ruff" check envprint tests scripts
"$VENV/bin/ruff" format --check envprint tests scripts
echo "== mypy"
"$VENV/bin/mypy"

echo "== pytest"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
exit "$status"
