"""gradient_flow: the step-by-step replay equals the fused layers (float64), and its per-step gradients equal
finite differences of the loss with respect to each hidden state, cell state and input."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.diagnostics import ReplaySource, gradient_flow, plot_gradient_flow
from rnnkit.diagnostics.replay import recurrent_layers
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Masking, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.random import set_random_seed

F64 = "float64"


def padded_batch(rng, B=3, T=7, D=2, lengths=(7, 4, 2)):
    """Right-padded inputs with zeros after each length (Masking(0.0) masks them); trailing step 6 is real only
    in the first row, and with lengths (5, 4, 2) steps 5-6 are padding in every row (trimmed by the layer)."""
    x = rng.normal(size=(B, T, D))
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x


MODELS = {
    "simple_rnn": lambda: [SimpleRNN(4, dtype=F64)],
    "lstm": lambda: [LSTM(3, dtype=F64)],
    "gru": lambda: [GRU(3, dtype=F64)],
    "gru_reset_before": lambda: [GRU(3, reset_after=False, dtype=F64)],
    "simple_rnn_relu_backwards": lambda: [SimpleRNN(3, activation="relu", go_backwards=True, dtype=F64)],
    "stacked": lambda: [LSTM(3, return_sequences=True, dtype=F64), GRU(2, return_sequences=True, dtype=F64),
                        SimpleRNN(3, dtype=F64)],
    "bidirectional": lambda: [Bidirectional(LSTM(3, return_sequences=True, dtype=F64)),
                              Bidirectional(GRU(2, dtype=F64), merge_mode="sum")],
    "sequence_output": lambda: [LSTM(3, return_sequences=True, go_backwards=True, dtype=F64),
                                GRU(3, return_sequences=True, dtype=F64)],  # the loss sees every step's output
}


def targets(model, x, rng):
    return rng.normal(size=model(x).shape)  # (B, 2) or (B, T, 2)


def make_model(layers, masked):
    set_random_seed(1)
    stack = ([Masking(0.0, dtype=F64)] if masked else []) + layers + [Dense(2, dtype=F64)]
    model = Sequential(stack)
    model.compile(optimizer="sgd", loss="mse")
    return model


def loss_and_grads(model, x, y, source=None):
    model.zero_grad()
    if source is None:
        out = model(x)
        loss = model._compute_loss([y], [out])
        loss.backward()
        return out.data.copy(), [w.grad.copy() for w in model.trainable_weights]
    with source.attach(model):
        out = model(x)
        loss = model._compute_loss([y], [out])
        loss.backward()
    return out.data.copy(), [w.grad.copy() for w in model.trainable_weights]


@pytest.mark.parametrize("masked,lengths", [(False, None), (True, (7, 4, 2)), (True, (5, 4, 2))])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_replay_equals_fused_layers(kind, masked, lengths):
    rng = np.random.default_rng(0)
    x = padded_batch(rng, lengths=lengths) if masked else rng.normal(size=(3, 7, 2))
    model = make_model(MODELS[kind](), masked)
    y = targets(model, x, rng)
    out_fused, grads_fused = loss_and_grads(model, x, y)
    out_replay, grads_replay = loss_and_grads(model, x, y, ReplaySource())
    assert out_fused.dtype == np.float64
    np.testing.assert_allclose(out_replay, out_fused, rtol=0, atol=1e-10)
    assert len(grads_fused) == len(grads_replay) > 0
    for w, a, b in zip(model.trainable_weights, grads_replay, grads_fused):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=w.name)
    # the cells are back to their fused op once the replay is over
    for _, layer in recurrent_layers(model):
        assert "run_sequence" not in layer.cell.__dict__ and "call" not in layer.__dict__


def finite_difference(model, x, y, name, state, t, direction, eps=1e-6):
    def loss(sign):
        source = ReplaySource(shifts={(name, state, t): sign * eps * direction})
        with source.attach(model):
            return float(model._compute_loss([y], [model(x)]).data)

    return (loss(1) - loss(-1)) / (2 * eps)


@pytest.mark.parametrize("kind,masked", [("lstm", False), ("simple_rnn_relu_backwards", True), ("gru", True),
                                         ("stacked", False), ("bidirectional", True), ("sequence_output", True)])
def test_step_gradients_equal_finite_differences(kind, masked):
    rng = np.random.default_rng(2)
    x = padded_batch(rng, lengths=(7, 4, 2)) if masked else rng.normal(size=(3, 7, 2))
    model = make_model(MODELS[kind](), masked)
    y = targets(model, x, rng)
    source = ReplaySource()
    with source.attach(model) as recorder:
        loss = model._compute_loss([y], [model(x)])
        loss.backward()
    checked = 0
    for record in recorder.layers:
        probes = dict(record.states, x=record.inputs)
        for state, per_step in probes.items():
            for t in sorted({0, len(per_step) // 2, len(per_step) - 1}):
                analytic = per_step[t].gradient()
                direction = rng.normal(size=analytic.shape)
                numeric = finite_difference(model, x, y, record.name, state, t, direction)
                assert np.sum(analytic * direction) == pytest.approx(numeric, rel=1e-6, abs=1e-9), \
                    (record.name, state, t)
                checked += 1
    assert checked >= 6


def test_gradient_flow_reports_norms_in_input_time_order():
    rng = np.random.default_rng(3)
    x = padded_batch(rng, lengths=(5, 4, 2))  # steps 5 and 6 masked everywhere: not run, NaN
    y = rng.normal(size=(3, 2))
    model = make_model(MODELS["bidirectional"](), masked=True)
    flow = gradient_flow(model, x, y)
    names = [f.name for f in flow.layers]
    assert names[0].startswith("bidirectional") and "/forward_lstm" in names[0] and "/backward_lstm" in names[1]
    forward, backward = flow.layers[0], flow.layers[1]
    assert sorted(forward.states) == ["c", "h"] and forward.h.shape == (7,) and forward.x.shape == (7,)
    assert np.isnan(forward.h[5:]).all() and np.isnan(backward.h[5:]).all()
    # check one value by hand: the backward direction's first processed step is input step 4
    with ReplaySource().attach(model) as recorder:
        model.zero_grad()
        model._compute_loss([y], [model(x)]).backward()
    probe = recorder.layers[1].states["h"][0]
    expected = np.linalg.norm(probe.gradient(), axis=1).mean()
    assert backward.h[4] == pytest.approx(expected, rel=1e-12)
    assert backward.processing_order(backward.h)[0] == backward.h[4]
    # weights: the same names and norms as a plain backward pass
    _, grads = loss_and_grads(model, x, y)
    for w, g in zip(model.trainable_weights, grads):
        assert flow.weight_norms[w.name] == pytest.approx(np.linalg.norm(g), rel=1e-10)
    assert flow.loss > 0 and "dh_first/dh_last" in flow.summary()


def test_decay_is_one_through_an_identity_recurrence_and_vanishes_through_tanh():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 60, 2)), rng.normal(size=(8, 1))
    set_random_seed(0)
    linear = Sequential([SimpleRNN(5, activation=None, dtype=F64), Dense(1, dtype=F64)])
    linear.compile(optimizer="sgd", loss="mse")
    linear.build((None, 60, 2))
    kernel, _, bias = linear.layers[0].get_weights()
    linear.layers[0].set_weights([kernel, np.eye(5), bias])  # h_t = x_t K + h_{t-1} + b: dL/dh_t is one vector
    flow = gradient_flow(linear, x, y).layers[0]
    np.testing.assert_allclose(flow.h, flow.h[-1], rtol=1e-12)
    assert flow.decay() == pytest.approx(1.0, rel=1e-12)
    set_random_seed(0)
    tanh = Sequential([SimpleRNN(16, dtype=F64), Dense(1, dtype=F64)])
    tanh.compile(optimizer="sgd", loss="mse")
    flow = gradient_flow(tanh, x, y).layers[0]
    assert flow.decay() < 1e-3 and np.all(np.diff(flow.h[-20:]) > 0)  # shrinks going back in time
    lstm = Sequential([LSTM(4, dtype=F64), Dense(1, dtype=F64)])
    lstm.compile(optimizer="sgd", loss="mse")
    flow = gradient_flow(lstm, x, y).layers[0]
    assert flow.states["c"][-1] > 0  # the total gradient: c_T reaches the loss through h_T


def test_gradient_flow_errors():
    model = Sequential([Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(Exception, match="no recurrent layer"):
        gradient_flow(model, np.ones((2, 3)), np.ones((2, 2)))
    uncompiled = Sequential([SimpleRNN(2)])
    with pytest.raises(Exception, match="needs a loss"):
        gradient_flow(uncompiled, np.ones((2, 3, 1)), np.ones((2, 2)))
    flow = gradient_flow(uncompiled, np.ones((2, 3, 1)), np.ones((2, 2)), loss="mae")
    assert flow.layers[0].h.shape == (3,)


def test_plot_gradient_flow_draws_one_line_per_layer(tmp_path):
    import matplotlib.image

    rng = np.random.default_rng(5)
    model = make_model(MODELS["stacked"](), masked=False)
    flow = gradient_flow(model, rng.normal(size=(3, 7, 2)), rng.normal(size=(3, 2)))
    path = tmp_path / "gradient-flow.png"
    assert plot_gradient_flow(flow, str(path), title="stacked")
    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 600
    assert (pixels[..., :3] < 0.9).any(axis=-1).mean() > 0.01  # lines and text, not a blank canvas
    colours = {tuple(np.round(p, 2)) for p in pixels[..., :3].reshape(-1, 3)}
    assert len(colours) > 20
