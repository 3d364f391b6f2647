"""Shadow comparison of prediction files: limits, formats, and malformed input."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from envprint import shadow
from envprint.errors import UsageError
from envprint.render.shadow import shadow_plot, shadow_text
from tests.conftest import run_envprint

ROWS = 100


def _pair(diverging: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns baseline and candidate predictions of which exactly `diverging` rows diverge at rtol 0.05."""
    baseline = np.linspace(1.0, 2.0, ROWS)
    candidate = baseline.copy()
    candidate[:diverging] *= 1.5  # 50% off: far outside rtol 0.05
    candidate[diverging : diverging + 5] *= 1.005  # 0.5% off: within it
    return baseline, candidate


def _write_csv(path: Path, values: np.ndarray, header: str | None = "score") -> Path:
    lines = ([header] if header else []) + [repr(float(v)) for v in values]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("diverging", "passed"), [(9, True), (10, True), (11, False)])
def test_fraction_below_at_and_above_the_limit(diverging: int, passed: bool) -> None:
    report = shadow.compare(*_pair(diverging), max_fraction=0.10)
    assert (report.diverging, report.fraction, report.passed) == (diverging, diverging / ROWS, passed)
    assert report.exit_code == (0 if passed else 1)


@pytest.mark.parametrize(("candidate", "diverges"), [(5.0, False), (5.0000001, True), (4.9, False)])
def test_row_tolerance_boundary_is_inclusive(candidate: float, diverges: bool) -> None:
    # |5 - 4| = 1 = atol 0 + rtol 0.25 · 4, exactly representable: at the limit a row does not diverge
    report = shadow.compare([4.0], [candidate], rtol=0.25, max_fraction=0.0)
    assert report.diverging == int(diverges)


def test_nan_matches_nan_and_inf_only_itself() -> None:
    base = [np.nan, np.inf, 1.0, 0.0]
    report = shadow.compare(base, [np.nan, np.inf, np.nan, 0.0], rtol=0.05)
    assert (report.diverging, report.identical) == (1, 3)
    assert report.worst[0].row == 2 and report.worst[0].diverges


def test_atol_covers_zero_baselines() -> None:
    assert shadow.compare([0.0, 0.0], [1e-9, 0.0], rtol=0.05, atol=1e-6).diverging == 0
    assert shadow.compare([0.0, 0.0], [1e-9, 0.0], rtol=0.05, atol=0.0).diverging == 1


def test_multi_column_rows_diverge_on_any_column_and_name_it() -> None:
    base = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    cand = base.copy()
    cand[1, 1] = 0.9
    report = shadow.compare(base, cand)
    assert report.diverging == 1
    worst = report.worst[0]
    assert (worst.row, worst.column, worst.baseline, worst.candidate) == (1, "1", 0.5, 0.9)


def test_report_text_has_verdict_histogram_and_worst_rows() -> None:
    report = shadow.compare(*_pair(11))
    text = shadow_text(report)
    assert "FAIL: 11 of 100 rows diverge (11.00%), exceeds the limit 10.00%" in text
    assert "0 (identical)" in text and "(0.1, 1]" in text
    assert dict(report.histogram)["(0.1, 1]"] == 11 and dict(report.histogram)["(0.001, 0.01]"] == 5
    assert "worst rows:" in text and "DIVERGES" in text


def test_csv_and_npy_files_on_the_cli(tmp_path: Path) -> None:
    baseline, candidate = _pair(10)
    np.save(tmp_path / "base.npy", baseline)
    _write_csv(tmp_path / "cand.csv", candidate)
    at_limit = run_envprint(["shadow", str(tmp_path / "base.npy"), str(tmp_path / "cand.csv"), "--column", "score"])
    assert at_limit.returncode == 0, at_limit.stdout + at_limit.stderr
    assert "PASS: 10 of 100 rows diverge (10.00%), within the limit 10.00%" in at_limit.stdout
    tighter = run_envprint(
        ["shadow", str(tmp_path / "base.npy"), str(tmp_path / "cand.csv"), "--max-fraction", "0.09", "-f", "json"]
    )
    assert tighter.returncode == 1
    doc = json.loads(tighter.stdout)
    assert (doc["format"], doc["diverging"], doc["passed"], doc["max_fraction"]) == ("envprint-shadow", 10, False, 0.09)


