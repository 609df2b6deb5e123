"""rnnkit.datasets.idx.load on IDX files the tests write from the format's specification."""
from __future__ import annotations

import gzip
import io
import struct
import time
import tracemalloc

import numpy as np
import pytest
from dataset_files import idx_bytes, write_idx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.datasets import idx
from rnnkit.errors import DataError

ARRAYS = {
    "uint8 images": np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5),
    "int8": np.array([-128, -1, 0, 127], dtype=np.int8),
    "int16": np.array([[-32768, 1], [2, 32767]], dtype=np.int16),
    "int32": np.array([-(2**31), -7, 0, 2**31 - 1], dtype=np.int32),
    "float32": np.array([[1.5, -2.25e-3, np.inf]], dtype=np.float32),
    "float64": np.array([np.pi, -1e300, 0.0], dtype=np.float64),
    "empty": np.zeros((0, 28, 28), dtype=np.uint8),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_round_trip(tmp_path, name, compress):
    expected = ARRAYS[name]
    path = write_idx(tmp_path / "a.idx", expected, compress=compress)  # the gzip test has no .gz suffix
    got = idx.load(path)
    assert got.dtype == expected.dtype and got.dtype.isnative
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_known_bytes_big_endian():
    # int16 256 and 1, big-endian: 01 00, 00 01
    raw = bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 2) + bytes([1, 0, 0, 1])
    np.testing.assert_array_equal(idx.load(io.BytesIO(raw)), [256, 1])


def test_accepts_str_path_and_open_file(tmp_path):
    path = write_idx(tmp_path / "a.gz", ARRAYS["int32"])
    np.testing.assert_array_equal(idx.load(str(path)), ARRAYS["int32"])
    with open(path, "rb") as f:
        np.testing.assert_array_equal(idx.load(f), ARRAYS["int32"])


def header(code=0x08, dims=(2, 3)):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


BAD = {
    "empty file": (b"", "magic"),
    "short magic": (b"\x00\x00\x08", "magic"),
    "bad magic": (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic number 0x01020801"),
    "unknown dtype code": (header(code=0x0A, dims=(1,)) + b"\x00", "type code 0x0A"),
    "zero dimensions": (bytes([0, 0, 0x08, 0]), "0 dimensions"),
    "header truncated": (header(dims=(2, 3))[:-2], "header truncated"),
    "body truncated": (header(dims=(2, 3)) + bytes(5), "truncated"),
    "trailing bytes": (header(dims=(2, 3)) + bytes(7), "trailing bytes"),
    "10^12 elements": (header(dims=(10**6, 10**6)) + bytes(100), "max_bytes"),
    "2^96 elements": (header(dims=(2**32 - 1,) * 3) + bytes(100), "max_bytes"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_raise_data_error(tmp_path, case, compress):
    data, words = BAD[case]
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError, match=words):
        idx.load(path)


def test_body_truncated_in_stream_names_both_lengths():
    with pytest.raises(DataError, match=r"6 bytes, the data ends after 5"):
        idx.load(io.BytesIO(header(dims=(2, 3)) + bytes(5)))


def test_huge_claim_within_max_bytes_fails_fast_without_allocating():
    # 4 GiB claimed (below the default max_bytes), 1 KiB present, gzip-compressed so the size is not known upfront.
    data = gzip.compress(header(dims=(1 << 16, 1 << 16)) + bytes(1024))
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="truncated"):
        idx.load(io.BytesIO(data))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 64 << 20  # one read chunk at most, never the 4 GiB the header claims


def test_truncated_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(ARRAYS["uint8 images"]))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(DataError, match="gzip"):
        idx.load(path)


def test_corrupt_gzip_crc(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(ARRAYS["uint8 images"])))
    data[-8] ^= 0xFF  # the CRC32 in the trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="gzip"):
        idx.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found"):
        idx.load(tmp_path / "nope.idx")
    with pytest.raises(DataError, match="directory"):
        idx.load(tmp_path)


def test_max_bytes_argument(tmp_path):
    path = write_idx(tmp_path / "a", ARRAYS["uint8 images"])
    with pytest.raises(DataError, match="max_bytes=10"):
        idx.load(path, max_bytes=10)
    assert idx.load(path, max_bytes=60).shape == (3, 4, 5)


VALID = [idx_bytes(a) for a in ARRAYS.values()]


@st.composite
def damaged_idx(draw):
    """A valid IDX file with one byte overwritten and maybe cut short or extended."""
    data = bytearray(draw(st.sampled_from(VALID)))
    data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    length = draw(st.integers(0, len(data) + 4))
    return bytes(data[:length]) + bytes(max(0, length - len(data)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=64), damaged_idx()), compress=st.booleans())
def test_fuzz_only_data_error(data, compress):
    """Random bytes and damaged valid files: either an array consistent with the header, or a DataError."""
    blob = gzip.compress(data) if compress else data
    try:
        out = idx.load(io.BytesIO(blob))
    except DataError:
        return
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4: 4 + 4 * ndim])
    assert data[:2] == b"\x00\x00"
    assert out.shape == dims
    assert out.nbytes == len(data) - 4 - 4 * ndim
