"""The model classes: frozen dataclasses with shared methods (equality, hashing, init, repr)."""

from __future__ import annotations

import dataclasses

import pytest

from envprint.model import ArtifactFile, ArtifactManifest, Package, PythonInfo, Unavailable, is_descriptive


def test_init_takes_positional_and_keyword_arguments_with_defaults() -> None:
    f = ArtifactFile("w.bin", 4, "ab")
    assert (f.path, f.size, f.sha256) == ("w.bin", 4, "ab")
    m = ArtifactManifest("model", "directory", "cd", (f,))
    assert (m.hash_algorithm, m.excluded) == ("sha256", ())
    assert Package("1.0", None, "pip", ()).location == ""


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("w.bin", 4), {}, "missing required argument 'sha256'"),
        (("w.bin", 4, "ab", "extra"), {}, "takes 3 arguments, got 4"),
        (("w.bin",), {"path": "x", "size": 1, "sha256": "a"}, "multiple values for argument 'path'"),
        ((), {"path": "x", "size": 1, "sha256": "a", "colour": 1}, "unexpected argument 'colour'"),
    ],
)
def test_init_rejects_wrong_arguments(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        ArtifactFile(*args, **kwargs)  # type: ignore[arg-type]


def test_frozen_equal_hashable_and_replaceable() -> None:
    a, b = ArtifactFile("w.bin", 4, "ab"), ArtifactFile("w.bin", 4, "ab")
    assert a == b and hash(a) == hash(b) and a != ArtifactFile("w.bin", 5, "ab")
    assert a != ("w.bin", 4, "ab")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.size = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.size  # type: ignore[misc]
    assert dataclasses.replace(a, size=5) == ArtifactFile("w.bin", 5, "ab")
    assert repr(a) == "ArtifactFile(path='w.bin', size=4, sha256='ab')"
    assert dataclasses.asdict(a) == {"path": "w.bin", "size": 4, "sha256": "ab"}


def test_descriptive_marking() -> None:
    assert is_descriptive(PythonInfo, "executable") and not is_descriptive(PythonInfo, "version")
    assert is_descriptive(Package, "location")
    with pytest.raises(KeyError):
        is_descriptive(PythonInfo, "nope")
    assert str(Unavailable("no driver")) == "unavailable (no driver)"
