"""Fuzzing the ``rnnkit`` command: predict inputs (wrong shapes, NaN, non-image files) and train arguments.

Every case ends with status 0, or status 1 and one line ``rnnkit: error: ...`` (no traceback), or argparse's
usage error (status 2), in bounded time, and a rejected ``train`` leaves no output folder behind.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli import main as cli
from rnnkit.cli import train as train_module
from rnnkit.cli.images import PNG_SIGNATURE
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def run_cli(argv) -> tuple:
    """``(status, stdout, stderr)`` of ``rnnkit argv``, in process."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exit_:
            status = exit_.code
    assert time.perf_counter() - start < 5.0
    return status, out.getvalue(), err.getvalue()


def assert_clean(status, err, allow_usage=False):
    assert "Traceback" not in err, err
    allowed = (0, 1, 2) if allow_usage else (0, 1)
    assert status in allowed, (status, err)
    if status == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rnnkit: error: ") and len(lines[0]) > 20, err


# ------------------------------------------------------------------------------------------------ predict
@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(28, 28)), Dense(10, activation="softmax")])
    path = tmp_path_factory.mktemp("model") / "model.rnnkit"
    model.save(path)
    return str(path)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _png(width, height, colour, body: bytes, depth=8) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b""))


SHAPES = st.one_of(st.just((28, 28)), st.just((1, 28, 28)), st.just((28, 28, 1)),
                   st.lists(st.integers(0, 30), min_size=0, max_size=4).map(tuple))
DTYPES = st.sampled_from(["uint8", "float32", "float64", "int16", "bool", "complex64", "U3"])


@st.composite
def npy_inputs(draw):
    shape, dtype = draw(SHAPES), draw(DTYPES)
    array = np.zeros(shape, dtype=dtype)
    if array.size and dtype in ("float32", "float64"):
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 300.0,
                                                                                  0.5]))
    data = _npy(array)
    cut = draw(st.sampled_from(["keep", "keep", "truncate", "huge-header"]))
    if cut == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif cut == "huge-header":  # a header that claims far more data than the file holds
        data = data.replace(str(shape).encode(), b"(1000000, 1000000)", 1) if shape else data
    return "image.npy", data


