"""rnnkit.utils.gradient_check passes on built-in layers and catches a custom layer's wrong backward pass."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.autograd import make
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.layers.base import Layer
from rnnkit.models import Input, Model, Sequential
from rnnkit.random import set_random_seed
from rnnkit.utils import gradient_check


class Cube(Layer):
    """``y = w * x**3`` with a hand-written backward; ``wrong=True`` forgets the 3 in ``dy/dx``."""

    def __init__(self, wrong=False, **kwargs):
        super().__init__(**kwargs)
        self.wrong = wrong

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), "ones")

    def call(self, x):
        w, factor = self.w, 1.0 if self.wrong else 3.0

        def backward(g):
            return g * factor * w.data * x.data ** 2, (g * x.data ** 3).reshape(-1, w.shape[0]).sum(axis=0)

        return make("cube", w.data * x.data ** 3, [x, w], backward)


def check(model, x, y, **kwargs):
    set_random_seed(0)
    return gradient_check(model, x, y, **kwargs)


def test_built_in_recurrent_layers_pass():
    set_random_seed(1)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 9, size=(4, 6))
    ids[1, 4:] = 0  # padding, masked
    model = Sequential([Embedding(9, 4, mask_zero=True), Bidirectional(GRU(3, return_sequences=True)),
                        LSTM(3, return_sequences=True), SimpleRNN(2), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    report = check(model, ids, rng.integers(0, 3, size=4))
    assert report.passed, str(report)
    assert len(report.rows) == 15 and not model.built  # the copy was built, not the model
    assert max(r.relative_error for r in report.rows) < 1e-6, str(report)
    assert all(r.checked == min(8, int(np.prod(r.shape))) for r in report.rows)


def test_model_is_not_changed_and_float32_model_is_checked_in_float64():
    rng = np.random.default_rng(1)
    model = Sequential([LSTM(4), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(3, 5, 2)).astype(np.float32), rng.normal(size=(3, 1)).astype(np.float32)
    model(x)
    before = [w.copy() for w in model.get_weights()]
    report = check(model, x, y, samples=20)
    assert report.passed and max(r.relative_error for r in report.rows) < 1e-6, str(report)  # float32: ~1e-2
    assert all(w.dtype == np.float32 for w in model.get_weights())
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_custom_layer_right_backward_passes_and_wrong_backward_fails():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    inputs = Input((3,))
    for wrong in (False, True):
        set_random_seed(0)
        model = Model(inputs, Dense(2)(Cube(wrong=wrong, name=f"cube_{wrong}")(Dense(3)(inputs))))
        model.compile(optimizer="sgd", loss="mse")
        report = check(model, x, y)
        rows = {r.weight.split("/")[0]: r for r in report.rows}
        if not wrong:
            assert report.passed, str(report)
            continue
        assert not report.passed and "FAILED" in str(report) and "NO" in str(report)
        failed = {r.weight.split("/")[0] for r in report.failures}
        assert any(name.startswith("dense") for name in failed)  # the weights before the wrong layer
        assert rows["cube_True"].ok  # its own weight's gradient is right
        assert max(r.relative_error for r in report.failures) > 0.1


def test_errors():
    model = Sequential([Dense(1)])
    with pytest.raises(Exception, match="needs a loss"):
        gradient_check(model, np.ones((2, 2)), np.ones((2, 1)))
    with pytest.raises(Exception, match="samples"):
        gradient_check(model, np.ones((2, 2)), np.ones((2, 1)), loss="mse", samples=0)
