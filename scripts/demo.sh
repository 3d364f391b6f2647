#!/usr/bin/env bash
# The main job end to end, on a fresh machine: set up a virtualenv, capture a fingerprint in a
# "training" environment, capture again in a "serving" environment whose numerics settings differ,
# and show both. Output lands in demo-out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${ENVPRINT_VENV:-.venv}
OUT=demo-out

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e .
EP="$VENV/bin/envprint"
rm -rf "$OUT" && mkdir -p "$OUT"

# "Hosts" are processes with different environment variables; the rest of the machine is shared.
train_env=(env -u OPENBLAS_NUM_THREADS -u TZ PYTHONHASHSEED=0)
serve_env=(env OPENBLAS_NUM_THREADS=1 TZ=America/New_York PYTHONHASHSEED=0)

echo; echo "== 1. training: capture"
"${train_env[@]}" "$EP" capture --label train -o "$OUT/train.fp"

echo; echo "== 2. serving: capture with OPENBLAS_NUM_THREADS=1 and TZ=America/New_York"
"${serve_env[@]}" "$EP" capture --label serve -o "$OUT/serve.fp"

echo; echo "== 3. show both"
"$EP" show "$OUT/train.fp" | head -n 60
"$EP" show --format json "$OUT/serve.fp" > "$OUT/serve.json"
echo "(serving fingerprint as JSON: $OUT/serve.json)"
