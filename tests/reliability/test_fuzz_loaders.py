"""Fuzzing the readers of untrusted files: IDX data files, model files and checkpoints.

Every outcome must be a clean ``RnnkitError`` (or a correct result), in bounded time and memory: never another
exception type, never a hang, never an allocation the file's size does not justify. Hypothesis runs
derandomized, so CI sees the same cases every time.
"""
from __future__ import annotations

import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.callbacks import BackupAndRestore
from rnnkit.datasets import idx
from rnnkit.errors import DataError, RnnkitError
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Model, Sequential, load_model
from rnnkit.random import set_random_seed

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TIME_LIMIT_S = 2.0  # per example (a generous bound; typical cases take milliseconds)
MEMORY_LIMIT = 32 << 20  # bytes, per example


def bounded(function, *args):
    """Run ``function``: returns its result or the RnnkitError it raised, checking time and peak memory."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = function(*args)
    except RnnkitError as error:
        result = error
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < TIME_LIMIT_S, f"took {elapsed:.2f} s"
    assert peak < MEMORY_LIMIT, f"allocated {peak:,} bytes"
    if isinstance(result, RnnkitError):
        assert str(result), "an error needs a message"
    return result


# ----------------------------------------------------------------------------------------------------- IDX
IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@st.composite
def idx_files(draw):
    """IDX headers built field by field: any type code, any dimension count, dims up to 2^32 - 1 (a header may
    claim 10^12 elements and more), and a body that may be right, short, long or missing."""
    code = draw(st.one_of(st.sampled_from(sorted(IDX_CODES)), st.integers(0, 255)))
    ndim = draw(st.one_of(st.integers(1, 3), st.integers(0, 255)))
    small = st.integers(0, 5)
    dims = draw(st.lists(st.one_of(small, small, st.integers(0, 2**32 - 1), st.just(10**6)),
                         min_size=min(ndim, 4), max_size=min(ndim, 4)))
    header = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", d) for d in dims)
    magic = draw(st.sampled_from([b"", b"", b"", b"\x00\x01", b"\x12\x34"]))
    if magic:
        header = magic + header[2:]
    size = int(np.prod(dims, dtype=object)) * np.dtype(IDX_CODES.get(code, ">u1")).itemsize if dims else 0
    body_len = draw(st.one_of(st.just(min(size, 4096)), st.integers(0, 64)))
    return header + bytes(draw(st.binary(min_size=body_len, max_size=body_len)))


@FUZZ
@given(data=idx_files())
def test_fuzz_idx_file_headers(tmp_path, data):
    path = tmp_path / "data.idx"
    path.write_bytes(data)
    result = bounded(idx.load, path)
    if isinstance(result, RnnkitError):
        assert isinstance(result, DataError) and "data.idx" in str(result)
        return
    code, ndim = data[2], data[3]  # a successful read must agree with the header and the body
    dims = struct.unpack(f">{ndim}I", data[4: 4 + 4 * ndim])
    assert result.shape == dims and result.dtype == np.dtype(IDX_CODES[code]).newbyteorder("=")
    assert result.tobytes() == np.frombuffer(data[4 + 4 * ndim:], IDX_CODES[code]).astype(result.dtype).tobytes()


# ------------------------------------------------------------------------------------------- model files
def _saved(model, x) -> bytes:
    model(x)  # build
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, np.zeros((len(x),) + model(x).shape[1:], np.float32), epochs=1, verbose=0)
    buffer = io.BytesIO()
    from rnnkit.models import saving

    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in saving.model_members(model).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _model_files() -> list:
    set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)
    return [
        _saved(Sequential([SimpleRNN(3, return_sequences=True, input_shape=(3, 2)), GRU(2), Dense(2)]), x),
        _saved(Sequential([Bidirectional(LSTM(2), input_shape=(3, 2)), Dropout(0.5), Dense(1)]), x),
        _saved(Sequential([Embedding(5, 2, input_shape=(3,)), LSTM(2)]), np.array([[0, 1, 4]] * 2)),
    ]


MODEL_FILES = _model_files()


def _members(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # allow_pickle defaults to True here: object arrays become pickles
    return buffer.getvalue()


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.sampled_from([10**9, 10**12, -1, 0]),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
              st.sampled_from(["os.system", "__import__", "Model", "Layer", "Functional", "LSTMCell", "float128",
                               "object", "zeros", "relu"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children,
                                                                                 max_size=3)),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _replace(node, path, value, delete=False):
    if not path:
        return value
    parent = node
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return node


@st.composite
def broken_model_files(draw):
    blob = draw(st.sampled_from(MODEL_FILES))
    kind = draw(st.sampled_from(["truncate", "bytes", "config", "config", "config", "weights", "zip-size"]))
    if kind == "truncate":
        return blob[: draw(st.integers(0, len(blob) - 1))]
    if kind == "bytes":
        data = bytearray(blob)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    members = _members(blob)
    if kind == "config":
        config = json.loads(members["config.json"])
        paths = list(_paths(config))
        for _ in range(draw(st.integers(1, 3))):
            paths = list(_paths(config))
            config = _replace(config, draw(st.sampled_from(paths)), draw(JSON_VALUES), delete=draw(st.booleans()))
        members["config.json"] = json.dumps(config).encode()
        return _zip(members)
    if kind == "weights":
        with np.load(io.BytesIO(members["weights.npz"])) as data:
            arrays = {k: data[k] for k in data.files}
        key = draw(st.sampled_from(sorted(arrays)))
        change = draw(st.sampled_from(["drop", "extra", "reshape", "int", "object", "nan", "scalar"]))
        if change == "drop":
            del arrays[key]
        elif change == "extra":
            arrays["w9999"] = np.zeros(3, np.float32)
        elif change == "reshape":
            arrays[key] = arrays[key].reshape(-1)[: max(arrays[key].size - 1, 0)]
        elif change == "int":
            arrays[key] = arrays[key].astype(np.int64)
        elif change == "object":
            arrays[key] = np.array([{"a": 1}, None], dtype=object)
        elif change == "nan":
            arrays[key] = np.full_like(arrays[key], np.nan)
        else:
            arrays[key] = np.float32(1.0)
        members["weights.npz"] = _npz(arrays)
        return _zip(members)
    # zip-size: a member whose header declares a huge uncompressed size (as a zip bomb would)
    data = bytearray(_zip(members, compression=zipfile.ZIP_STORED))
    at = data.rfind(b"PK\x01\x02")  # the last central directory entry; its uncompressed size is at +24
    data[at + 24: at + 28] = struct.pack("<I", draw(st.sampled_from([2**32 - 1, 2**31, 10**9])))
    return bytes(data)


@FUZZ
@given(blob=broken_model_files())
def test_fuzz_model_loader(tmp_path, blob):
    path = tmp_path / "model.rnnkit"
    path.write_bytes(blob)
    result = bounded(load_model, path)
    if isinstance(result, RnnkitError):
        assert "model.rnnkit" in str(result)
        return
    assert isinstance(result, Model)  # a mutation the loader accepts must give a usable model
    shape = [3 if d is None else d for d in result._input_spec[0][0][1:]]
    x = np.zeros([2] + shape, dtype=result._input_spec[0][1])
    try:
        result.predict(x, verbose=0)
    except RnnkitError:
        pass


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    members = _members(MODEL_FILES[0])
    members["weights.npz"] = _npz({"w0000": np.array([print], dtype=object)})
    path = tmp_path / "model.rnnkit"
    path.write_bytes(_zip(members))
    with pytest.raises(DataError, match="object"):
        load_model(path)


def test_unknown_layer_class_is_refused(tmp_path):
    members = _members(MODEL_FILES[0])
    config = json.loads(members["config.json"])
    config["model"]["config"]["layers"][0]["class_name"] = "os.system"
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / "model.rnnkit"
    path.write_bytes(_zip(members))
    with pytest.raises(RnnkitError, match="unknown layer class 'os.system'"):
        load_model(path)


def test_huge_units_are_refused_before_building(tmp_path):
    members = _members(MODEL_FILES[0])
    config = json.loads(members["config.json"])
    config["model"]["config"]["layers"][0]["config"]["units"] = 10**9
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / "model.rnnkit"
    path.write_bytes(_zip(members))
    result = bounded(load_model, path)
    assert isinstance(result, DataError) and "units=1000000000" in str(result)


# ------------------------------------------------------------------------------------------- checkpoints
X_CK = np.linspace(-1, 1, 16, dtype=np.float32).reshape(8, 2)
Y_CK = X_CK[:, :1] * 2


def _fit_with_backup(folder, epochs=2):
    set_random_seed(1)
    model = Sequential([Dense(3, input_shape=(2,)), Dropout(0.2), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X_CK, Y_CK, batch_size=4, epochs=epochs, verbose=0,
              callbacks=[BackupAndRestore(folder, save_freq=1, delete_checkpoint=False)])
    return model


@pytest.fixture(scope="module")
def checkpoint_members(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    _fit_with_backup(folder, epochs=1)
    with zipfile.ZipFile(folder / "checkpoint.rnnkit") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_checkpoint_training_state(tmp_path_factory, checkpoint_members, data):
    state = json.loads(checkpoint_members["training_state.json"])
    for _ in range(data.draw(st.integers(1, 2))):
        target = data.draw(st.sampled_from(list(_paths(state))))
        state = _replace(state, target, data.draw(JSON_VALUES), delete=data.draw(st.booleans()))
    members = dict(checkpoint_members, **{"training_state.json": json.dumps(state).encode()})
    folder = tmp_path_factory.mktemp("fz")
    (folder / "checkpoint.rnnkit").write_bytes(_zip(members))
    result = bounded(_fit_with_backup, folder)
    if not isinstance(result, RnnkitError):
        assert all(np.isfinite(w).all() for w in result.get_weights())