@st.composite
def png_inputs(draw):
    width, height = draw(st.sampled_from([(28, 28), (28, 28), (30, 20), (1, 1), (0, 5), (5000, 2)]))
    colour = draw(st.sampled_from([0, 2, 4, 6, 3, 1]))
    depth = draw(st.sampled_from([8, 8, 8, 16, 1]))
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour, 1)
    rows = min(height, 64)
    body = b"".join(bytes([draw(st.integers(0, 5))]) + bytes(width * channels) for _ in range(rows))
    data = _png(width, height, colour, body, depth)
    if draw(st.booleans()):
        at = draw(st.integers(8, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return "image.png", data


@FUZZ
@given(case=st.one_of(npy_inputs(), png_inputs(), st.tuples(st.sampled_from(["x.png", "x.npy", "x.txt"]),
                                                            st.binary(max_size=80))))
def test_fuzz_predict_input(tmp_path, model_path, case):
    name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    status, out, err = run_cli(["predict", model_path, str(path)])
    assert_clean(status, err)
    if status == 0:
        probabilities = [float(p.split(":")[1]) for p in out.split("probabilities=")[1].split()]
        assert len(probabilities) == 10 and all(np.isfinite(probabilities))
    else:
        assert name in err or "model expects" in err or "image" in err, err


def test_png_with_a_short_header_chunk(tmp_path, model_path):
    data = _png(28, 28, 0, bytes(29 * 28))
    at = data.index(b"IHDR") - 4
    path = tmp_path / "short.png"
    path.write_bytes(data[:at] + struct.pack(">I", 3) + b"IHDR" + b"abc" + data[at + 8 + 13:])
    status, _, err = run_cli(["predict", model_path, str(path)])
    assert_clean(status, err)
    assert status == 1 and "IHDR" in err and "short.png" in err


def test_npy_header_claiming_a_huge_array_is_refused_at_once(tmp_path, model_path):
    data = _npy(np.zeros((28, 28), np.uint8)).replace(b"(28, 28)", b"(10**6, 10**6)".replace(b"10**6", b"1000000"))
    path = tmp_path / "huge.npy"
    path.write_bytes(data)
    status, _, err = run_cli(["predict", model_path, str(path)])
    assert_clean(status, err)
    assert status == 1 and "huge.npy" in err and "(1000000, 1000000)" in err


def test_newlines_in_names_stay_on_one_line(tmp_path):
    status, _, err = run_cli(["summary", str(tmp_path / "a\nb.rnnkit")])
    assert_clean(status, err)
    assert status == 1 and "a\\nb.rnnkit" in err


# ------------------------------------------------------------------------------------------------- train
class Accepted(BaseException):
    """Raised in place of loading the data set: the arguments passed validation."""


FLAG_VALUES = {
    "--dataset": st.sampled_from(["mnist-sample", "cifar", ""]),
    "--model": st.sampled_from(["lstm", "gru", "simple_rnn", "transformer"]),
    "--units": st.sampled_from(["8", "0", "-3", "1e3", "abc", "99999999999999999999"]),
    "--layers": st.sampled_from(["1", "2", "0", "-1", "x"]),
    "--epochs": st.sampled_from(["1", "0", "-2", "2.5"]),
    "--batch-size": st.sampled_from(["1", "64", "0", "-64", ""]),
    "--lr": st.sampled_from(["0.01", "0", "-1", "nan", "inf", "1e-300", "x"]),
    "--optimizer": st.sampled_from(["adam", "sgd", "lbfgs"]),
    "--clipnorm": st.sampled_from(["1", "0", "-1", "nan", "inf"]),
    "--dropout": st.sampled_from(["0", "0.5", "1", "-0.1", "nan"]),
    "--seed": st.sampled_from(["0", "-1", "12345678901234567890", "s"]),
    "--verbose": st.sampled_from(["0", "1", "3"]),
    "--limit": st.sampled_from(["1", "100", "0", "-5"]),
    "--checkpoint-every": st.sampled_from(["0", "3", "-1"]),
    "--resume": st.sampled_from(["nowhere", "", "."]),
}


@st.composite
def train_argvs(draw):
    flags = draw(st.lists(st.sampled_from(sorted(FLAG_VALUES) + ["--bidirectional", "--bogus"]), max_size=5))
    argv = ["train"]
    for flag in flags:
        argv.append(flag)
        if flag in FLAG_VALUES:
            argv.append(draw(FLAG_VALUES[flag]))
    return argv


@FUZZ
@given(argv=train_argvs())
def test_fuzz_train_arguments(tmp_path_factory, monkeypatch, argv):
    out = tmp_path_factory.mktemp("args") / "out"
    if "--resume" not in argv:
        argv = argv + ["--out", str(out)]

    def accept(name, split="both"):
        raise Accepted

    monkeypatch.setattr(train_module, "load_dataset", accept)
    try:
        status, _, err = run_cli(argv)
    except Accepted:
        return
    assert_clean(status, err, allow_usage=True)
    assert status != 0
    assert not os.path.exists(out)  # nothing written for rejected arguments


@FUZZ
@given(command=st.sampled_from(["evaluate", "summary", "predict"]),
       args=st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["--dataset", "mnist", "-h5", "."])),
                     max_size=3))
def test_fuzz_other_commands(tmp_path, monkeypatch, command, args):
    monkeypatch.chdir(tmp_path)  # relative names point into an empty folder
    args = [a.replace("\x00", "") for a in args if a not in ("-h", "--help") and not a.startswith("--h")]
    status, _, err = run_cli([command, *args])
    assert_clean(status, err, allow_usage=True)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    status, _, err = run_cli(["train", "--epochs", "1", "--units", "2", "--limit", "32", "--out", str(folder),
                              "--verbose", "0"])
    assert status == 0, err
    with zipfile.ZipFile(folder / "checkpoint.rnnkit") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


CONFIG_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
                          st.text(max_size=5), st.lists(st.integers(), max_size=2), st.sampled_from(["lstm", "adam"]))


@FUZZ
@given(data=st.data())
def test_fuzz_resume_with_a_damaged_run_config(tmp_path_factory, monkeypatch, finished_run, data):
    state = json.loads(finished_run["training_state.json"])
    config = state["metadata"]["config"]
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(sorted(config) + ["bogus"]))
        if data.draw(st.booleans()) and key in config:
            del config[key]
        else:
            config[key] = data.draw(CONFIG_VALUES)
    if data.draw(st.integers(0, 9)) == 0:
        state["metadata"] = data.draw(CONFIG_VALUES)
    members = dict(finished_run, **{"training_state.json": json.dumps(state).encode()})
    folder = tmp_path_factory.mktemp("resume")
    with zipfile.ZipFile(folder / "checkpoint.rnnkit", "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)

    def accept(name, split="both"):
        raise Accepted

    monkeypatch.setattr(train_module, "load_dataset", accept)
    try:
        status, _, err = run_cli(["train", "--resume", str(folder)])
    except Accepted:
        return
    assert_clean(status, err)
    assert status == 1
