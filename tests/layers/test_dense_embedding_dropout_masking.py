"""Dense, Embedding, Dropout, Masking: harness checks, known values, gradients, mask propagation."""
import numpy as np
import pytest

from layer_harness import check_layer, check_param_gradients, leaf, randomize_weights
from rnnkit import Tensor
from rnnkit.errors import DataError
from rnnkit.layers import LSTM, Dense, Dropout, Embedding, Masking


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (1, 1, 3)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_harness(shape, use_bias):
    x = np.random.default_rng(0).standard_normal(shape)
    weights = [(3, 6), (6,)] if use_bias else [(3, 6)]
    check_layer(lambda: Dense(6, activation="tanh", use_bias=use_bias), x,
                output_shapes=[shape[:-1] + (6,)], weight_shapes=weights)


def test_dense_known_values_and_defaults():
    layer = Dense(2, kernel_initializer="ones", bias_initializer="ones", activation="relu")
    x = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, 1.0]])
    np.testing.assert_allclose(layer(x).numpy(), np.maximum(x.sum(1, keepdims=True) + 1, 0).repeat(2, 1))
    default = Dense(3)
    assert default.get_config()["kernel_initializer"] == "glorot_uniform"
    assert default.get_config()["activation"] == "linear" and default.name.startswith("dense")
    assert [w.name.split("/")[-1] for w in (layer.kernel, layer.bias)] == ["kernel", "bias"]


def test_dense_gradients_3d_and_mask_passes_through():
    rng = np.random.default_rng(1)
    layer = Dense(4, activation="sigmoid", dtype="float64")
    x = leaf(rng.standard_normal((2, 3, 5)))
    layer(x)
    randomize_weights(layer)
    check_param_gradients(lambda: layer(x), [x, *layer.weights])
    mask = np.array([[True, True, False], [True, False, False]])
    x.data[...] = 1.0
    assert layer(x, mask=mask)._keras_mask is mask


def test_embedding_harness_lookup_and_mask():
    ids = np.array([[1, 4, 0], [2, 0, 0]])
    layer = check_layer(lambda: Embedding(6, 3, mask_zero=True), ids,
                        output_shapes=[(2, 3, 3)], weight_shapes=[(6, 3)])
    out = layer(ids)
    np.testing.assert_array_equal(out.numpy(), layer.get_weights()[0][ids])
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    assert Embedding(6, 3)(ids)._keras_mask is None
    table = Embedding(100, 50)(np.array([[0]]))
    assert Embedding(100, 50).name.startswith("embedding")
    del table
    weights = Embedding(200, 40, embeddings_initializer="uniform")
    weights(np.array([[0]]))
    w = weights.get_weights()[0]
    assert -0.05 <= w.min() < -0.04 and 0.04 < w.max() <= 0.05  # Keras' RandomUniform(-0.05, 0.05)


def test_embedding_other_lengths_and_scatter_add_gradient():
    layer = Embedding(5, 2, dtype="float64")
    layer(np.array([[1, 2]]))
    layer(np.array([[1, 2, 3, 4]]))  # a different sequence length is fine
    ids = np.array([[1, 1, 3], [1, 0, 3]])  # repeated ids must accumulate
    check_param_gradients(lambda: layer(ids), layer.weights)


def test_embedding_rejects_bad_ids():
    layer = Embedding(5, 2)
    with pytest.raises(DataError, match=r"id 7 .*\[0, input_dim=5\)"):
        layer(np.array([[1, 7]]))
    with pytest.raises(DataError, match="integer ids"):
        layer(np.array([[1.5]]))


def test_dropout_identity_outside_training_and_scaling_inside():
    x = np.ones((200, 50))
    layer = check_layer(lambda: Dropout(0.3, seed=1), x, output_shapes=[(200, 50)], weight_shapes=[])
    np.testing.assert_array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    again = Dropout(0.3, seed=1)(x, training=True).numpy()
    np.testing.assert_array_equal(again, Dropout(0.3, seed=1)(x, training=True).numpy())  # seeded


def test_dropout_noise_shape_and_gradient():
    layer = Dropout(0.5, noise_shape=(None, 1, 4), seed=0, dtype="float64")
    x = leaf(np.random.default_rng(0).standard_normal((3, 6, 4)))
    y = layer(x, training=True)
    keep = (y.numpy() != 0)
    assert (keep == keep[:, :1, :]).all()  # same features dropped at every step
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(x.grad, keep * 2.0)


def test_masking_zeroes_masked_steps_and_masks_downstream():
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    x[0, 2:] = 0.0
    x[1, 3:] = 0.0
    layer = check_layer(lambda: Masking(), x, output_shapes=[(2, 4, 3)], weight_shapes=[])
    out = layer(x)
    np.testing.assert_array_equal(out._keras_mask, [[True, True, False, False], [True, True, True, False]])
    np.testing.assert_array_equal(out.numpy(), x.astype(np.float32))
    shifted = Masking(mask_value=1.0)(np.ones((1, 2, 3)) * [[[1.0], [2.0]]])
    np.testing.assert_array_equal(shifted.numpy()[0, 0], 0.0)

    lstm = LSTM(5, dtype="float64")
    masked = lstm(Masking(dtype="float64")(x)).numpy()
    truncated = [lstm(x[b:b + 1, :n]).numpy()[0] for b, n in enumerate([2, 3])]
    np.testing.assert_allclose(masked, np.stack(truncated), rtol=1e-12)


def test_embedding_mask_reaches_recurrent_layer_through_tensor():
    ids = np.array([[3, 1, 0, 0]])
    embed = Embedding(4, 2, mask_zero=True, dtype="float64")
    rnn = LSTM(3, return_sequences=True, dtype="float64")
    out = rnn(embed(ids)).numpy()
    np.testing.assert_array_equal(out[0, 2:], 0.0)  # masked steps output zeros
    assert isinstance(embed(ids), Tensor)


def test_masking_gradient_is_zero_on_masked_steps():
    # (finite differences cannot check the masked entries: moving them off mask_value unmasks them)
    x = leaf(np.random.default_rng(3).standard_normal((2, 3, 2)))
    x.data[0, 1] = 0.0
    g = np.random.default_rng(4).standard_normal((2, 3, 2))
    Masking(dtype="float64")(x).backward(g)
    keep = np.ones((2, 3, 1))
    keep[0, 1] = 0.0
    np.testing.assert_array_equal(x.grad, g * keep)
