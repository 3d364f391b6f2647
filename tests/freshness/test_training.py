"""The training-time freshness profile: ages at label time, stored signed in the fingerprint."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import envprint
from envprint import signing
from envprint.codec import read
from envprint.errors import FingerprintFormatError, SignatureError, UsageError
from envprint.freshness import FreshnessProfile, load_profile, profile

LABEL = pd.Timestamp("2024-03-01 12:00:00", tz="UTC")


def _frame() -> pd.DataFrame:
    seconds = np.arange(1, 101, dtype=float)  # 1..100 s old
    return pd.DataFrame(
        {
            "label_ts": [LABEL] * 100,
            "clicked_at": [LABEL - pd.Timedelta(seconds=s) for s in seconds],
            "embedded_at": [LABEL - pd.Timedelta(hours=2)] * 98 + [pd.NaT, LABEL + pd.Timedelta(minutes=5)],
        }
    )


def test_a_pandas_frame_with_zoned_times_gives_the_age_quantiles() -> None:
    prof = profile(_frame(), event_time="label_ts", feature_times={"last_click_ts": "clicked_at"})
    f = prof.features["last_click_ts"]
    assert (prof.rows, f.count, f.missing, f.future) == (100, 100, 0, 0)
    expected = np.quantile(np.arange(1, 101), [0.5, 0.95, 0.99], method="lower")
    assert [f.age(q) for q in (0.5, 0.95, 0.99)] == pytest.approx(expected.tolist(), rel=0.01)
    assert f.mean == pytest.approx(50.5)


def test_missing_and_future_feature_times_are_counted_and_left_out() -> None:
    prof = profile(_frame(), event_time="label_ts", feature_times={"user_embedding": "embedded_at"})
    f = prof.features["user_embedding"]
    assert (f.count, f.missing, f.future) == (98, 1, 1)
    assert f.age(0.99) == pytest.approx(7200.0, rel=0.01)


def test_a_pyarrow_table_and_a_dict_of_epoch_seconds_give_the_same_profile() -> None:
    frame = _frame()
    table = pa.Table.from_pandas(frame)
    as_epoch = {c: np.array([t.timestamp() for t in frame[c]]) for c in ("label_ts", "clicked_at")}
    a = profile(table, event_time="label_ts", feature_times={"f": "clicked_at"})
    b = profile(as_epoch, event_time="label_ts", feature_times={"f": "clicked_at"})
    assert a.features["f"].ages == b.features["f"].ages


def test_python_datetimes_in_a_dict_are_read() -> None:
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    prof = profile({"y": [t, t], "x": [t - timedelta(seconds=30), None]}, event_time="y", feature_times={"f": "x"})
    assert (prof.features["f"].count, prof.features["f"].missing) == (1, 1)
    assert prof.features["f"].age(0.5) == pytest.approx(30.0, rel=0.01)


def test_mixing_zoned_and_naive_times_is_refused() -> None:
    frame = _frame()
    frame["naive"] = frame["clicked_at"].dt.tz_localize(None)
    with pytest.raises(UsageError, match="'label_ts' holds time-zone-aware datetimes but 'naive' holds naive"):
        profile(frame, event_time="label_ts", feature_times={"f": "naive"})


def test_a_missing_column_lists_the_columns() -> None:
    with pytest.raises(UsageError, match=r"no column 'nope'; columns: label_ts, clicked_at, embedded_at"):
        profile(_frame(), event_time="label_ts", feature_times={"f": "nope"})


def test_the_profile_travels_signed_in_the_fingerprint(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    private, public = signing.generate_keypair(tmp_path / "train")
    prof = profile(_frame(), event_time="label_ts", feature_times={"last_click_ts": "clicked_at"})
    prof.attach(local_fingerprint).save(tmp_path / "envprint.fp", key=private)
    loaded, file = load_profile(tmp_path / "envprint.fp", trusted_keys=[str(public)])
    assert file.trust == "verified"
    assert loaded == FreshnessProfile.from_data(prof.to_data())
    assert loaded.features["last_click_ts"].ages == prof.features["last_click_ts"].ages


def test_a_baseline_signed_by_another_key_is_untrusted(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    private, _ = signing.generate_keypair(tmp_path / "train")
    _, other = signing.generate_keypair(tmp_path / "other")
    prof = profile(_frame(), event_time="label_ts", feature_times={"f": "clicked_at"})
    prof.attach(local_fingerprint).save(tmp_path / "envprint.fp", key=private)
    with pytest.raises(SignatureError):
        load_profile(tmp_path / "envprint.fp", trusted_keys=[str(other)])


def test_a_fingerprint_without_a_profile_says_how_to_record_one(
    tmp_path: Path, local_fingerprint: envprint.Fingerprint
) -> None:
    local_fingerprint.save(tmp_path / "plain.fp")
    with pytest.raises(UsageError, match="has no freshness profile"):
        load_profile(tmp_path / "plain.fp")
    assert read(tmp_path / "plain.fp").fingerprint.freshness is None


def test_a_profile_from_a_newer_envprint_is_refused() -> None:
    data = profile(_frame(), event_time="label_ts", feature_times={"f": "clicked_at"}).to_data()
    with pytest.raises(FingerprintFormatError, match="newer than this envprint reads"):
        FreshnessProfile.from_data({**data, "version": 99})
    with pytest.raises(FingerprintFormatError, match="not a valid freshness profile"):
        FreshnessProfile.from_data({**data, "features": {"f": {"ages": [1.0]}}})
