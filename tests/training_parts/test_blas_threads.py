"""rnnkit's thread counts (``rnnkit.threads``): OpenBLAS runs ``get_blas_threads()`` threads while a layer
computes and while gradients flow (one unless set), and the program's own setting is back afterwards; rnnkit's
own parallel work may use every core by default."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit.autograd as autograd
import rnnkit.config as config
from rnnkit import layers, threads
from rnnkit.errors import ConfigError
from rnnkit.models import Sequential


class RecordsThreads(layers.Layer):
    """A layer that notes OpenBLAS's thread count while it computes."""

    seen: list = []

    def call(self, x):
        RecordsThreads.seen.append(threads._GET())
        return x


@pytest.fixture
def outside_two_threads():
    assert config.blas_threads_controllable(), "NumPy's OpenBLAS thread functions were not found"
    before, state = threads._GET(), dict(threads._state)
    threads._SET(2)  # the program's own setting, outside rnnkit
    yield
    threads._SET(before)
    threads._state.update(state)


@pytest.mark.parametrize("ours", [1, 3])
def test_layers_and_backward_run_with_rnnkits_count_and_give_the_programs_back(outside_two_threads, monkeypatch,
                                                                                ours):
    config.set_num_threads(ours)
    RecordsThreads.seen = []
    during_backward = []
    run_backward = autograd._run_backward

    def recording(*args):
        during_backward.append(threads._GET())
        return run_backward(*args)

    monkeypatch.setattr(autograd, "_run_backward", recording)
    model = Sequential([layers.LSTM(8, input_shape=(5, 3)), RecordsThreads(), layers.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((4, 5, 3), np.float32), np.zeros((4, 2), np.float32)
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    model.predict(x, verbose=0)
    assert RecordsThreads.seen and set(RecordsThreads.seen) == {ours}
    assert during_backward and set(during_backward) == {ours}
    assert threads._GET() == 2  # outside rnnkit: the program's setting again


def test_by_default_openblas_runs_one_thread_and_parallel_work_every_core(outside_two_threads, monkeypatch):
    monkeypatch.delenv("RNNKIT_NUM_THREADS", raising=False)  # the default, whatever the environment says
    config.set_num_threads(None)
    assert config.get_blas_threads() == 1
    assert config.get_num_threads() == threads._available_cores()
    RecordsThreads.seen = []
    model = Sequential([layers.Dense(3, input_shape=(2,)), RecordsThreads()])
    model.predict(np.ones((2, 2), np.float32), verbose=0)
    assert RecordsThreads.seen == [1]
    assert config.set_num_threads(3) is None  # the default was in force
    assert config.set_num_threads(None) == 3  # and back to it
    assert config.get_blas_threads() == 1


def test_bad_counts_are_refused():
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="positive integer"):
            config.set_num_threads(bad)


def test_the_environment_sets_the_count_and_a_bad_value_names_itself():
    code = "import rnnkit.config as c; print(c.get_num_threads(), c.get_blas_threads())"
    env = dict(os.environ, RNNKIT_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "2 2", done.stderr
    env["RNNKIT_NUM_THREADS"] = "many"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "RNNKIT_NUM_THREADS must be a positive integer; got 'many'" in done.stderr
