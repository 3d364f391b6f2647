"""How outputs are recorded (digest, samples, blocks, tables) and how inputs are built."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envprint.probes._inputs import splitmix64, uniform
from envprint.probes._record import BLOCKS, ROW_SAMPLES, SAMPLES, canonical, float_hex, to_output


def record(name: str, value: object) -> object:
    return to_output(name, canonical(value))  # type: ignore[arg-type]


def test_digest_is_sha256_of_name_dtype_shape_and_little_endian_bytes() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.5]], np.float32)
    expected = hashlib.sha256(b"c|float32|2x2|" + x.astype("<f4").tobytes()).hexdigest()
    assert record("c", x).digest == expected


def test_big_endian_input_digests_like_little_endian() -> None:
    x = np.arange(40, dtype=">f8")
    assert record("x", x).digest == record("x", x.astype("<f8")).digest


def test_float_output_samples_evenly_spaced_indices_as_float_hex() -> None:
    x = np.arange(100, dtype=np.float64) / 8
    o = record("x", x)
    assert o.kind == "float" and o.dtype == "float64" and o.shape == (100,)
    assert o.sample_index == tuple(i * 100 // SAMPLES for i in range(SAMPLES))
    assert o.samples[:3] == ("0x0p+0", "0x1.8p-2", "0x1.8p-1")  # 0, 3/8, 6/8
    assert all(float.fromhex(s) == x[i] for s, i in zip(o.samples, o.sample_index, strict=True))
    assert len(o.blocks) == BLOCKS and all(len(b) == 8 for b in o.blocks)
    assert o.max_abs == "0x1.8cp+3"  # 99/8, without float.hex's trailing zeros


def test_small_output_is_sampled_whole_without_blocks() -> None:
    o = record("x", np.float32(2.5))
    assert (o.shape, o.samples, o.sample_index, o.blocks) == ((), ("0x1.4p+1",), (0,), ())


def test_int_bool_and_text_outputs() -> None:
    ints = record("i", np.array([3, -1, 2**40]))
    assert (ints.kind, ints.dtype, ints.samples) == ("int", "int64", ("3", "-1", str(2**40)))
    assert record("b", np.array([True, False])).samples == ("1", "0")
    text = record("t", ("α", "b"))
    assert (text.kind, text.shape, text.samples) == ("text", (2,), ("α", "b"))
    lines = struct.pack("<I", 2) + "α".encode() + struct.pack("<I", 1) + b"b"
    assert text.digest == hashlib.sha256(b"t|text|2|" + lines).hexdigest()


def test_complex_output_is_sampled_as_float_pairs() -> None:
    o = record("z", np.array([1 + 2j, 3 - 4j], np.complex64))
    assert (o.kind, o.dtype, o.shape) == ("complex", "complex64", (2,))
    assert o.samples == ("0x1p+0", "0x1p+1", "0x1.8p+1", "-0x1p+2")


def test_table_has_one_labelled_block_and_row_samples_per_row() -> None:
    o = record("t", {"exp": np.arange(20, dtype=np.float32), "log": np.arange(3, dtype=np.float32)})
    assert o.block_labels == ("exp", "log") and o.block_starts == (0, 20) and len(o.blocks) == 2
    assert o.sample_index == (*(i * 20 // ROW_SAMPLES for i in range(ROW_SAMPLES)), 20, 21, 22)
    assert o.shape == (23,)


def test_table_rows_must_share_one_real_dtype() -> None:
    with pytest.raises(TypeError, match="one real dtype"):
        canonical({"a": np.zeros(2, np.float32), "b": np.zeros(2)})


@pytest.mark.parametrize("value", [np.array(["a"]), np.array([1], dtype=object), np.zeros(2, np.longdouble)])
def test_unsupported_output_dtypes_are_rejected(value: np.ndarray) -> None:
    if value.dtype == np.longdouble and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(TypeError):
        canonical(value)


@given(st.floats(allow_nan=False))
def test_float_hex_reads_back_bit_for_bit(x: float) -> None:
    text = float_hex(x)
    assert struct.pack("<d", float.fromhex(text)) == struct.pack("<d", x)
    mantissa = text.split("p")[0]
    assert "." not in mantissa or not mantissa.endswith("0")


def _splitmix64_reference(seed: int, n: int) -> list[int]:
    mask, state, out = (1 << 64) - 1, seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def test_splitmix64_matches_the_reference_algorithm() -> None:
    assert splitmix64(0, 5).tolist() == _splitmix64_reference(0, 5)
    assert splitmix64(0, 1)[0] == 0xE220A8397B1DCDAF  # the published first output for seed 0
    assert splitmix64(12345, 1000).tolist() == _splitmix64_reference(12345, 1000)


@pytest.mark.parametrize(("dtype", "bits"), [(np.float32, 24), (np.float64, 53)])
def test_uniform_inputs_lie_exactly_on_their_grid(dtype: type, bits: int) -> None:
    x = uniform(7, 4096, dtype, -8.0, 16.0)
    assert x.dtype == dtype and not x.flags.writeable
    assert x.min() >= -8.0 and x.max() < 8.0
    grid = (x.astype(np.float64) + 8.0) * 2.0 ** (bits - 4)  # exact: the grid step is 16·2^-bits
    assert np.array_equal(grid, np.floor(grid))
    expected = (np.array(_splitmix64_reference(7, 4096), dtype=np.uint64) >> np.uint64(64 - bits)).astype(np.float64)
    assert np.array_equal(grid, expected)
