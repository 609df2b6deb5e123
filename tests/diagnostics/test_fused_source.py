"""gradient_flow's fused source (the ops' own records) against the step-by-step replay (checked against finite
differences in test_gradient_flow.py), float64, per layer, state and step: every gradient array to 1e-10."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import ops
from rnnkit.diagnostics import FusedSource, ReplaySource, gradient_flow, step_gradient_source
from rnnkit.errors import ConfigError
from rnnkit.layers import GRU, LSTM, RNN, Bidirectional, Dense, Embedding, Layer, LSTMCell, Masking, SimpleRNN
from rnnkit.models import Input, Model, Sequential
from rnnkit.random import set_random_seed

F64 = "float64"
B, T, D = 3, 7, 2


def recurrent(kind, sequences, **kw):
    return {"rnn": lambda: SimpleRNN(3, return_sequences=sequences, dtype=F64, **kw),
            "lstm": lambda: LSTM(3, return_sequences=sequences, dtype=F64, **kw),
            "gru": lambda: GRU(3, return_sequences=sequences, dtype=F64, **kw),
            "gru_before": lambda: GRU(3, reset_after=False, return_sequences=sequences, dtype=F64, **kw)}[kind]()


STACKS = {
    "rnn": lambda seq: [recurrent("rnn", seq)],
    "lstm": lambda seq: [recurrent("lstm", seq)],
    "gru": lambda seq: [recurrent("gru", seq)],
    "gru_before": lambda seq: [recurrent("gru_before", seq)],
    "lstm_backwards": lambda seq: [recurrent("lstm", seq, go_backwards=True)],
    "stacked": lambda seq: [recurrent("lstm", True), recurrent("gru_before", True), recurrent("rnn", seq)],
    "bi_concat": lambda seq: [Bidirectional(recurrent("lstm", True)), Bidirectional(recurrent("gru", seq))],
    "bi_sum": lambda seq: [Bidirectional(recurrent("gru_before", seq), merge_mode="sum")],
    "bi_mul": lambda seq: [Bidirectional(recurrent("rnn", seq), merge_mode="mul")],
    "bi_ave": lambda seq: [Bidirectional(recurrent("lstm", seq, go_backwards=True), merge_mode="ave")],
}

LENGTHS = (7, 4, 2)  # row 0 full, rows 1-2 padded


def inputs(padding, rng):
    """``(B, T, D)`` floats with zero rows as padding (``"end"``, ``"front"``, or ``None``: none)."""
    x = rng.normal(size=(B, T, D))
    for b, n in enumerate(LENGTHS):
        if padding == "end":
            x[b, n:] = 0.0
        elif padding == "front":
            x[b, : T - n] = 0.0
    return x


def model_of(layers, masked):
    set_random_seed(1)
    model = Sequential(([Masking(0.0, dtype=F64)] if masked else []) + layers + [Dense(2, dtype=F64)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def records(model, x, y, source):
    """``{(layer, state or "x", processed step): gradient (B, F)}`` and the weights' gradients from one pass."""
    model.zero_grad()
    with source.attach(model) as recorder:
        model._compute_loss(y if isinstance(y, list) else [y], model._outputs_list(model(x))).backward()
    found = {}
    for record in recorder.layers:
        for name, per_step in dict(record.states, x=record.inputs).items():
            for t, probe in enumerate(per_step):
                found[(record.name, name, t)] = np.asarray(probe.gradient())
    return found, [w.grad.copy() for w in model.trainable_weights]


def assert_same(model, x, y):
    fused, fused_weights = records(model, x, y, FusedSource())
    replay, replay_weights = records(model, x, y, ReplaySource())
    assert fused and sorted(fused) == sorted(replay)
    for key, want in replay.items():
        assert fused[key].shape == want.shape, key
        np.testing.assert_allclose(fused[key], want, rtol=1e-10, atol=1e-10, err_msg=str(key))
    assert sum(np.abs(g).max() > 1e-6 for g in replay.values()) > len(replay) // 2  # mostly not zeros
    for w, a, b in zip(model.trainable_weights, fused_weights, replay_weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=w.name)
    return fused


