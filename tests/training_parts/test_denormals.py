"""Subnormal floats are flushed to zero while rnnkit computes (rnnkit.denormals): inside a layer's call, a
backward pass and rnnkit's worker threads, and only there; ``set_flush_denormals(False)`` turns it off."""
from __future__ import annotations

import numpy as np
import pytest

import rnnkit.autograd as autograd
from rnnkit import config, denormals, layers, threads
from rnnkit.models import Sequential
from rnnkit.ops.recurrent import shards

pytestmark = pytest.mark.skipif(not denormals.supported(), reason="MXCSR flush bits exist on x86-64 only")
TINY = np.float32(1e-39)  # subnormal in float32


def _flushing() -> bool:
    return denormals._read_mxcsr() & denormals.FLUSH_BITS == denormals.FLUSH_BITS


class LooksAtTheCPU(layers.Layer):
    """Notes whether the thread flushes, and what a subnormal times one gives, while it computes."""

    seen: list = []

    def call(self, x):
        LooksAtTheCPU.seen.append((_flushing(), float((np.array([TINY]) * np.float32(1.0))[0])))
        return x


@pytest.fixture
def flush_setting():
    previous = config.set_flush_denormals(True)
    yield config.set_flush_denormals
    config.set_flush_denormals(previous)


def test_layers_and_backward_flush_and_the_program_keeps_its_own_setting(flush_setting, monkeypatch):
    assert not _flushing()  # the program's default
    seen_in_backward = []
    run_backward = autograd._run_backward

    def recording(*args):
        seen_in_backward.append(_flushing())
        return run_backward(*args)

    monkeypatch.setattr(autograd, "_run_backward", recording)
    LooksAtTheCPU.seen = []
    model = Sequential([layers.LSTM(4, input_shape=(3, 2)), LooksAtTheCPU(), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3, 2), np.float32), np.zeros((4, 1), np.float32), epochs=1, verbose=0)
    assert LooksAtTheCPU.seen and all(seen == (True, 0.0) for seen in LooksAtTheCPU.seen)
    assert seen_in_backward == [True]
    assert not _flushing() and float((np.array([TINY]) * np.float32(1.0))[0]) > 0  # outside rnnkit: IEEE again


def test_turned_off_nothing_is_flushed(flush_setting):
    flush_setting(False)
    LooksAtTheCPU.seen = []
    Sequential([LooksAtTheCPU()]).predict(np.ones((2, 3), np.float32), verbose=0)
    assert LooksAtTheCPU.seen == [(False, pytest.approx(1e-39, rel=1e-3))]
    with pytest.raises(Exception, match="True or False"):
        config.set_flush_denormals("yes")


def test_rnnkits_worker_threads_flush(flush_setting, monkeypatch):
    previous = config.set_num_threads(2)
    try:
        seen = {}
        with threads.BlasThreads():
            threads.run_pair(lambda: seen.setdefault("caller", _flushing()),
                             lambda: seen.setdefault("pair worker", _flushing()))
            monkeypatch.setattr(shards, "MIN_SHARD", 16)
            monkeypatch.setattr(shards, "MIN_SHARD_WORK", 1)
            shards.run(lambda b0, b1: seen.setdefault(f"shard {b0}", _flushing()), 64)
        assert seen == {"caller": True, "pair worker": True, "shard 0": True, "shard 32": True}
    finally:
        config.set_num_threads(previous)
