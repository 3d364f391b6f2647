"""Files written by earlier envprint versions keep loading (fixtures are never regenerated)."""

from __future__ import annotations

from pathlib import Path

from envprint import codec
from envprint.model import PythonInfo

COMPAT = Path(__file__).parent / "golden" / "compat"


def test_first_schema_v1_file_still_loads() -> None:
    loaded = codec.read(COMPAT / "schema-v1-first-release.fp")
    fp = loaded.fingerprint
    assert fp.meta.schema_version == 1
    assert isinstance(fp.python, PythonInfo)
    assert fp.python.purelib == ""  # a field added later falls back to its default
    assert loaded.trust == "unverified" and len(loaded.envelope.signatures) == 1