def test_csv_with_header_selects_columns_by_name(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,score\n7,0.5\n8,0.25\n")
    (tmp_path / "b.csv").write_text("id,score\n7,0.5\n8,0.75\n")
    report = shadow.compare(tmp_path / "a.csv", tmp_path / "b.csv", column="score")
    assert (report.columns, report.diverging, report.worst[0].row) == (("score",), 1, 1)
    both = shadow.compare(tmp_path / "a.csv", tmp_path / "b.csv")
    assert both.columns == ("id", "score") and both.worst[0].column == "score"


def test_parquet_files(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    baseline, candidate = _pair(11)
    pq.write_table(pa.table({"score": baseline, "rank": np.arange(ROWS)}), tmp_path / "base.parquet")
    pq.write_table(pa.table({"score": candidate, "rank": np.arange(ROWS)}), tmp_path / "cand.parquet")
    proc = run_envprint(["shadow", str(tmp_path / "base.parquet"), str(tmp_path / "cand.parquet")])
    assert proc.returncode == 1
    assert "11 of 100 rows diverge" in proc.stdout and "(score, rank)" in proc.stdout


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(UsageError, match="needs pyarrow"):
        shadow.compare(tmp_path / "a.parquet", tmp_path / "a.parquet")


@pytest.mark.parametrize(
    ("baseline", "candidate", "message"),
    [
        ("rows100.npy", "rows99.npy", "has 100 rows but .* has 99"),
        ("rows100.npy", "two_columns.npy", "has 1 column.* has 2"),
        ("rows100.npy", "text.csv", r"row 1 \(line 3\), column 'score': 'high' is not a number"),
        ("rows100.npy", "ragged.csv", "line 3 has 2 field"),
        ("rows100.npy", "strings.npy", "not numbers"),
        ("rows100.npy", "cube.npy", r"shape \(2, 2, 2\)"),
        ("rows100.npy", "broken.npy", "not a valid .npy file"),
        ("rows100.npy", "missing.npy", "no such file"),
        ("rows100.npy", "empty.csv", "empty file"),
        ("rows100.npy", "latin1.csv", "not UTF-8"),
        ("rows100.npy", "preds.txt", "unknown prediction file type"),
        ("rows100.npy", "other_names.csv", "no column 'score'"),
    ],
)
def test_malformed_files_exit_2_with_a_clear_message(
    tmp_path: Path, baseline: str, candidate: str, message: str
) -> None:
    np.save(tmp_path / "rows100.npy", np.ones(100))
    np.save(tmp_path / "rows99.npy", np.ones(99))
    np.save(tmp_path / "two_columns.npy", np.ones((100, 2)))
    np.save(tmp_path / "strings.npy", np.array(["a"] * 100))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "text.csv").write_text("score\n0.5\nhigh\n")
    (tmp_path / "ragged.csv").write_text("score\n0.5\n0.5,1\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin1.csv").write_bytes("score\n0,5\xe9\n".encode("latin-1"))
    (tmp_path / "preds.txt").write_text("0.5\n")
    (tmp_path / "other_names.csv").write_text("prob\n0.5\n")
    args = ["shadow", str(tmp_path / baseline), str(tmp_path / candidate)]
    if candidate == "other_names.csv":
        args += ["--column", "score"]
    proc = run_envprint(args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr.replace("\n", " ")), proc.stderr


def test_column_names_must_agree(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("score\n0.5\n")
    (tmp_path / "b.csv").write_text("proba\n0.5\n")
    with pytest.raises(UsageError, match="column names differ"):
        shadow.compare(tmp_path / "a.csv", tmp_path / "b.csv")


def test_option_values_are_checked() -> None:
    with pytest.raises(UsageError, match="max-fraction"):
        shadow.compare([1.0], [1.0], max_fraction=1.5)
    with pytest.raises(UsageError, match="rtol"):
        shadow.compare([1.0], [1.0], rtol=-0.1)


def test_plot_without_matplotlib_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = shadow.compare(*_pair(3))
    with pytest.raises(UsageError, match="needs matplotlib") as err:
        shadow_plot(report, tmp_path / "shadow.png")
    assert "envprint[plot]" in err.value.diagnostics()
    assert not (tmp_path / "shadow.png").exists()


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    baseline, candidate = _pair(12)
    np.save(tmp_path / "b.npy", baseline)
    np.save(tmp_path / "c.npy", candidate)
    out = tmp_path / "shadow.png"
    proc = run_envprint(["shadow", str(tmp_path / "b.npy"), str(tmp_path / "c.npy"), "--plot", str(out)])
    assert proc.returncode == 1 and f"wrote {out}" in proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    alike = shadow_plot(
        shadow.compare(np.ones(10), np.full(10, 1.5)), tmp_path / "alike.png"
    )  # one relative difference
    assert alike.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_and_column_less_prediction_files_are_usage_errors(tmp_path: Path) -> None:
    import numpy as np

    from envprint import shadow
    from envprint.errors import UsageError

    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    no_columns = tmp_path / "none.npy"
    np.save(no_columns, np.zeros((5, 0)))
    ok = tmp_path / "ok.npy"
    np.save(ok, np.zeros((5, 1)))
    with pytest.raises(UsageError, match=r"not a valid \.npy"):
        shadow.compare(empty, ok)
    with pytest.raises(UsageError, match="holds no predictions"):
        shadow.compare(no_columns, no_columns)
