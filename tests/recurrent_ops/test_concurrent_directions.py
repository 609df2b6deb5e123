"""Independent recurrent loops at once (rnnkit.threads.run_pair): the two directions of a Bidirectional layer in
the forward pass, and any two recurrent ops whose backward passes are ready together on the tape (autograd).

With two threads the results must equal the one-thread results to the bit, run to run, and the work must really
have run in two threads; the tape's order must not depend on the thread count."""
import threading

import numpy as np
import pytest

import rnnkit
from rnnkit import Tensor, config, layers, threads
from rnnkit.ops.recurrent import paths

RNN_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}


@pytest.fixture
def thread_count():
    previous = config.set_num_threads(None)
    yield config.set_num_threads
    config.set_num_threads(previous)


@pytest.fixture
def loop_threads(monkeypatch):
    """The names of the threads every recurrent time loop ran in."""
    names = []
    original = paths.run

    def recording(*args, **kwargs):
        names.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(paths, "run", recording)
    return names


def _bidirectional_model(kind, merge_mode, dtype, return_sequences=True):
    rnnkit.utils.set_random_seed(5)
    inputs = rnnkit.Input((9, 4), dtype=dtype)
    masked = layers.Masking(0.0, dtype=dtype)(inputs)
    outputs = layers.Bidirectional(RNN_LAYERS[kind](6, return_sequences=return_sequences, dtype=dtype),
                                   merge_mode=merge_mode, dtype=dtype)(masked)
    return rnnkit.Model(inputs, outputs)


def _forward_backward(model, x, dtype):
    weights = model.trainable_weights
    for w in weights:
        w.grad = None
    x = Tensor(x, requires_grad=True, dtype=dtype)
    y = model(x, training=True)
    y = y if isinstance(y, list) else [y]
    rng = np.random.default_rng(3)
    loss = sum((part * Tensor(rng.standard_normal(part.shape), dtype=dtype)).sum() for part in y)
    loss.backward()
    return [part.data.copy() for part in y] + [x.grad.copy()] + [w.grad.copy() for w in weights]


def _inputs(dtype):
    x = np.random.default_rng(4).standard_normal((5, 9, 4)).astype(dtype)
    x[0, 6:] = 0.0  # padded at the end
    x[1, :2] = 0.0  # padded at the front
    return x


@pytest.mark.parametrize("kind", sorted(RNN_LAYERS))
@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_threads_give_the_one_thread_results_to_the_bit(kind, merge_mode, dtype, thread_count, loop_threads):
    thread_count(1)
    model = _bidirectional_model(kind, merge_mode, dtype)
    x = _inputs(dtype)
    single = _forward_backward(model, x, dtype)
    assert not any(name.startswith("rnnkit-pair") for name in loop_threads)
    loop_threads.clear()
    thread_count(2)
    for _ in range(2):  # and the same again: deterministic run to run
        both = _forward_backward(model, x, dtype)
        assert len(both) == len(single)
        for got, want in zip(both, single):
            np.testing.assert_array_equal(got, want)
    # each run: 2 forward loops + 2 backward loops, one of each in the pair's worker thread
    assert sum(name.startswith("rnnkit-pair") for name in loop_threads) == 4
    assert sum(not name.startswith("rnnkit-pair") for name in loop_threads) == 4


def test_predict_runs_the_directions_at_once(thread_count, loop_threads):
    thread_count(1)
    model = _bidirectional_model("lstm", "concat", "float32", return_sequences=False)
    x = _inputs("float32")
    single = model.predict(x, verbose=0)
    loop_threads.clear()
    thread_count(2)
    np.testing.assert_array_equal(model.predict(x, verbose=0), single)
    assert sum(name.startswith("rnnkit-pair") for name in loop_threads) == 1


def test_two_independent_recurrent_branches_run_their_backward_passes_at_once(thread_count, loop_threads):
    thread_count(1)
    rnnkit.utils.set_random_seed(6)
    inputs = rnnkit.Input((7, 3))
    left = layers.LSTM(5)(inputs)
    right = layers.GRU(4)(layers.Dense(3)(inputs))  # a cheap op between: it runs first, then both are ready
    model = rnnkit.Model(inputs, layers.Concatenate()([left, right]))
    x = np.random.default_rng(7).standard_normal((6, 7, 3)).astype("float32")
    single = _forward_backward(model, x, "float32")
    loop_threads.clear()
    thread_count(2)
    for got, want in zip(_forward_backward(model, x, "float32"), single):
        np.testing.assert_array_equal(got, want)
    # forward: the branches are separate layers, one after the other; backward: the two loops at once
    assert [name.startswith("rnnkit-pair") for name in loop_threads].count(True) == 1


def test_run_pair_shares_the_threads_and_runs_single_threaded_blas(thread_count):
    thread_count(4)
    seen = {}

    def look(name):
        seen[name] = (threads.threads_here(), threads._GET() if threads._SET else 1, threading.current_thread().name)
        return name

    assert threads.run_pair(lambda: look("first"), lambda: look("second")) == ("first", "second")
    assert seen["first"][:2] == (2, 1) and seen["second"][:2] == (2, 1)
    assert seen["second"][2].startswith("rnnkit-pair") and not seen["first"][2].startswith("rnnkit-pair")
    assert threads.threads_here() == 4
    thread_count(1)
    assert threads.run_pair(lambda: look("first"), lambda: look("second")) == ("first", "second")
    assert not seen["second"][2].startswith("rnnkit-pair")  # one thread: one after the other, in the caller


def test_run_pair_raises_an_error_after_both_halves_finished(thread_count):
    thread_count(2)
    finished = threading.Event()

    def slow_second():
        finished.wait(0.2)
        finished.set()
        return 2

    def failing_first():
        raise ValueError("first failed")

    with pytest.raises(ValueError, match="first failed"):
        threads.run_pair(failing_first, slow_second)
    assert finished.is_set()

    def failing_second():
        raise KeyError("second failed")

    with pytest.raises(KeyError, match="second failed"):
        threads.run_pair(lambda: 1, failing_second)
