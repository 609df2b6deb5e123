"""The Keras <-> PyTorch weight mapping (rnnkit.interop.pytorch): round trips, known gate positions, errors."""
import numpy as np
import pytest
from helpers.torch_ref import require_torch

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.interop import keras_to_torch, torch_to_keras

SHAPES = {"simple_rnn": (1, (5,)), "lstm": (4, (20,)), "gru": (3, (2, 15))}


@pytest.mark.parametrize("kind", list(SHAPES))
def test_round_trip(kind):
    G, bias_shape = SHAPES[kind]
    rng = np.random.default_rng(0)
    kernel, rec = rng.standard_normal((3, G * 5)), rng.standard_normal((5, G * 5))
    bias = rng.standard_normal(bias_shape)
    k, u, b = torch_to_keras(kind, **keras_to_torch(kind, kernel, rec, bias))
    np.testing.assert_array_equal(k, kernel)
    np.testing.assert_array_equal(u, rec)
    np.testing.assert_array_equal(b, bias)
    assert torch_to_keras(kind, **keras_to_torch(kind, kernel, rec, None))[2] is None


def test_gru_gate_blocks_are_swapped_and_biases_split():
    H = 2
    kernel = np.concatenate([np.full((1, H), 1.0), np.full((1, H), 2.0), np.full((1, H), 3.0)], axis=1)  # z, r, h
    bias = np.array([[1.0, 1, 2, 2, 3, 3], [10, 10, 20, 20, 30, 30]])
    p = keras_to_torch("gru", kernel, np.zeros((H, 3 * H)), bias)
    np.testing.assert_array_equal(p["weight_ih"][:, 0], [2, 2, 1, 1, 3, 3])  # r, z, n
    np.testing.assert_array_equal(p["bias_ih"], [2, 2, 1, 1, 3, 3])
    np.testing.assert_array_equal(p["bias_hh"], [20, 20, 10, 10, 30, 30])


def test_single_bias_goes_to_bias_ih_and_comes_back_summed():
    p = keras_to_torch("lstm", np.zeros((2, 4)), np.zeros((1, 4)), np.arange(4.0))
    np.testing.assert_array_equal(p["bias_ih"], np.arange(4.0))
    np.testing.assert_array_equal(p["bias_hh"], np.zeros(4))
    _, _, b = torch_to_keras("lstm", p["weight_ih"], p["weight_hh"], np.ones(4), np.full(4, 2.0))
    np.testing.assert_array_equal(b, np.full(4, 3.0))


def test_errors():
    with pytest.raises(ConfigError, match="unknown recurrent kind 'rnn'"):
        keras_to_torch("rnn", np.zeros((2, 3)), np.zeros((3, 3)), None)
    with pytest.raises(ConfigError, match="reset_after=False has no PyTorch equivalent"):
        keras_to_torch("gru", np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9), reset_after=False)
    with pytest.raises(ShapeError, match=r"expected kernel \(input_dim, 4 \* units\)"):
        keras_to_torch("lstm", np.zeros((2, 9)), np.zeros((3, 12)), None)


@pytest.mark.parametrize("kind", list(SHAPES))
def test_shapes_fit_torch_modules(kind):
    torch = require_torch()
    G, bias_shape = SHAPES[kind]
    module = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](3, 5)
    p = keras_to_torch(kind, np.zeros((3, G * 5)), np.zeros((5, G * 5)), np.zeros(bias_shape))
    for name, value in p.items():
        assert tuple(getattr(module, name + "_l0").shape) == value.shape