@pytest.mark.parametrize("sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("padding", [None, "end", "front"])
@pytest.mark.parametrize("kind", sorted(STACKS))
def test_fused_source_equals_the_replay(kind, padding, sequences):
    rng = np.random.default_rng(0)
    x = inputs(padding, rng)
    model = model_of(STACKS[kind](sequences), masked=padding is not None)
    y = rng.normal(size=model(x).shape)
    fused = assert_same(model, x, y)
    if kind == "lstm":
        assert any(key[1] == "c" for key in fused)


def test_fused_source_with_an_embedding_mask_and_merge_mode_none():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 9, size=(B, T))
    ids[1, 4:] = 0  # padded at the end
    ids[2, :3] = 0  # padded at the front
    set_random_seed(2)
    inp = Input((T,), dtype="int64")
    emb = Embedding(9, 4, mask_zero=True, dtype=F64)(inp)
    forward, backward = Bidirectional(LSTM(3, return_sequences=True, dtype=F64), merge_mode=None)(emb)
    last = GRU(2, dtype=F64)(backward)
    model = Model(inp, [Dense(2, dtype=F64)(forward), Dense(1, dtype=F64)(last)])
    model.compile(optimizer="sgd", loss="mse")
    y = [rng.normal(size=(B, T, 2)), rng.normal(size=(B, 1))]
    fused = assert_same(model, ids, y)
    assert len({key[0] for key in fused}) == 3  # both directions and the GRU


def test_gradient_flow_picks_the_fused_source_and_gives_the_replays_numbers():
    rng = np.random.default_rng(3)
    x = inputs("end", rng)
    model = model_of(STACKS["bi_concat"](True), masked=True)
    y = rng.normal(size=(B, T, 2))
    assert isinstance(step_gradient_source(model), FusedSource)
    assert isinstance(step_gradient_source(model, "replay"), ReplaySource)
    auto, replay = gradient_flow(model, x, y), gradient_flow(model, x, y, source="replay")
    fused = gradient_flow(model, x, y, source=FusedSource())
    assert auto.loss == fused.loss == pytest.approx(replay.loss, rel=1e-12)
    for a, r in zip(auto.layers, replay.layers):
        assert a.name == r.name and sorted(a.states) == sorted(r.states)
        for name in a.states:
            np.testing.assert_allclose(a.states[name], r.states[name], rtol=1e-10)
        np.testing.assert_allclose(a.x, r.x, rtol=1e-10)
    assert auto.weight_norms == pytest.approx(replay.weight_norms, rel=1e-10)
    with pytest.raises(ConfigError, match="source must be one of"):
        gradient_flow(model, x, y, source="fast")


class TinyCell(Layer):
    """A user-defined cell (Keras' protocol): run step by step by RNN, never by a fused op."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, inputs, states):
        out = ops.tanh(ops.matmul(inputs, self.kernel) + states[0])
        return out, [out]


class OwnLSTMCell(LSTMCell):
    """A built-in cell whose sequence runs its own way: not the fused op's records."""

    def run_sequence(self, x, states, mask=None):
        return super().run_sequence(x, states, mask)


def test_auto_falls_back_to_the_replay_for_cells_it_cannot_map():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(B, T, D)), rng.normal(size=(B, 2))
    own = model_of([RNN(OwnLSTMCell(3, dtype=F64), dtype=F64)], masked=False)
    assert isinstance(step_gradient_source(own), ReplaySource)
    flow = gradient_flow(own, x, y)
    assert flow.layers[0].h.shape == (T,) and np.isfinite(flow.layers[0].h).all()
    with pytest.raises(ConfigError, match="source='replay'"):
        gradient_flow(own, x, y, source="fused")
    user = model_of([RNN(TinyCell(3, dtype=F64), dtype=F64)], masked=False)
    assert isinstance(step_gradient_source(user), ReplaySource)
    with pytest.raises(ConfigError, match="user-defined cell"):
        gradient_flow(user, x, y)


def test_a_layer_called_twice_reports_its_last_call_as_the_replay_does():
    from rnnkit.layers import Concatenate

    rng = np.random.default_rng(5)
    set_random_seed(3)
    shared = LSTM(3, dtype=F64)
    first, second = Input((T, D)), Input((T, D))
    merged = Concatenate(dtype=F64)([shared(first), shared(second)])
    model = Model([first, second], Dense(2, dtype=F64)(merged))
    model.compile(optimizer="sgd", loss="mse")
    x = [rng.normal(size=(B, T, D)), rng.normal(size=(B, T, D)) * 3.0]
    fused = assert_same(model, x, rng.normal(size=(B, 2)))
    assert len({key[0] for key in fused}) == 1


def test_a_frozen_first_layer_is_measured_as_the_replay_measures_it():
    rng = np.random.default_rng(6)
    x, y = inputs("end", rng), rng.normal(size=(B, 2))
    model = model_of(STACKS["stacked"](False), masked=True)
    model.layers[1].trainable = False  # the first LSTM: its op has no input that wants a gradient
    assert isinstance(step_gradient_source(model), FusedSource)
    fused = assert_same(model, x, y)
    assert any(np.abs(g).max() > 0 for key, g in fused.items() if key[0] == model.layers[1].name)
