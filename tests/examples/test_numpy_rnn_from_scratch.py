"""examples/numpy_rnn_from_scratch.py: its BPTT gradients equal rnnkit's SimpleRNN + Dense on identical weights."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from rnnkit import Tensor
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "numpy_rnn_from_scratch.py"


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(str(EXAMPLE), run_name="example")


def rnnkit_gradients(rnn, inputs, targets):
    """The same network in rnnkit (Keras layout: kernels transposed), the same loss, float64."""
    model = Sequential([SimpleRNN(rnn.hidden_size, return_sequences=True, dtype="float64"),
                        Dense(rnn.output_size, dtype="float64")])
    x = np.stack([v[:, 0] for v in inputs])[None]  # (1, T, D)
    y = np.stack([v[:, 0] for v in targets])[None]  # (1, T, O)
    model(x)
    model.set_weights([rnn.Wxh.T, rnn.Whh.T, rnn.bh[:, 0], rnn.Why.T, rnn.by[:, 0]])
    out = model(x)
    difference = out - Tensor(y, dtype="float64")
    loss = (difference * difference).sum() * 0.5
    loss.backward()
    kernel, recurrent, bias, dense_kernel, dense_bias = [w.grad for w in model.trainable_weights]
    grads = {"Wxh": kernel.T, "Whh": recurrent.T, "bh": bias[:, None], "Why": dense_kernel.T, "by": dense_bias[:, None]}
    return float(loss.data), out.data[0], grads


@pytest.mark.parametrize("sizes", [(3, 5, 2), (2, 4, 4)])  # (4, 4): outputs and hidden states of one size
def test_gradients_equal_rnnkit_simple_rnn(example, sizes):
    rng = np.random.default_rng(sum(sizes))
    D, H, K = sizes  # input, hidden, output sizes
    rnn = example["RNN"](D, H, K, rng=rng)
    for name in ("Wxh", "Whh", "Why", "bh", "by"):  # larger weights than the 0.01 start: a harder check
        setattr(rnn, name, rng.normal(scale=0.5, size=getattr(rnn, name).shape))
    inputs = [rng.normal(size=(D, 1)) for _ in range(7)]
    targets = [rng.normal(size=(K, 1)) for _ in range(7)]
    outputs = rnn.forward(inputs)
    loss, out, expected = rnnkit_gradients(rnn, inputs, targets)
    np.testing.assert_allclose(np.hstack(outputs).T, out, rtol=1e-12, atol=1e-12)
    assert rnn.loss(outputs, targets) == pytest.approx(loss, rel=1e-12)
    before = {name: getattr(rnn, name).copy() for name in expected}
    grads = rnn.backward(inputs, outputs, targets, learning_rate=0.1)
    for name, grad in expected.items():
        np.testing.assert_allclose(grads[name], grad, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(getattr(rnn, name), before[name] - 0.1 * grad, rtol=1e-12, err_msg=name)
    if H == K:  # the seed's mistake (outputs where the hidden states belong) gives other gradients
        rnn_seed = example["RNN"](D, H, K)
        for name in before:
            setattr(rnn_seed, name, before[name].copy())
        rnn_seed.forward(inputs)
        rnn_seed.hs = [outputs[-1]] + list(outputs)  # what the seed read: y_t for h_t, outputs[-1] at t = 0
        wrong = rnn_seed.backward(inputs, outputs, targets, learning_rate=0.0)
        assert not np.allclose(wrong["Whh"], expected["Whh"], rtol=1e-3)


def test_example_trains(example, capsys):
    losses = example["main"](epochs=4, steps=10, hidden_size=8)
    assert losses[-1] < 0.5 * losses[0]
    assert "loss per sequence" in capsys.readouterr().out
