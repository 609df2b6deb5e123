"""stream_batches: row b of batch i+1 continues row b of batch i, element by element, through fit itself; a
stateful model over the streams computes what one long unrolled sequence computes, and its first-chunk gradient
is the long sequence's gradient of the first chunk's loss (truncated BPTT)."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import losses
from rnnkit.errors import ConfigError, DataError
from rnnkit.layers import GRU, LSTM, Dense, Embedding, Layer
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed
from rnnkit.text import ResetStatesEachEpoch, stream_batches


@pytest.mark.parametrize("n, batch, steps", [(1000, 7, 13), (101, 4, 25), (64, 1, 9), (50, 3, 1)])
def test_rows_continue_element_by_element(n, batch, steps):
    ids = np.arange(n)  # every id is its own position, so each element says where it came from
    x, y = stream_batches(ids, batch, steps)
    per_stream = (n - 1) // batch
    count = len(x) // batch
    assert count == per_stream // steps and x.shape == y.shape == (count * batch, steps)
    for i in range(count):
        for b in range(batch):
            row = x[i * batch + b]
            for t in range(steps):
                assert row[t] == ids[b * per_stream + i * steps + t]
                assert y[i * batch + b, t] == ids[b * per_stream + i * steps + t + 1]  # the next id
            if i + 1 < count:
                assert x[(i + 1) * batch + b, 0] == row[-1] + 1  # batch i+1 continues batch i in row b
                assert y[i * batch + b, -1] == x[(i + 1) * batch + b, 0]


class Recorder(Layer):
    """Passes its input on and remembers every batch fit gives it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x):
        self.seen.append(np.asarray(x.data).copy())
        return x


def test_fit_without_shuffle_feeds_the_streams_in_order():
    ids = np.random.default_rng(0).integers(0, 6, size=300)
    x, y = stream_batches(ids, 5, 8)
    recorder = Recorder()
    model = Sequential([recorder, Embedding(6, 3), LSTM(4, return_sequences=True, stateful=True),
                        Dense(6, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=5, shuffle=False, epochs=2, verbose=0, callbacks=[ResetStatesEachEpoch()])
    seen = np.concatenate(recorder.seen[len(recorder.seen) // 2:])  # the second epoch
    np.testing.assert_array_equal(seen, x)
    stream = np.concatenate([b[1] for b in recorder.seen[:len(recorder.seen) // 2]])  # row 1 of every batch
    per_stream = (len(ids) - 1) // 5
    np.testing.assert_array_equal(stream, ids[per_stream:per_stream + len(stream)])


def _model(cell, stateful, vocab=7, seed=5):
    set_random_seed(seed)
    return Sequential([Embedding(vocab, 4, dtype="float64"),
                       cell(6, return_sequences=True, stateful=stateful, dtype="float64"),
                       Dense(vocab, activation="softmax", dtype="float64")])


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_stateful_streams_equal_one_long_unrolled_sequence(cell):
    vocab, batch, steps, chunks = 7, 3, 5, 4
    ids = np.random.default_rng(1).integers(0, vocab, size=batch * steps * chunks + 1)
    x, y = stream_batches(ids, batch, steps)
    stateful, long = _model(cell, True), _model(cell, False)
    stateful(x[:batch])
    long(x[:batch])
    long.set_weights(stateful.get_weights())
    stateful.reset_states()
    loss = losses.get("sparse_categorical_crossentropy")

    # forward: the chunks, one batch after another, are the long rows read in one call
    rows_x = np.concatenate([x[i * batch:(i + 1) * batch] for i in range(chunks)], axis=1)  # (B, chunks*T)
    whole = long(rows_x).numpy()
    pieces = [stateful(x[i * batch:(i + 1) * batch]).numpy() for i in range(chunks)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, rtol=1e-10, atol=1e-12)

    # gradient of the first chunk's loss: stateful training step == long sequence with the loss on chunk 0 only
    stateful.reset_states()
    stateful.zero_grad()
    loss(y[:batch], stateful(x[:batch], training=True)).backward()
    grads_stream = [w.grad.copy() for w in stateful.trainable_weights]
    long.zero_grad()
    out = long(rows_x, training=True)  # (B, chunks*T, vocab)
    first = out[:, :steps]  # the first chunk's outputs
    loss(y[:batch], first).backward()
    for a, b in zip(grads_stream, [w.grad for w in long.trainable_weights]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # and the gradient of a later chunk stops at its first step: it equals a fresh run from the carried states
    carried = [s.data.copy() for s in stateful.layers[1].states]
    stateful.zero_grad()
    loss(y[batch:2 * batch], stateful(x[batch:2 * batch], training=True)).backward()
    fresh = _model(cell, False)
    fresh(x[:batch])
    fresh.set_weights(long.get_weights())
    fresh.zero_grad()
    hidden = fresh.layers[1](fresh.layers[0](x[batch:2 * batch]), initial_state=carried, training=True)
    loss(y[batch:2 * batch], fresh.layers[2](hidden)).backward()
    for a, b in zip(stateful.trainable_weights, fresh.trainable_weights):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)


def test_errors_say_what_is_needed():
    with pytest.raises(DataError, match=r"too few for one batch of 4 streams of 10 steps \(at least 41"):
        stream_batches(np.arange(40), 4, 10)
    with pytest.raises(DataError, match="1-D sequence of integer ids"):
        stream_batches(np.zeros((3, 4), dtype=int), 1, 2)
    with pytest.raises(ConfigError, match="seq_len must be a positive integer"):
        stream_batches(np.arange(40), 2, 0)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_stream_evaluate_is_the_loss_of_the_whole_sequence_read_in_order(batch_size):
    from rnnkit.text import stream_evaluate

    vocab = 7
    model = _model(LSTM, False, vocab)
    ids = np.random.default_rng(2).integers(0, vocab, size=103)
    model.build((None, 10))
    streams = np.array_split(ids, [35, 70]) if batch_size == 3 else [ids]  # ceil(103 / 3) = 35 per stream
    losses_, count = [], 0
    for stream in streams:
        p = model.predict(stream[None, :-1], verbose=0)[0]  # (T, V): the whole stream in one call
        losses_.append(-np.log(p[np.arange(len(stream) - 1), stream[1:]]))
        count += len(stream) - 1
    expected = np.concatenate(losses_).mean()
    loss, n = stream_evaluate(model, ids, batch_size=batch_size, chunk=8)
    assert n == count
    np.testing.assert_allclose(loss, expected, rtol=1e-10)
