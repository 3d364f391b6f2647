"""The fuzz target, briefly (seconds, in every test run): `python -m tests.fuzz.run` runs it at length."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envprint.envelope import Envelope
from tests.fuzz.targets import STAGES, Forgery, Mutator, Seeds, Target, make_seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return make_seeds(tmp_path_factory.mktemp("fuzz"))


def test_the_seeds_are_accepted_and_the_signed_ones_verify(seeds: Seeds) -> None:
    target = Target(seeds)
    assert [target.run(f) for f in seeds.files] == ["accepted"] * len(seeds.files)
    assert len(seeds.signed) == 2


def test_a_payload_the_key_never_signed_is_a_forgery(seeds: Seeds) -> None:
    target = Target(seeds)
    signed = Envelope.decode(seeds.files[1])
    assert signed.signatures
    # the signatures of one payload moved onto another (the bound one): refused
    other = Envelope(signed.payload_type, Envelope.decode(seeds.files[2]).payload, signed.signatures)
    assert target.run(other.encode()) == "signature"
    with pytest.raises(Forgery):
        Target(Seeds(seeds.files, seeds.data, seeds.public_key, frozenset(), seeds.base)).run(seeds.files[1])


def test_the_mutator_is_deterministic_and_reaches_every_stage(seeds: Seeds) -> None:
    mutator, target = Mutator(seeds), Target(seeds)
    assert mutator.input(7) == mutator.input(7) and mutator.input(7) != mutator.input(8)
    stages = collections.Counter(target.run(mutator.input(n)) for n in range(150))
    assert set(stages) <= set(STAGES)
    assert {"envelope", "signature", "payload", "accepted"} <= set(stages), stages


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 2**40))
def test_mutated_inputs_raise_only_envprint_errors(seeds: Seeds, n: int) -> None:
    # any other exception (or a Forgery) fails the test; `python -m tests.fuzz.run --replay N` shows it
    assert Target(seeds).run(Mutator(seeds).input(n)) in STAGES


@settings(max_examples=150, deadline=None, derandomize=True)
@given(blob=st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_envprint_errors(seeds: Seeds, blob: bytes) -> None:
    assert Target(seeds).run(blob) in STAGES


def test_the_long_runner_reports_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.fuzz import run

    assert run.main(["--inputs", "40", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["inputs"] == 40 and summary["untyped_exceptions"] == 0
    assert sum(summary["stages"].values()) == 40
