"""The fuzz target: one input (the bytes of a `.fp` file) through every reader and consumer of fingerprints.

`Target.run(data)` returns the stage at which the input was refused with an `EnvprintError` (or
"accepted"); any other exception propagates — that is a finding. It also checks the property that
signing promises: an input that a trusted key verifies carries exactly the payload type and payload
bytes of a file that key signed (``Forgery`` otherwise).

`Mutator` makes inputs from real seed files, deterministically from a seed: byte-level mutations of
whole files (flips, inserts, deletions, splices, length fields), the signatures of signed files
added, duplicated, reordered, altered or moved onto another payload, raw msgpack mutations of an
unsigned payload (reaching the bounded decoder), and structure-aware mutations of the payload's
plain data (type swaps, non-finite numbers, deep nesting, huge containers, dropped and duplicated
fields) re-encoded — so inputs reach decoding, the schema, diff, the policy engine, every renderer,
show, the exports and the fleet's content key.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import math
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

import envprint
from envprint import codec, signing
from envprint.codec import authenticate, decode_fingerprint
from envprint.diffing import diff
from envprint.envelope import Envelope, Signature, Trust, pae, payload_type_for
from envprint.errors import EnvprintError
from envprint.export import statement, to_requirements
from envprint.policy import PRESETS, evaluate
from envprint.policy.load import judge
from envprint.render import Format, render
from envprint.render import fingerprint as show

__all__ = ["STAGES", "Forgery", "Mutator", "Seeds", "Target", "make_seeds"]

#: where an input can stop, in order; "accepted" went through every consumer
STAGES = ("envelope", "signature", "payload", "consumers", "accepted")


class Forgery(AssertionError):
    """An input verified by a trusted key although that key never signed its payload."""


@dataclasses.dataclass(frozen=True)
class Seeds:
    """Real fingerprint files to mutate, the key that signed some of them, and what it signed."""

    files: tuple[bytes, ...]  # whole .fp files: signed, unsigned, bound, with a signed policy
    data: tuple[dict[str, Any], ...]  # the plain data of each payload
    public_key: Path
    signed: frozenset[bytes]  # the PAE of every payload the key signed
    base: envprint.Fingerprint  # the reference side of every diff


def make_seeds(directory: Path) -> Seeds:
    """Returns seed files captured in this process (small: no heavy probes), some signed with a fresh key."""
    private, public = signing.generate_keypair(directory / "fuzz")
    model = directory / "model"
    model.mkdir(exist_ok=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (model / "config.json").write_text('{"layers": 2}\n')
    plain = _small(envprint.capture(probe_groups=["ufunc", "sort", "text"], custom={"run": "fuzz", "lr": 0.001}))
    bound = _small(envprint.capture(probes=False, artifact=model, policy="strict", tags={"stage": "train"}))
    files, signed = [], set()
    for fp, key in ((plain, None), (plain, private), (bound, private), (bound, None)):
        envelope = fp.envelope(key=key)
        files.append(envelope.encode())
        if key is not None:
            signed.add(pae(envelope.payload_type, envelope.payload))
    data = tuple(msgpack.unpackb(Envelope.decode(f).payload, raw=False) for f in files)
    return Seeds(tuple(files), data, public, frozenset(signed), plain)


def _small(fp: envprint.Fingerprint) -> envprint.Fingerprint:
    """Returns `fp` with its first 25 packages and imported modules only: the same shapes, a fraction of the work."""
    keep: dict[str, Any] = {}
    for section in ("packages", "imported"):
        value = getattr(fp, section)
        if isinstance(value, dict):
            keep[section] = dict(sorted(value.items())[:25])
    return fp.replace(**keep)


class Target:
    """Runs one input through the readers and consumers; see the module docstring."""

    def __init__(self, seeds: Seeds) -> None:
        self.seeds = seeds
        self.keys = signing.Keyring.of([seeds.public_key])  # parsed once, not per input
        self._null = io.StringIO()
        #: inputs a trusted key verified (each checked to carry a payload that key signed)
        self.verified = 0

    def run(self, data: bytes) -> str:
        """Returns the stage that refused `data` (see STAGES); raises anything that is not an EnvprintError."""
        try:
            envelope = Envelope.decode(data, source="fuzz")
        except EnvprintError:
            return "envelope"
        try:
            trust, _ = authenticate(envelope, self.keys, allow_unsigned=True, source="fuzz")
        except EnvprintError:
            return "signature"
        if trust is Trust.verified:
            self.verified += 1
            if pae(envelope.payload_type, envelope.payload) not in self.seeds.signed:
                raise Forgery(f"a trusted key verified a payload it never signed ({len(envelope.payload)} bytes)")
        try:
            fp = decode_fingerprint(envelope, source="fuzz")
        except EnvprintError:
            return "payload"
        try:
            self._consume(fp, envelope, trust)
        except EnvprintError:
            return "consumers"
        return "accepted"

    def _consume(self, fp: envprint.Fingerprint, envelope: Envelope, trust: Trust) -> None:
        """Runs every consumer of a decoded fingerprint: diff both ways, policies, renderers, show, exports."""
        from rich.console import Console  # deferred like the CLI does: rich only where something is shown

        base = self.seeds.base
        for a, b in ((base, fp), (fp, base)):
            report = diff(a, b)
            evaluate(PRESETS["default"], report, b)
            for fmt in Format:
                render(report, fmt)
        judge(fp.policy, PRESETS["lenient"], diff(fp, base), base)  # a policy signed into the input
        loaded = codec.Loaded(fp, envelope, None, trust)
        show.to_json(loaded)
        self._null.seek(0)
        self._null.truncate()
        Console(file=self._null, width=100).print(show.to_rich(loaded))
        to_requirements(fp)
        if fp.artifact is not None:
            statement(fp)


# ------------------------------------------------------------------------------------- mutations

_INTERESTING_INTS = (0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, 2**32, 2**63 - 1, -(2**63), 2**64 - 1)
_INTERESTING_FLOATS = (math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308)
_INTERESTING_TEXT = (
    "", "\x00", "é" * 40, "\U0001f600", "[/bold]", "\n-r /etc/passwd", "../../etc/passwd", "$unavailable",
    "nan", "0x1p99999", "1e309", "\ufffd", "x" * 5000, "-----BEGIN", "packages.*",
)  # fmt: skip
# msgpack headers that claim much and hold little
_HEADERS = (b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff",
            b"\xdc\xff\xff", b"\x9f", b"\x8f", b"\xc1", b"\xd4\x00\x00", b"\xc0")  # fmt: skip


class Mutator:
    """Makes fuzz inputs from seeds; `input(seed)` is deterministic in `seed`."""

    def __init__(self, seeds: Seeds) -> None:
        self.seeds = seeds
        self._strategies: tuple[tuple[float, Callable[[random.Random], bytes]], ...] = (
            (0.25, self._bytes_of_file),
            (0.10, self._signatures),
            (0.20, self._bytes_of_payload),
            (0.40, self._structure_of_payload),
            (0.05, self._random_bytes),
        )

    def input(self, seed: int) -> bytes:
        """Returns the fuzz input number `seed`."""
        rng = random.Random(seed)
        weights = [w for w, _ in self._strategies]
        strategy = rng.choices([s for _, s in self._strategies], weights)[0]
        return strategy(rng)

    # -- whole files, byte by byte: the envelope parser and the signature check
    def _bytes_of_file(self, rng: random.Random) -> bytes:
        return _mutate_bytes(bytearray(rng.choice(self.seeds.files)), rng, self.seeds.files)

    # -- a signed file's signatures added, copied, reordered, altered or moved onto another payload
    def _signatures(self, rng: random.Random) -> bytes:
        signed = [Envelope.decode(f) for f in self.seeds.files]
        signed = [e for e in signed if e.signatures]
        envelope = rng.choice(signed)
        payload, payload_type, sigs = envelope.payload, envelope.payload_type, list(envelope.signatures)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(7)
            if op == 0:  # a second signature of garbage, or by a key nobody trusts
                sigs.append(
                    Signature(rng.randbytes(32).hex(), rng.choice(("ed25519", "ecdsa-p256")), rng.randbytes(64))
                )
            elif op == 1:  # the valid signature twice
                sigs.append(rng.choice(sigs) if sigs else envelope.signatures[0])
            elif op == 2:
                rng.shuffle(sigs)
            elif op == 3 and sigs:  # the key id of one signature changed
                i = rng.randrange(len(sigs))
                sigs[i] = dataclasses.replace(sigs[i], keyid=rng.choice(("", "0" * 64, sigs[i].keyid[::-1])))
            elif op == 4 and sigs:  # the algorithm label changed
                i = rng.randrange(len(sigs))
                sigs[i] = dataclasses.replace(sigs[i], alg=rng.choice(("", "none", "ed25519 ", "ecdsa-p256")))
            elif op == 5:  # the signatures moved onto another payload (or payload type)
                other = rng.choice(signed)
                payload = other.payload if rng.random() < 0.7 else payload + b"\x00"
                payload_type = payload_type if rng.random() < 0.8 else payload_type_for(2)
            elif op == 6 and sigs:  # a bit of a signature flipped
                i = rng.randrange(len(sigs))
                sig = bytearray(sigs[i].sig)
                if sig:
                    sig[rng.randrange(len(sig))] ^= 1 << rng.randrange(8)
                sigs[i] = dataclasses.replace(sigs[i], sig=bytes(sig))
        return Envelope(payload_type, payload, tuple(sigs)).encode()

    # -- an unsigned envelope around a byte-mutated payload: the bounded decoder and msgpack
    def _bytes_of_payload(self, rng: random.Random) -> bytes:
        data = rng.choice(self.seeds.data)
        payload = _mutate_bytes(bytearray(msgpack.packb(data, use_bin_type=True)), rng, ())
        return Envelope(payload_type_for(1), payload).encode()

    # -- an unsigned envelope around mutated plain data: the schema and every consumer
    def _structure_of_payload(self, rng: random.Random) -> bytes:
        data = copy.deepcopy(rng.choice(self.seeds.data))
        for _ in range(rng.randint(1, 4)):
            _mutate_structure(data, rng)
        try:
            payload = msgpack.packb(data, use_bin_type=True)
        except (ValueError, OverflowError, TypeError):  # a mutation msgpack cannot even write
            payload = msgpack.packb(self.seeds.data[0], use_bin_type=True)
        return Envelope(payload_type_for(1), payload).encode()

    def _random_bytes(self, rng: random.Random) -> bytes:
        return rng.randbytes(rng.randint(0, 512))


def _mutate_bytes(buf: bytearray, rng: random.Random, others: tuple[bytes, ...]) -> bytes:
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = min(at, len(buf) - 1)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # set a byte to an interesting value
            buf[min(at, len(buf) - 1)] = rng.choice((0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xDD, 0xDF, 0xFF))
        elif op == 2:  # insert bytes
            buf[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:  # delete a run
            del buf[at : at + rng.randint(1, 64)]
        elif op == 4:  # truncate
            del buf[at:]
        elif op == 5:  # a header that claims much
            buf[at:at] = rng.choice(_HEADERS)
        elif op == 6 and others:  # splice another file in
            other = rng.choice(others)
            start = rng.randrange(len(other))
            buf[at:at] = other[start : start + rng.randint(1, 256)]
    return bytes(buf)


def _slot(data: Any, rng: random.Random) -> tuple[Any, Any] | None:
    """Returns a random (container, key) of `data`, found by a random walk down from the root."""
    found = None
    node = data
    for _ in range(16):
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        if not keys:
            break
        key = rng.choice(keys)
        found = (node, key)
        if rng.random() < 0.25:
            break
        node = node[key]
    return found


def _mutate_structure(data: dict[str, Any], rng: random.Random) -> None:
    slot = _slot(data, rng)
    if slot is None:
        return
    parent, key = slot
    value = parent[key]
    op = rng.randrange(10)
    if op == 0:  # another value of the same kind
        if isinstance(value, bool):
            parent[key] = not value
        elif isinstance(value, int):
            parent[key] = rng.choice(_INTERESTING_INTS)
        elif isinstance(value, float):
            parent[key] = rng.choice(_INTERESTING_FLOATS)
        elif isinstance(value, str):
            parent[key] = rng.choice(_INTERESTING_TEXT)
    elif op == 1:  # another type
        parent[key] = rng.choice([None, True, 0, -1.5, math.nan, "", b"\xff\x00", [], {}, {"$unavailable": "x"}])
    elif op == 2 and isinstance(parent, dict):  # a field dropped
        del parent[key]
    elif op == 3 and isinstance(parent, dict):  # a field added
        parent[rng.choice(_INTERESTING_TEXT) or "extra"] = rng.choice([1, "x", [], {}])
    elif op == 4:  # nested deep
        nested: Any = value
        for _ in range(rng.choice((5, 33, 47, 49, 200))):
            nested = [nested]
        parent[key] = nested
    elif op == 5 and isinstance(value, list) and value:  # a list repeated
        parent[key] = value * rng.choice((2, 100))
    elif op == 6 and isinstance(value, dict) and value:  # a map with a key of another name
        k = rng.choice(list(value))
        value[k + rng.choice(("", "_", "\x00", "é"))] = value.pop(k)
    elif op == 7:  # an Unavailable where a value was
        parent[key] = {"$unavailable": rng.choice(_INTERESTING_TEXT)}
    elif op == 8 and (other := _slot(data, rng)) is not None:  # a value swapped with another slot's
        other_parent, other_key = other
        with contextlib.suppress(KeyError, IndexError):  # the other slot went away with this one
            parent[key], other_parent[other_key] = other_parent[other_key], value
    elif op == 9:  # a large container
        parent[key] = list(range(rng.choice((1000, 20_000)))) if rng.random() < 0.5 else {"k" * 3: "v" * 10_000}


def seeds_in_temp() -> Seeds:
    """Returns seeds made in a fresh temporary directory (kept for the life of the process)."""
    return make_seeds(Path(tempfile.mkdtemp(prefix="envprint-fuzz-")))
