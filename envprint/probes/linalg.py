"""Small LAPACK problems and FFTs: decompositions whose bits (and eigenvector signs) vary by build."""

from __future__ import annotations

import numpy as np

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import uniform

__all__ = ["fft", "linalg"]


@builtin(
    "linalg",
    "linalg",
    "LAPACK through numpy (eigh, svd, solve, inv, slogdet on 16×16): BLAS core, LAPACK vendor, eigenvector signs",
)
def linalg() -> Raw:
    a = uniform(111, 256, np.float64, -1.0, 2.0).reshape(16, 16)
    sym = a + a.T
    well = sym + 16.0 * np.eye(16)
    b = uniform(112, 16, np.float64, -1.0, 2.0)
    w, v = np.linalg.eigh(sym)
    u, s, _ = np.linalg.svd(a[:, :8], full_matrices=False)
    sign, logdet = np.linalg.slogdet(well)
    table = {
        "eigh_values": w,
        "eigh_vectors": v.reshape(-1),
        "svd_values": s,
        "svd_u": u.reshape(-1),
        "solve": np.linalg.solve(well, b),
        "inv": np.linalg.inv(well).reshape(-1),
        "slogdet": np.array([sign, logdet]),
    }
    return Raw({"values": table})


@builtin(
    "fft",
    "fft",
    "numpy's FFT (pocketfft version, float32 kept as complex64 since numpy 2.0), power-of-two and not",
    repeat=False,
)
def fft() -> Raw:
    x64 = uniform(121, 1024, np.float64, -1.0, 2.0)
    x32 = uniform(122, 1024, np.float32, -1.0, 2.0)
    return Raw(
        {
            "rfft_1024": np.fft.rfft(x64),
            "fft_1000": np.fft.fft(x64[:1000]),
            "rfft_f32": np.fft.rfft(x32),
        }
    )
