"""Hand-computed values with constant initialisers: go_backwards, return_state, masks, LSTM/GRU gates.

A linear SimpleRNN with unit kernels, ``h_t = x_t + h_{t-1}``, turns a sequence into running sums, which makes
the effect of every option visible by eye."""
import numpy as np

from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN


def running_sum(**kwargs):
    return SimpleRNN(1, activation=None, use_bias=False, kernel_initializer="ones", recurrent_initializer="ones",
                     dtype="float64", **kwargs)


X = np.array([[[1.0], [2.0], [3.0], [9.0]]])  # one sequence of 4 steps, 1 feature
MASK = np.array([[True, True, True, False]])  # the last step is padding


def test_running_sum_forward_and_backward():
    out, h = running_sum(return_sequences=True, return_state=True)(X)
    np.testing.assert_array_equal(out.numpy()[0, :, 0], [1, 3, 6, 15])
    np.testing.assert_array_equal(h.numpy(), [[15]])
    back, h_back = running_sum(return_sequences=True, return_state=True, go_backwards=True)(X)
    np.testing.assert_array_equal(back.numpy()[0, :, 0], [9, 12, 14, 15])  # processing (reversed) order, Keras
    np.testing.assert_array_equal(h_back.numpy(), [[15]])


def test_mask_carries_state_and_zeroes_outputs():
    out, h = running_sum(return_sequences=True, return_state=True)(X, mask=MASK)
    np.testing.assert_array_equal(out.numpy()[0, :, 0], [1, 3, 6, 0])
    np.testing.assert_array_equal(h.numpy(), [[6]])
    assert running_sum()(X, mask=MASK).numpy()[0, 0] == 6  # last output = carried state
    middle = np.array([[True, False, True, True]])
    np.testing.assert_array_equal(running_sum(return_sequences=True)(X, mask=middle).numpy()[0, :, 0], [1, 0, 4, 13])


def test_go_backwards_with_mask_skips_padding_first():
    back, h = running_sum(return_sequences=True, return_state=True, go_backwards=True)(X, mask=MASK)
    np.testing.assert_array_equal(back.numpy()[0, :, 0], [0, 3, 5, 6])  # pad, then 3, 3+2, 3+2+1
    np.testing.assert_array_equal(h.numpy(), [[6]])


def test_initial_state_is_the_starting_sum():
    out = running_sum(return_sequences=True)(X, initial_state=[np.array([[100.0]])], mask=MASK)
    np.testing.assert_array_equal(out.numpy()[0, :, 0], [101, 103, 106, 0])
    listed = running_sum()([X, np.array([[100.0]])])  # Keras' list form: [inputs, *initial_states]
    np.testing.assert_array_equal(listed.numpy(), [[115.0]])


def test_bidirectional_running_sums_and_states():
    layer = Bidirectional(running_sum(return_sequences=True, return_state=True), merge_mode="concat")
    out, h_forward, h_backward = layer(X, mask=MASK)
    np.testing.assert_array_equal(out.numpy()[0], [[1, 6], [3, 5], [6, 3], [0, 0]])  # backward re-reversed
    np.testing.assert_array_equal(h_forward.numpy(), [[6]])
    np.testing.assert_array_equal(h_backward.numpy(), [[6]])
    np.testing.assert_array_equal(out._keras_mask, MASK)
    summed = Bidirectional(running_sum(return_sequences=True), merge_mode="sum")(X, mask=MASK)
    np.testing.assert_array_equal(summed.numpy()[0, :, 0], [7, 8, 9, 0])
    last = Bidirectional(running_sum(), merge_mode="ave")(X, mask=MASK)
    np.testing.assert_array_equal(last.numpy(), [[6.0]])


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_lstm_one_step_by_hand():
    layer = LSTM(1, kernel_initializer="ones", recurrent_initializer="zeros", unit_forget_bias=False,
                 return_state=True, dtype="float64")
    out, h, c = layer(np.full((1, 1, 1), 0.5))
    c_expected = sigmoid(0.5) * np.tanh(0.5)  # c = f * 0 + i * g
    np.testing.assert_allclose(c.numpy(), [[c_expected]], rtol=1e-14)
    np.testing.assert_allclose(h.numpy(), [[sigmoid(0.5) * np.tanh(c_expected)]], rtol=1e-14)
    np.testing.assert_array_equal(out.numpy(), h.numpy())


def test_lstm_unit_forget_bias_and_gate_order():
    layer = LSTM(2, bias_initializer="zeros")
    layer(np.ones((1, 1, 3)))
    np.testing.assert_array_equal(layer.bias.numpy(), [0, 0, 1, 1, 0, 0, 0, 0])  # i, f, c, o: f starts at 1
    # forget gate fully open, input gate shut: the cell state is carried unchanged
    layer = LSTM(1, kernel_initializer="zeros", recurrent_initializer="zeros", return_state=True, dtype="float64")
    layer(np.ones((1, 1, 1)))
    layer.set_weights([np.zeros((1, 4)), np.zeros((1, 4)), np.array([-50.0, 50.0, 0.0, 50.0])])
    _, h, c = layer(np.ones((1, 3, 1)), initial_state=[np.zeros((1, 1)), np.full((1, 1), 0.7)])
    np.testing.assert_allclose(c.numpy(), [[0.7]], rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), [[np.tanh(0.7)]], rtol=1e-12)


def test_gru_one_step_by_hand_both_formulations():
    for reset_after in (True, False):
        layer = GRU(1, kernel_initializer="ones", recurrent_initializer="ones", reset_after=reset_after,
                    return_state=True, dtype="float64")
        h0 = np.array([[0.3]])
        _, h = layer(np.full((1, 1, 1), 0.5), initial_state=[h0])
        z = r = sigmoid(0.5 + 0.3)
        n = np.tanh(0.5 + r * 0.3)  # with zero bias both formulations agree: r * (h U) == (r * h) U for U = 1
        np.testing.assert_allclose(h.numpy(), [[z * 0.3 + (1 - z) * n]], rtol=1e-14)
