"""The memory estimate of a training configuration against the real thing: parameter counts against
``count_params``, and the estimated peak against the peak ``tracemalloc`` measures while building and training."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from rnnkit import layers
from rnnkit.errors import ConfigError
from rnnkit.memory import MemoryLimitError, check_memory, estimate_recurrent_training, memory_limit, parse_size
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed

CLASSES = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def build(kind, units, layer_count, bidirectional, timesteps, features, outputs=10):
    model = Sequential()
    for i in range(layer_count):
        first = {"input_shape": (timesteps, features)} if i == 0 else {}
        layer = CLASSES[kind](units, return_sequences=i < layer_count - 1, **({} if bidirectional else first))
        model.add(layers.Bidirectional(layer, **first) if bidirectional else layer)
    model.add(layers.Dense(outputs, activation="softmax"))
    return model


@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("layer_count,bidirectional", [(1, False), (2, True)])
def test_weight_count_equals_count_params(kind, layer_count, bidirectional):
    model = build(kind, 7, layer_count, bidirectional, 5, 3, outputs=4)
    estimate = estimate_recurrent_training(kind, 7, 5, 3, 4, batch_size=1, layers=layer_count,
                                           bidirectional=bidirectional)
    assert estimate.parts["weights"] == 4 * model.count_params()


@pytest.mark.parametrize("kind,units,batch,timesteps", [("lstm", 128, 128, 28), ("gru", 128, 128, 28),
                                                        ("simple_rnn", 256, 128, 28), ("simple_rnn", 700, 8, 4)])
def test_estimate_is_close_to_the_measured_peak(kind, units, batch, timesteps):
    """The last case is dominated by the orthogonal initialiser's float64 QR, the others by BPTT."""
    set_random_seed(0)
    features = 28
    x = np.random.default_rng(0).random((batch, timesteps, features), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(batch) % 10]
    model = build(kind, units, 1, False, timesteps, features)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    model.fit(x[:2], y[:2], batch_size=2, epochs=1, verbose=0)  # compile kernels, warm caches outside the count
    set_random_seed(0)
    tracemalloc.start()
    try:
        model = build(kind, units, 1, False, timesteps, features)
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = estimate_recurrent_training(kind, units, timesteps, features, 10, batch_size=batch).total
    assert 0.6 < estimate / peak < 1.6, (estimate, peak)


def test_refusal_is_one_line_with_the_estimate_and_the_limit(monkeypatch):
    estimate = estimate_recurrent_training("simple_rnn", 100_000, 28, 28, 10, batch_size=64)
    assert estimate.total > 70 * 2**30  # the 1e10-entry recurrent kernel: its float64 QR alone is 74.5 GiB
    with pytest.raises(MemoryLimitError) as error:
        check_memory(estimate, "rnnkit train --units 100000", limit="16GiB")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("rnnkit train --units 100000 needs about ")
    assert "; the limit is 16.0 GiB (--memory-limit" in message
    monkeypatch.setenv("RNNKIT_MEMORY_LIMIT", "2GiB")
    assert memory_limit() == (2 * 2**30, "$RNNKIT_MEMORY_LIMIT")
    monkeypatch.delenv("RNNKIT_MEMORY_LIMIT")
    available, where = memory_limit()
    assert available > 0 and where.startswith("the memory available now")


def test_parse_size():
    assert parse_size("2GiB") == 2 * 2**30 and parse_size("2 gb") == 2 * 10**9 and parse_size("3k") == 3000
    with pytest.raises(ConfigError, match="not understood"):
        parse_size("lots")


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_built_model_estimate_equals_the_configuration_estimate(kind):
    from rnnkit.memory import estimate_model_training

    model = build(kind, 9, 2, True, 6, 5, outputs=3)
    by_model = estimate_model_training(model, batch_size=4, timesteps=6)
    by_config = estimate_recurrent_training(kind, 9, 6, 5, 3, batch_size=4, layers=2, bidirectional=True)
    assert by_model.parts == by_config.parts
