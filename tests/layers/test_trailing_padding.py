"""Recurrent layers skip the trailing steps that are padding in every sequence of a batch: outputs, final states
and gradients equal those of the same sequences run beside one full-length sequence (where nothing is trimmed)."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import Tensor
from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN
from rnnkit.layers.recurrent import trim_padding
from rnnkit.random import set_random_seed


def run(layer, x, mask):
    inputs = Tensor(x, requires_grad=True, dtype="float64")
    outputs = layer(inputs, mask=mask)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    # fixed weights per element; the first rows get the same ones whatever the batch size (batch axis first)
    total = sum((o * Tensor(np.cos(np.arange(o.size)).reshape(o.shape), dtype="float64")).sum() for o in outputs)
    total.backward()
    return [o.numpy() for o in outputs], inputs.grad


@pytest.mark.parametrize("make", [
    lambda: GRU(3, return_sequences=True, return_state=True, dtype="float64"),
    lambda: LSTM(3, return_sequences=True, return_state=True, go_backwards=True, dtype="float64"),
    lambda: SimpleRNN(3, return_sequences=False, dtype="float64"),
    lambda: Bidirectional(GRU(3, return_sequences=True, return_state=True, dtype="float64"), dtype="float64"),
])
def test_trimmed_batch_equals_untrimmed(make):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7, 2))
    mask = np.array([[1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]],
                    dtype=bool)
    assert trim_padding(Tensor(x), mask)[2] == 3
    set_random_seed(0)
    layer = make()
    trimmed_out, trimmed_grad = run(layer, x, mask)
    full_x = np.concatenate([x, rng.normal(size=(1, 7, 2))])
    full_mask = np.concatenate([mask, np.ones((1, 7), bool)])
    assert trim_padding(Tensor(full_x), full_mask)[2] == 0
    full_out, full_grad = run(layer, full_x, full_mask)
    for a, b in zip(trimmed_out, full_out):
        assert a.shape[1:] == b.shape[1:]
        np.testing.assert_allclose(a, b[:4], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trimmed_grad, full_grad[:4], rtol=1e-12, atol=1e-14)
    assert np.all(trimmed_grad[:, 4:] == 0)
