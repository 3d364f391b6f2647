"""Measures what issue 14's signing and origin work costs, against anchors on this machine, in this run.

* package origins: `collect.packages.collect()` with direct_url.json read, vs the same scan without
  it, vs `importlib.metadata`'s full scan (the anchor of the capture budget);
* signatures: sign + verify of a fingerprint payload with Ed25519 and ECDSA P-256 keys and with a
  `Signer` callback (which checks every signature it returns), vs Ed25519 alone;
* trusted key files: `Keyring.of([file])` with the symlink / world-writable checks, vs reading the key.

Prints medians and ratios. Run: .venv/bin/python scripts/bench_signing.py
"""

from __future__ import annotations

import importlib.metadata
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.hashes import SHA256

from envprint import signing
from envprint.collect import packages
from envprint.envelope import pae
from envprint.signing import Keyring, Signer


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches (dentries, imports)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    n = len(packages.collect())
    with_origins = median_ms(packages.collect, 30)
    with mock.patch("envprint.collect.packages.read_origin", lambda path: None):
        without = median_ms(packages.collect, 30)
    anchor = median_ms(lambda: [d.version for d in importlib.metadata.distributions()], 10)
    print(f"packages collector, {n} distributions")
    print(f"  without direct_url.json   {without:7.2f} ms")
    print(f"  with direct_url.json      {with_origins:7.2f} ms   ({with_origins / without:.2f}x)")
    print(f"  importlib.metadata scan   {anchor:7.2f} ms   (collector = {with_origins / anchor:.2f}x of it)")

    payload = b"\x00" * 20_000  # a fingerprint payload is tens of KiB
    message = pae("application/vnd.envprint.fingerprint.v1+msgpack", payload)
    ed = Ed25519PrivateKey.generate()
    p256 = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "ed25519 key": ed,
        "ecdsa p-256 key": p256,
        "ecdsa p-256 Signer callback": Signer(p256.public_key(), lambda m: p256.sign(m, ec.ECDSA(SHA256()))),
    }
    print("sign + verify of a 20 KB payload (median of 200)")
    base = 0.0
    for label, key in cases.items():
        public = key.public_key if isinstance(key, Signer) else key.public_key()

        def once(key: object = key, public: object = public) -> None:
            sig = signing.sign("application/vnd.envprint.fingerprint.v1+msgpack", payload, key)  # type: ignore[arg-type]
            assert signing.keys.verify_raw(public, sig.sig, message)  # type: ignore[arg-type]

        ms = median_ms(once, 200)
        base = base or ms
        print(f"  {label:28s} {ms:7.3f} ms   ({ms / base:.2f}x ed25519)")

    with tempfile.TemporaryDirectory() as tmp:
        _, public_path = signing.generate_keypair(Path(tmp) / "k")
        checked = median_ms(lambda: Keyring.of([public_path]), 300)
        read_only = median_ms(lambda: signing.load_public_key(public_path), 300)
        print("trusted key file")
        print(f"  load_public_key           {read_only:7.3f} ms")
        print(f"  Keyring.of (file checks)  {checked:7.3f} ms   ({checked / read_only:.2f}x)")


if __name__ == "__main__":
    main()
