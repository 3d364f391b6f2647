#!/usr/bin/env bash
# The main job end to end, on a fresh machine (sets up its own virtualenv):
#   1. a training job fits a small model and captures a fingerprint signed and bound to it;
#   2. a "serving host" whose numerics settings differ captures its own fingerprint;
#   3. envprint diff explains what differs, how much, why it matters and how to fix it;
#   4. the model server's startup guard refuses the differing environment with that explanation;
#   5. with the environment fixed the guard passes and the model serves a prediction.
# "Hosts" are processes with different environment variables. Output lands in demo-out/ (git-ignored).
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
PY="$VENV/bin/python"
EP="$VENV/bin/envprint"
rm -rf "$OUT" && mkdir -p "$OUT"

# every "host" starts from the same base; each step says what it changes
base=(env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u TZ -u ENVPRINT_GUARD PYTHONHASHSEED=0)
serving_drift=(OPENBLAS_NUM_THREADS=1 TZ=America/New_York)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "0. keys: the training side signs, serving gets only the public key"
"$EP" keygen -o "$OUT/train" >/dev/null
ls -l "$OUT"/train.key "$OUT"/train.pub

step "1. training: fit a model and capture a signed fingerprint bound to it (in-process)"
"${base[@]}" "$PY" examples/train.py "$OUT/model" "$OUT/train.key"
"$EP" verify "$OUT/model/envprint.fp" --key "$OUT/train.pub"

step "2. serving host: capture with ${serving_drift[*]}"
"${base[@]}" "${serving_drift[@]}" "$EP" capture --label serve -o "$OUT/serve.fp"

step "3. envprint diff train serve: what differs, how much, why, how to fix"
set +e
"$EP" diff "$OUT/model/envprint.fp" "$OUT/serve.fp" --key "$OUT/train.pub"
status=$?
set -e
echo "(envprint diff exit status: $status — 1 means the environments compute differently)"
"$EP" diff "$OUT/model/envprint.fp" "$OUT/serve.fp" --format markdown > "$OUT/diff.md" || true
"$EP" diff "$OUT/model/envprint.fp" "$OUT/serve.fp" --format json > "$OUT/diff.json" || true
echo "(also written: $OUT/diff.md for a PR comment, $OUT/diff.json for machines)"

step "4. model server starts on the drifted host: the guard refuses"
set +e
"${base[@]}" "${serving_drift[@]}" "$PY" examples/serve.py "$OUT/model" "$OUT/train.pub"
status=$?
set -e
if [ "$status" -ne 1 ]; then echo "expected the guard to refuse (exit 1), got $status" >&2; exit 1; fi
echo "(server exit status: $status — refused)"

step "5. environment fixed (settings as in training): the guard passes and the model serves"
"${base[@]}" "$PY" examples/serve.py "$OUT/model" "$OUT/train.pub"

step "6. a model file changed after signing: verification fails loudly"
cp -r "$OUT/model" "$OUT/model-tampered"
"$PY" - "$OUT/model-tampered/weights.npy" <<'PYEOF'
import sys, numpy as np
w = np.load(sys.argv[1]); w[0] += 1e-3; np.save(sys.argv[1], w)
PYEOF
set +e
"$EP" verify "$OUT/model-tampered/envprint.fp" --key "$OUT/train.pub"
status=$?
set -e
if [ "$status" -ne 3 ]; then echo "expected verify to fail with exit 3, got $status" >&2; exit 1; fi
echo "(verify exit status: $status — untrusted)"

step "done: see $OUT/"
