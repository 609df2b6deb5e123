"""Bidirectional: harness checks, merge modes, states, initial states, masks, naming, config, gradients."""
import numpy as np
import pytest

from layer_harness import check_layer, check_param_gradients, leaf, randomize_weights, right_padded_mask
from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN, deserialize, serialize

MERGES = {"concat": lambda a, b: np.concatenate([a, b], -1), "sum": np.add, "mul": np.multiply,
          "ave": lambda a, b: (a + b) / 2}


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_harness(merge_mode):
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    width = 8 if merge_mode == "concat" else 4
    shapes = [(2, 5, width)] if merge_mode else [(2, 5, 4), (2, 5, 4)]
    states = [(2, 4)] * 4
    lstm_weights = [(3, 16), (4, 16), (16,)] * 2
    check_layer(lambda: Bidirectional(LSTM(4, return_sequences=True, return_state=True), merge_mode=merge_mode), x,
                output_shapes=shapes + states, weight_shapes=lstm_weights)
    check_layer(lambda: Bidirectional(GRU(4), merge_mode=merge_mode), x,
                output_shapes=[(2, width)] if merge_mode else [(2, 4), (2, 4)],
                weight_shapes=[(3, 12), (4, 12), (2, 12)] * 2)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_merge_equals_forward_and_reversed_backward(merge_mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 2))
    mask = right_padded_mask([6, 2, 4], 6)
    layer = Bidirectional(SimpleRNN(3, return_sequences=True, dtype="float64"), merge_mode=merge_mode)
    out = layer(x, mask=mask).numpy()
    forward = layer.forward_layer(x, mask=mask).numpy()
    backward = layer.backward_layer(x, mask=mask).numpy()[:, ::-1]
    np.testing.assert_allclose(out, MERGES[merge_mode](forward, backward), rtol=1e-13)
    # the backward direction reads each row's valid steps only: same as running it on the trimmed row
    for b, n in enumerate([6, 2, 4]):
        alone = layer.backward_layer(x[b:b + 1, :n]).numpy()[0, ::-1]
        np.testing.assert_allclose(backward[b, :n], alone, rtol=1e-12)
        np.testing.assert_array_equal(backward[b, n:], 0.0)


def test_names_weights_order_and_config_round_trip():
    inner = LSTM(3, return_sequences=True, name="enc", go_backwards=False)
    layer = Bidirectional(inner)
    assert layer.name.startswith("bidirectional")
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("forward_enc", "backward_enc")
    assert not layer.forward_layer.go_backwards and layer.backward_layer.go_backwards
    layer(np.ones((1, 2, 5)))
    names = [w.name for w in layer.weights]
    assert names == [f"{d}_enc/lstm_cell/{n}" for d in ("forward", "backward")
                     for n in ("kernel", "recurrent_kernel", "bias")]
    spec = serialize(layer)
    assert spec["config"]["layer"]["class_name"] == "LSTM" and spec["config"]["layer"]["config"]["units"] == 3
    clone = deserialize(spec)
    assert clone.get_config() == layer.get_config() and clone.backward_layer.go_backwards
    assert layer.trainable_weights == layer.weights


def test_stacked_bidirectional_passes_mask_and_return_state_last_output():
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    mask = right_padded_mask([4, 2], 4)
    first = Bidirectional(GRU(2, return_sequences=True, dtype="float64"))
    second = Bidirectional(GRU(2, return_state=True, dtype="float64"), merge_mode="sum")
    hidden = first(x, mask=mask)
    np.testing.assert_array_equal(hidden._keras_mask, mask)
    out, h_f, h_b = second(hidden)  # mask taken from the Tensor
    np.testing.assert_allclose(out.numpy(), h_f.numpy() + h_b.numpy(), rtol=1e-13)
    _, h_trimmed = second.forward_layer(hidden.numpy()[1:, :2])  # row 1 alone, its 2 valid steps
    np.testing.assert_allclose(h_f.numpy()[1:], h_trimmed.numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls,merge_mode,padded,initial",
                         [(LSTM, "concat", True, True), (GRU, "ave", True, False), (SimpleRNN, "mul", False, True),
                          (GRU, "sum", False, False), (LSTM, None, True, False)])
def test_gradients(cls, merge_mode, padded, initial):
    rng = np.random.default_rng(3)
    batch, steps = 2, 4
    layer = Bidirectional(cls(2, return_sequences=True, return_state=True, dtype="float64"), merge_mode=merge_mode)
    x = leaf(rng.standard_normal((batch, steps, 2)))
    kwargs = {"mask": right_padded_mask([4, 1], steps)} if padded else {}
    params = [x]
    if initial:
        n = 4 if cls is LSTM else 2
        kwargs["initial_state"] = [leaf(rng.standard_normal((batch, 2))) for _ in range(n)]
        params += kwargs["initial_state"]
    layer(x, **kwargs)
    randomize_weights(layer, seed=4)
    check_param_gradients(lambda: layer(x, **kwargs), params + layer.weights)


def test_initial_state_split_forward_then_backward():
    layer = Bidirectional(SimpleRNN(1, activation=None, use_bias=False, kernel_initializer="ones",
                                    recurrent_initializer="ones", return_state=True, dtype="float64"))
    x = np.array([[[1.0], [2.0]]])
    out, h_f, h_b = layer(x, initial_state=[np.array([[10.0]]), np.array([[100.0]])])
    assert (h_f.item(), h_b.item()) == (13.0, 103.0)
    np.testing.assert_array_equal(out.numpy(), [[13.0, 103.0]])
