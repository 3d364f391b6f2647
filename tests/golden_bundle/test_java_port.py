"""The Java reference port (examples/java/) under the docs example's bundle: real javac, java and envprint processes.

A faithful port passes; each classic serving skew fails naming the rows and the column; floats cross
the language boundary bit for bit; Java's own SplitMix64 (SplittableRandom) reproduces the
synthetic profiles' streams as docs/golden.md specifies them.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import shutil
import struct
import subprocess
import zoneinfo
from pathlib import Path

import pytest

from envprint.golden import encode_rows, read_rows
from envprint.golden.jsonl import to_datetime
from envprint.parity.profiles import _Stream, column_key
from tests.conftest import run_envprint
from tests.golden_bundle.conftest import EXAMPLE, JAVA_SOURCES, labels

JAVAC, JAVA = shutil.which("javac"), shutil.which("java")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(JAVAC is None or JAVA is None, reason="no JDK: javac not found")]
ROWS = 10_000


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns the directory of the port's compiled classes."""
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in JAVA_SOURCES.glob("*.java"))
    proc = subprocess.run([JAVAC, "-Xlint:all", "-d", str(out), *sources], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns the docs example's bundle, exported by the CLI as a newcomer would."""
    out = tmp_path_factory.mktemp("bundle") / "golden"
    proc = run_envprint(["golden", "export", "--probes-from", str(EXAMPLE), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out


def port(classes: Path, bundle: Path, out: Path, *skews: str, zone: str = "UTC") -> subprocess.CompletedProcess[str]:
    """Returns the finished port, run on `bundle` into `out` with `skews`, in JVM time zone `zone`."""
    flags = [a for skew in skews for a in ("--skew", skew)]  # the port creates `out` itself
    command = [
        JAVA,
        f"-Duser.timezone={zone}",
        "-cp",
        str(classes),
        "envprint.golden.GoldenPort",
        str(bundle),
        str(out),
    ]
    return subprocess.run([*command, *flags], capture_output=True, text=True, timeout=120, check=False)


def compare(bundle: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return run_envprint(["golden", "compare", str(bundle), str(out)])


def test_a_faithful_port_passes(classes: Path, bundle: Path, tmp_path: Path) -> None:
    ran = port(classes, bundle, tmp_path / "out")
    assert ran.returncode == 0, ran.stderr
    assert f"fill_age: {ROWS} row(s) -> {tmp_path / 'out' / 'fill_age.outputs.jsonl'}" in ran.stderr
    proc = compare(bundle, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[0] == "envprint golden compare: PARITY: 3 pass"
    for name in ("fill_age", "encode_color", "signup_day"):
        assert f"PASS    {name}: {ROWS} row(s), {ROWS} value(s) within tolerance" in proc.stdout


def test_a_zero_fill_fails_naming_the_rows_with_a_missing_age(classes: Path, bundle: Path, tmp_path: Path) -> None:
    assert port(classes, bundle, tmp_path / "out", "zero-fill").returncode == 0
    proc = compare(bundle, tmp_path / "out")
    inputs = read_rows(bundle / "fill_age.inputs.jsonl")
    missing = [
        r.get("age") is None or r["age"] == "" or (type(r["age"]) is float and math.isnan(r["age"])) for r in inputs
    ]
    assert proc.returncode == 1
    assert (
        f"FAIL    fill_age: {sum(missing)} value(s) in {sum(missing)} of {ROWS} row(s) outside tolerance" in proc.stdout
    )
    none, absent = (labels(bundle, "fill_age").index(case) for case in ("age=None", "age=absent"))
    worst = f"worst: row {none} (age=None), column 'age': expected 37.5, got 0.0 (|Δ| 37.5 > allowed 0.000375)"
    assert worst in proc.stdout
    assert f"    row {absent} (age=absent), column 'age': expected 37.5, got 0.0" in proc.stdout
    assert "PASS    encode_color" in proc.stdout and "PASS    signup_day" in proc.stdout


def test_dropping_unseen_categories_fails_naming_the_missing_rows(classes: Path, bundle: Path, tmp_path: Path) -> None:
    assert port(classes, bundle, tmp_path / "out", "drop-unseen").returncode == 0
    proc = run_envprint(["golden", "compare", str(bundle), str(tmp_path / "out"), "-f", "json"])
    doc = json.loads(proc.stdout)
    color = next(r for r in doc["results"] if r["name"] == "encode_color")
    inputs = read_rows(bundle / "encode_color.inputs.jsonl")
    unknown = [i for i, r in enumerate(inputs) if r.get("color") not in ("red", "green", "blue")]
    assert proc.returncode == 1 and color["status"] == "fail"
    assert color["missing_count"] == len(unknown) and color["values_mismatched"] == 0  # aligned: only the dropped rows
    assert [r["row"] for r in color["missing_rows"]] == unknown[:20]
    unseen, none, absent = (labels(bundle, "encode_color").index(f"color={c}") for c in ("<unseen>", "None", "absent"))
    assert color["missing_rows"][0] == {"row": unseen, "label": "color=<unseen>"}
    text = compare(bundle, tmp_path / "out").stdout
    assert f"missing: row {unseen} (color=<unseen>), row {none} (color=None), row {absent} (color=absent)" in text


def test_local_time_day_buckets_fail_naming_the_rows_near_midnight(classes: Path, bundle: Path, tmp_path: Path) -> None:
    zone = "America/New_York"  # the JVM's zone is set, so the test does not depend on this machine's
    assert port(classes, bundle, tmp_path / "out", "local-day", zone=zone).returncode == 0
    proc = compare(bundle, tmp_path / "out")
    differing = 0
    for row in read_rows(bundle / "signup_day.inputs.jsonl"):
        at = to_datetime(row["signup_at"]) if row.get("signup_at") else None
        if at is not None:
            at = at if at.tzinfo else at.replace(tzinfo=datetime.timezone.utc)
            utc, local = at.astimezone(datetime.timezone.utc).date(), at.astimezone(zoneinfo.ZoneInfo(zone)).date()
            differing += utc != local
    midnight = labels(bundle, "signup_day").index("signup_at=UTC midnight")  # 2024-01-01T00:00Z: 2023-12-31 in NY
    day = (datetime.date(2024, 1, 1) - datetime.date(1970, 1, 1)).days
    assert proc.returncode == 1
    assert f"FAIL    signup_day: {differing} value(s) in {differing} of {ROWS} row(s)" in proc.stdout
    expected = f"row {midnight} (signup_at=UTC midnight), column 'signup_day': expected {day}, got {day - 1} (exact)"
    assert expected in proc.stdout


def test_floats_cross_the_java_boundary_bit_for_bit(classes: Path, tmp_path: Path) -> None:
    rng = random.Random(20240310)
    specials = [0.0, -0.0, 5e-324, -5e-324, 2.225073858507201e-308, 2.2250738585072014e-308, 1.7976931348623157e308,
                -1.7976931348623157e308, math.nan, math.inf, -math.inf, 0.1, 1e23, 9007199254740993.0]  # fmt: skip
    patterns = [rng.getrandbits(64) for _ in range(20_000)] + [rng.getrandbits(52) for _ in range(5_000)]
    values = specials + [struct.unpack("<d", p.to_bytes(8, "little"))[0] for p in patterns]
    (tmp_path / "in.jsonl").write_bytes(encode_rows([{"x": v, "i": 2**53 + 1, "s": "NaN"} for v in values]))
    command = [JAVA, "-cp", str(classes), "envprint.golden.GoldenPort", "--echo"]
    subprocess.run([*command, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl")], check=True, timeout=120)
    back = read_rows(tmp_path / "out.jsonl")
    assert len(back) == len(values)
    for value, row in zip(values, back, strict=True):
        got = row["x"]
        assert type(got) is float and row["i"] == 2**53 + 1 and row["s"] == "NaN"
        assert (math.isnan(value) and math.isnan(got)) or struct.pack("<d", got) == struct.pack("<d", value), value


STREAM_JAVA = """
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.SplittableRandom;

public class Stream {
    static final long GAMMA = 0x9E3779B97F4A7C15L;

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(args[1].getBytes(StandardCharsets.UTF_8));
        long key = 0;
        for (int i = 0; i < 8; i++) key = (key << 8) | (digest[i] & 0xff);
        // SplittableRandom(s).nextLong() is mix64(s + GAMMA): so the column's state is mix64(seed ^ key)
        long state = new SplittableRandom((seed ^ key) - GAMMA).nextLong();
        SplittableRandom stream = new SplittableRandom(state);  // its outputs 1, 2, 3...: draw k of profile r is 8r+k+1
        for (int i = 0; i < 8 * Integer.parseInt(args[2]); i++) {
            System.out.println(Long.toUnsignedString(stream.nextLong(), 16));
        }
    }
}
"""


def test_java_reproduces_the_synthetic_streams_from_the_spec(tmp_path: Path) -> None:
    source = tmp_path / "Stream.java"
    source.write_text(STREAM_JAVA)
    proc = subprocess.run([JAVA, str(source), "42", "signup_at", "5"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    java = [int(x, 16) for x in proc.stdout.split()]
    python = [u for profile in range(5) for u in _Stream.of(42, "signup_at").draws(profile)]
    assert java == python and len(java) == 40
    assert column_key("signup_at") != column_key("signup_at ")
