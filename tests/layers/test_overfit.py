"""Each recurrent layer type (and Bidirectional, and Embedding with mask_zero) fits a small sequence task to
100% training accuracy: the label depends on every valid step, so the recurrent path must learn."""
import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.ops import softmax_cross_entropy
from rnnkit.random import set_random_seed

try:  # the project's optimizer when present; a few lines of Adam otherwise
    from rnnkit.optimizers import Adam
except ImportError:  # pragma: no cover
    Adam = None


def _adam_steps(params, lr):
    if Adam is not None:
        optimizer = Adam(learning_rate=lr)
        return lambda: optimizer.apply([p.grad for p in params], params)
    moments = [[np.zeros_like(p.data), np.zeros_like(p.data)] for p in params]
    count = [0]

    def step():
        count[0] += 1
        for p, (m, v) in zip(params, moments):
            m[...] = 0.9 * m + 0.1 * p.grad
            v[...] = 0.999 * v + 0.001 * p.grad ** 2
            p.data -= lr * (m / (1 - 0.9 ** count[0])) / (np.sqrt(v / (1 - 0.999 ** count[0])) + 1e-7)
    return step


def _fit(layers, x, y, mask=None, lr=0.03, max_steps=300):
    def logits():
        h = layers[0](x, mask=mask) if mask is not None else layers[0](x)
        for layer in layers[1:]:
            h = layer(h)
        return h

    logits()  # build
    params = [w for layer in layers for w in layer.trainable_weights]
    step = _adam_steps(params, lr)
    for i in range(max_steps):
        out = logits()
        if (out.numpy().argmax(-1) == y).all():
            return i
        for p in params:
            p.grad = None
        softmax_cross_entropy(out, y).mean().backward()
        step()
    raise AssertionError(f"no 100% training accuracy after {max_steps} steps; accuracy "
                         f"{(logits().numpy().argmax(-1) == y).mean():.2f}")


def _task(seed=0, batch=32, steps=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, 2))
    y = (x[:, :, 0].sum(1) > 0).astype(np.int64)  # sign of the sum over all steps
    return x, y


@pytest.mark.parametrize("make", [lambda: SimpleRNN(8), lambda: LSTM(8), lambda: GRU(8),
                                  lambda: GRU(8, reset_after=False), lambda: Bidirectional(LSTM(6))],
                         ids=["simple_rnn", "lstm", "gru", "gru_reset_before", "bidirectional_lstm"])
def test_overfits_sequence_sum_sign(make):
    set_random_seed(0)
    x, y = _task()
    _fit([make(), Dense(2)], x, y)


def test_embedding_mask_zero_lstm_overfits_padded_tokens():
    set_random_seed(1)
    rng = np.random.default_rng(1)
    lengths = rng.integers(2, 9, size=32)
    ids = np.where(np.arange(8)[None, :] < lengths[:, None], rng.integers(1, 5, size=(32, 8)), 0)
    y = ((ids == 1).sum(1) > (ids == 2).sum(1)).astype(np.int64)  # more 1s than 2s among the real tokens
    _fit([Embedding(5, 4, mask_zero=True), LSTM(8), Dense(2)], ids, y)
