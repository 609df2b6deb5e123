"""gradient_flow in training with recurrent_dropout: both sources apply the layers' gate masks (the same masks,
drawn again from the same generator states) and give the same per-step gradients to 1e-10, float64."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.diagnostics import FusedSource, ReplaySource
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Masking, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed

F64 = "float64"


def _cells(model) -> list:
    """Every built-in cell in the model (both directions of a Bidirectional)."""
    cells = []
    for layer in model.layers:
        for part in (layer, getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)):
            cell = getattr(part, "cell", None)
            if cell is not None and hasattr(cell, "_rng"):
                cells.append(cell)
    return cells


def _records(model, x, y, source, generator_states):
    for cell, state in zip(_cells(model), generator_states):
        cell._rng.bit_generator.state = state  # the same masks for both sources
    model.zero_grad()
    with source.attach(model) as recorder:
        loss = model._compute_loss([y], model._outputs_list(model(x, training=True)))
        loss.backward()
    found = {}
    for record in recorder.layers:
        for name, per_step in dict(record.states, x=record.inputs).items():
            for t, probe in enumerate(per_step):
                found[(record.name, name, t)] = np.asarray(probe.gradient())
    return found, [w.grad.copy() for w in model.trainable_weights]


@pytest.mark.parametrize("layer", ["rnn", "lstm", "gru", "gru_before", "bi_lstm"])
def test_both_sources_apply_the_recurrent_dropout_masks(layer):
    set_random_seed(4)
    options = dict(return_sequences=True, dropout=0.2, recurrent_dropout=0.4, dtype=F64)
    recurrent = {"rnn": lambda: SimpleRNN(4, **options), "lstm": lambda: LSTM(4, **options),
                 "gru": lambda: GRU(4, **options), "gru_before": lambda: GRU(4, reset_after=False, **options),
                 "bi_lstm": lambda: Bidirectional(LSTM(4, **options))}[layer]()
    model = Sequential([Masking(0.0, dtype=F64), recurrent, Dense(2, dtype=F64)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 6, 3))
    x[1, 4:] = 0.0  # padded
    y = rng.normal(size=(5, 6, 2))
    model(x)  # built
    states = [cell._rng.bit_generator.state for cell in _cells(model)]
    fused, fused_weights = _records(model, x, y, FusedSource(), states)
    replay, replay_weights = _records(model, x, y, ReplaySource(), states)
    assert fused and sorted(fused) == sorted(replay)
    for key, want in replay.items():
        np.testing.assert_allclose(fused[key], want, rtol=1e-10, atol=1e-10, err_msg=str(key))
    for a, b in zip(fused_weights, replay_weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # the masks were applied: the same pass without dropout gives other gradients
    plain, _ = _records(model, x, y, FusedSource(), states)
    assert all(np.array_equal(plain[key], fused[key]) for key in fused)  # same generator states: same masks
    for cell in _cells(model):
        cell.recurrent_dropout, cell.dropout = 0.0, 0.0
    no_dropout, _ = _records(model, x, y, FusedSource(), states)
    assert any(not np.allclose(no_dropout[key], fused[key]) for key in fused)
