"""A tiny "model server": refuses to start unless the environment matches training, then predicts.

    python examples/serve.py MODEL_DIR PUBLIC_KEY

Exit status 1 with the guard's explanation when the environment is refused.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

import envprint


def main(model_dir: str, public_key: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        envprint.guard(model_dir, trusted_keys=[public_key])
    except envprint.EnvironmentMismatch as e:
        print(f"serve.py: {e}", file=sys.stderr)
        return 1
    w = np.load(Path(model_dir) / "weights.npy")
    features = np.linspace(-0.5, 0.5, 16, dtype=np.float32)
    print(f"serve.py: model loaded; prediction for the sample request = {float(features @ w[:16] + w[16]):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
