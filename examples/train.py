"""A tiny "training job": fits a linear model, saves it, and captures a signed fingerprint bound to it.

    python examples/train.py MODEL_DIR PRIVATE_KEY

The fingerprint is captured in-process, after numpy (the model's framework) is imported and used,
so the BLAS thread pool and every other runtime setting are what training actually ran with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import envprint


def main(model_dir: str, key: str) -> None:
    envprint.seed_everything(7, frameworks="imported")
    rows = np.arange(4096 * 16, dtype=np.float64).reshape(4096, 16)
    x = ((rows * 2654435761) % 1009 / 1009 - 0.5).astype(np.float32)  # deterministic, version-stable
    y = x @ np.linspace(-1, 1, 16, dtype=np.float32) + 0.25
    w, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x), np.float32)], y, rcond=None)
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "weights.npy", w.astype(np.float32))
    (out / "config.json").write_text(json.dumps({"features": 16, "kind": "linear"}) + "\n")

    fp = envprint.capture(label="train", artifact=out)
    path = fp.save(out / "envprint.fp", key=key)
    print(f"trained {out} and wrote {path} (signed, bound to {len(fp.artifact.files)} files)")  # type: ignore[union-attr]


if __name__ == "__main__":
    main(*sys.argv[1:3])
