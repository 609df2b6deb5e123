"""Truncated back-propagation through time over one long sequence: parallel streams for stateful models.

A character model learns from a text far longer than one training sequence. Cutting it into independent
windows throws away the context before each window; instead the text is split into ``batch_size`` equal
*streams* read side by side, and the model keeps its recurrent state from one window of a stream to the next::

    ids:     s0 s0 s0 s0 s0 s0 | s1 s1 s1 s1 s1 s1          (batch_size=2 streams of length 6)
    batch 0: row 0 = s0[0:3],  row 1 = s1[0:3]
    batch 1: row 0 = s0[3:6],  row 1 = s1[3:6]            row b of batch i+1 continues row b of batch i

``stream_batches(ids, batch_size, seq_len)`` returns ``(x, y)`` laid out so that ``fit(x, y,
batch_size=batch_size, shuffle=False)`` sees exactly these batches (``y`` is ``x`` shifted by one character:
the next-character targets). With ``stateful=True`` recurrent layers the final states of a batch are the
initial states of the next, detached from the graph (gradients stop at the window: truncated BPTT).
``ResetStatesEachEpoch`` sets the states to zeros at the start of every epoch and of every validation pass
(whose streams are not continuations of the training ones).

>>> import numpy as np
>>> from rnnkit.layers import Embedding, LSTM, Dense
>>> from rnnkit.models import Sequential
>>> ids = np.random.default_rng(0).integers(0, 5, size=400)
>>> x, y = stream_batches(ids, batch_size=4, seq_len=10)
>>> x.shape, y.shape                          # 9 batches of 4 rows
((36, 10), (36, 10))
>>> model = Sequential([Embedding(5, 8), LSTM(16, return_sequences=True, stateful=True),
...                     Dense(5, activation="softmax")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
>>> history = model.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0,
...                     callbacks=[ResetStatesEachEpoch()])
>>> len(history.history["loss"])
2
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import no_grad
from rnnkit.callbacks.base import Callback
from rnnkit.errors import ConfigError, DataError


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def stream_length(n_ids: int, batch_size: int, seq_len: int) -> int:
    """How many windows of ``seq_len`` each of the ``batch_size`` streams of ``n_ids`` ids gives (the number of
    batches per epoch)."""
    return max(0, (n_ids - 1) // batch_size) // seq_len


def stream_batches(ids, batch_size: int, seq_len: int) -> tuple:
    """``(x, y)`` of shape ``(steps * batch_size, seq_len)``: batch ``i`` (rows ``i*batch_size`` to
    ``(i+1)*batch_size - 1``) holds window ``i`` of every stream, and ``y[r, t]`` is the id after ``x[r, t]``.

    Args:
        ids: one long 1-D sequence of integer ids (a text's character ids).
        batch_size: the number of parallel streams (the batch size to train with).
        seq_len: the window length: how many steps gradients flow back through.

    Stream ``b`` is ``ids[b*n : (b+1)*n]`` with ``n = (len(ids) - 1) // batch_size``; the last
    ``n % seq_len`` ids of each stream are left out so every batch is full (a stateful model needs a fixed batch
    size). A ``DataError`` says so when ``ids`` is too short for one batch.
    """
    batch_size = _positive("batch_size", batch_size)
    seq_len = _positive("seq_len", seq_len)
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise DataError(f"stream_batches expects one 1-D sequence of integer ids; got shape {ids.shape}, dtype "
                        f"{ids.dtype}")
    steps = stream_length(len(ids), batch_size, seq_len)
    if steps == 0:
        raise DataError(f"{len(ids)} ids are too few for one batch of {batch_size} streams of {seq_len} steps "
                        f"(at least {batch_size * seq_len + 1} are needed): lower the batch size or the sequence "
                        "length")
    n = (len(ids) - 1) // batch_size  # each stream's length
    used = steps * seq_len
    streams_x = ids[:batch_size * n].reshape(batch_size, n)[:, :used]  # (B, steps*T)
    streams_y = ids[1:batch_size * n + 1].reshape(batch_size, n)[:, :used]  # (B, steps*T): the next ids

    def windows(streams):
        # (B, steps*T) -> (B, steps, T) -> (steps, B, T) -> (steps*B, T): batch i = window i of every stream
        return np.ascontiguousarray(streams.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)).reshape(
            steps * batch_size, seq_len)

    return windows(streams_x), windows(streams_y)


class ResetStatesEachEpoch(Callback):
    """Reset the states of every stateful recurrent layer at the start of each epoch and of each validation
    pass, for ``fit(..., shuffle=False)`` over ``stream_batches``.

    >>> ResetStatesEachEpoch().on_epoch_begin(0)  # without a model: nothing to reset
    """

    def on_epoch_begin(self, epoch, logs=None):
        if self.model is not None:
            self.model.reset_states()

    def on_test_begin(self, logs=None):
        if self.model is not None:
            self.model.reset_states()


def stepping_copy(model, batch_size: int = 1):
    """A copy of ``model`` (same weights) whose recurrent layers are stateful with batch ``batch_size``, states
    at zero: feeding it a text in pieces equals feeding it the whole text at once."""
    from rnnkit.layers.registry import deserialize, serialize

    if not model.built:
        raise ConfigError(f"model {model.name!r} is not built: train it, or call model.build((None, 1)) first")
    spec = serialize(model)
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "stateful" in item:
                if item.get("go_backwards"):
                    raise ConfigError("a model with a backward-reading recurrent layer cannot be run step by step")
                item["stateful"] = True
                if item.get("batch_input_shape"):
                    item["batch_input_shape"][0] = batch_size
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    copy = deserialize(spec)
    with no_grad():
        copy(np.zeros((batch_size, 1), dtype=np.int64))
    copy.set_weights(model.get_weights())
    copy.reset_states()
    return copy


def _log_probabilities(out) -> np.ndarray:
    """``log p`` of a model output ``(B, T, V)`` in float64, exact from the softmax's logits when available."""
    logits = getattr(out, "_softmax_logits", None)
    if logits is None:
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(out.data, dtype=np.float64))
    z = np.asarray(logits.data, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def stream_evaluate(model, ids, batch_size: int = 1, chunk: int = 1000) -> tuple:
    """``(mean loss in nats per predicted id, number predicted)`` of ``model`` over ``ids`` read in order.

    The ids are cut into ``batch_size`` consecutive streams (one stream: the whole sequence, exactly as a
    reader goes through it; more streams are faster, each starting from zero states) and fed ``chunk`` steps at
    a time to a stateful copy of the model, so every id after the first of its stream is predicted from all of
    its stream before it. The model maps ``(B, T)`` ids to ``(B, T, V)`` next-id probabilities.

    >>> from rnnkit.layers import Dense, Embedding, GRU
    >>> from rnnkit.models import Sequential
    >>> model = Sequential([Embedding(4, 3), GRU(5, return_sequences=True), Dense(4, activation="softmax")])
    >>> model.build((None, 10))
    >>> ids = np.random.default_rng(0).integers(0, 4, size=50)
    >>> loss, count = stream_evaluate(model, ids, chunk=7)
    >>> count, bool(np.isclose(loss, stream_evaluate(model, ids, chunk=49)[0]))
    (49, True)
    """
    batch_size = _positive("batch_size", batch_size)
    chunk = _positive("chunk", chunk)
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or len(ids) < 2:
        raise DataError(f"stream_evaluate expects a 1-D sequence of at least 2 integer ids; got shape {ids.shape}, "
                        f"dtype {ids.dtype}")
    batch_size = min(batch_size, len(ids) - 1)
    per = -(-len(ids) // batch_size)  # ceil: each stream's length (the last one may be shorter: padded, masked)
    padded = np.zeros(per * batch_size, dtype=np.int64)
    padded[:len(ids)] = ids
    valid = np.zeros(per * batch_size, dtype=bool)
    valid[:len(ids)] = True
    streams, mask = padded.reshape(batch_size, per), valid.reshape(batch_size, per)  # (B, per)
    stepper = stepping_copy(model, batch_size)
    total, count = 0.0, 0
    with no_grad():
        for start in range(0, per - 1, chunk):
            stop = min(start + chunk, per - 1)
            x, y = streams[:, start:stop], streams[:, start + 1:stop + 1]  # (B, t): ids and the next ids
            keep = mask[:, start + 1:stop + 1]
            log_p = _log_probabilities(stepper(x))  # (B, t, V)
            picked = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]  # (B, t)
            total -= float(picked[keep].sum())
            count += int(keep.sum())
    return total / count, count
