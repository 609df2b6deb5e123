"""``recurrent_dropout`` on SimpleRNN, LSTM and GRU (Keras' implementation 1, inside the fused ops).

- against Keras 3 (torch backend, float64) on the same weights with the same masks injected into both: outputs,
  input gradients and every weight's gradient, with ``dropout`` too and alone, GRU in both formulations;
- the masks a layer draws: the same at every time step of a call, new at each call, 0 or ``1 / (1 - rate)``,
  none outside training; built-in cells in ``RNN([...])`` draw theirs once per sequence;
- ``Bidirectional``, ``get_config`` / save / load, and a model that trains through ``fit``.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import Tensor
from rnnkit.layers import GRU, LSTM, RNN, Bidirectional, Dense, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from rnnkit.models import Sequential, load_model
from rnnkit.optimizers import Adam

B, T, D, H = 3, 5, 4, 6
CASES = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {"reset_after": True}), ("GRU", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]
LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


@pytest.fixture
def keras64(monkeypatch):
    """Keras 3 computing in float64 (its result_type otherwise turns float64 into float32)."""
    import keras  # noqa: F401
    from keras.src.backend.common import dtypes

    monkeypatch.setattr(dtypes, "BIT64_TO_BIT32_DTYPE", {})


def _masks(G, rate, features, rng):
    """``(G, B, features)`` masks as Keras' dropout(ones, rate) makes them, with a dropped and a kept unit."""
    masks = (rng.random((G, B, features)) >= rate) / (1.0 - rate)
    masks.reshape(-1)[:2] = (0.0, 1.0 / (1.0 - rate))
    return masks


def _keras_run(kind, options, weights, x, w_out, dm, rm):
    import keras
    import torch

    layer = getattr(keras.layers, kind)(H, return_sequences=True, dtype="float64", **options)
    layer.build((B, T, D))
    layer.set_weights(weights)
    cell = layer.cell
    count = getattr(cell, "dropout_mask_count", None)

    def create(step_input, rate):  # Keras' DropoutRNNCell._create_dropout_mask, with our masks
        masks = dm if step_input.shape[-1] == D and rate == options.get("dropout") else rm
        tensors = [torch.tensor(m, dtype=torch.float64) for m in masks]
        return tensors if count is not None else tensors[0]

    cell._create_dropout_mask = create
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = layer(xt, training=True)
    (out * torch.tensor(w_out)).sum().backward()
    return out.detach().numpy(), [xt.grad.numpy()] + [v.value.grad.numpy() for v in layer.trainable_weights]


def _rnnkit_run(kind, options, weights, x, w_out, dm, rm, monkeypatch):
    layer = LAYERS[kind](H, return_sequences=True, dtype="float64", **options)
    layer(x[:1])
    layer.set_weights(weights)

    def gate_masks(batch, features, rate):  # RecurrentCell._gate_masks, with our masks
        assert batch == B and rate > 0
        return dm if features == D and rate == options.get("dropout") else rm

    monkeypatch.setattr(layer.cell, "_gate_masks", gate_masks)
    xt = Tensor(x, requires_grad=True, dtype="float64")
    out = layer(xt, training=True)
    (out * Tensor(w_out, dtype="float64")).sum().backward()
    assert not np.allclose(out.numpy(), layer(x).numpy())  # the masks were used (inference has none)
    return out.numpy(), [xt.grad] + [w.grad for w in layer.weights]


@pytest.mark.parametrize("kind, options", CASES, ids=IDS)
@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["rec-only", "with-dropout"])
def test_outputs_and_gradients_equal_keras(kind, options, dropout, keras64, monkeypatch):
    rng = np.random.default_rng(7)
    options = dict(options, recurrent_dropout=0.4, dropout=dropout)
    x = rng.standard_normal((B, T, D))
    w_out = rng.standard_normal((B, T, H))
    G = GATES[kind] if kind != "SimpleRNN" else 1
    dm = _masks(G, dropout, D, rng) if dropout else None
    rm = _masks(G, 0.4, H, rng)
    probe = LAYERS[kind](H, dtype="float64", **options)
    probe(x[:1])
    weights = [rng.standard_normal(w.shape) * 0.5 for w in probe.get_weights()]
    want_out, want_grads = _keras_run(kind, options, weights, x, w_out, dm, rm)
    got_out, got_grads = _rnnkit_run(kind, options, weights, x, w_out, dm, rm, monkeypatch)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-10, atol=1e-12)
    assert len(got_grads) == len(want_grads)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind, options", CASES, ids=IDS)
def test_the_masks_hold_for_a_call_and_change_between_calls(kind, options, monkeypatch):
    layer = LAYERS[kind](H, recurrent_dropout=0.5, dropout=0.25, seed=3, **options)
    drawn = []
    original = layer.cell._gate_masks

    def record(batch, features, rate):
        masks = original(batch, features, rate)
        drawn.append((rate, masks))
        return masks

    monkeypatch.setattr(layer.cell, "_gate_masks", record)
    x = np.random.default_rng(1).standard_normal((B, T, D)).astype("float32")
    first = layer(x, training=True).numpy()
    second = layer(x, training=True).numpy()
    assert [rate for rate, _ in drawn] == [0.25, 0.5, 0.25, 0.5]  # input and recurrent masks, once per call
    G = GATES[kind] if kind != "SimpleRNN" else 1
    for rate, masks in drawn:
        assert masks.shape[:2] == (G, B)
        assert set(np.unique(masks)) == {0.0, np.float32(1.0 / (1.0 - rate))}
    assert not np.array_equal(drawn[1][1], drawn[3][1]) and not np.allclose(first, second)
    inference = layer(x).numpy()
    plain = LAYERS[kind](H, **options)
    plain(x[:1])
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(inference, plain(x).numpy())  # training=False: no dropout at all
    assert len(drawn) == 4


def test_a_masked_state_unit_is_dropped_at_every_step(monkeypatch):
    """SimpleRNN with an identity input and state unit 0 dropped: unit 0 of h_{t-1} never reaches h_t."""
    layer = SimpleRNN(2, recurrent_dropout=0.5, activation="linear", use_bias=False)
    rm = np.array([[[0.0, 2.0]]])  # (1, B=1, H=2)
    monkeypatch.setattr(layer.cell, "_gate_masks", lambda batch, features, rate: rm)
    layer.build((1, 4, 1))
    layer.set_weights([np.zeros((1, 2)), np.eye(2)])  # h_t = h_{t-1} ⊙ rm
    out = layer(np.ones((1, 4, 1), "float32"), training=True, initial_state=[np.array([[1.0, 1.0]])])
    np.testing.assert_allclose(out.numpy(), [[0.0, 16.0]])  # unit 0: 1 * 0; unit 1: 1 * 2^4


def test_built_in_cells_in_a_stack_draw_their_masks_once_per_sequence(monkeypatch):
    cells = [LSTMCell(4, recurrent_dropout=0.3, dropout=0.2), GRUCell(3, recurrent_dropout=0.4),
             SimpleRNNCell(2, recurrent_dropout=0.1)]
    calls = []
    for cell in cells:
        original = cell._gate_masks
        monkeypatch.setattr(cell, "_gate_masks", lambda b, f, r, original=original: calls.append(r) or original(b, f, r))
    layer = RNN(cells, return_sequences=True)
    x = np.random.default_rng(2).standard_normal((B, T, D)).astype("float32")
    layer(x, training=True)
    assert calls == [0.2, 0.3, 0.4, 0.1]  # one draw per cell and sequence, not per step
    layer(x)
    assert len(calls) == 4


def test_bidirectional_directions_draw_their_own_masks():
    layer = Bidirectional(LSTM(H, recurrent_dropout=0.5, return_sequences=True))
    x = np.random.default_rng(3).standard_normal((B, T, D)).astype("float32")
    layer(x)
    forward, backward = layer.forward_layer, layer.backward_layer
    assert forward.recurrent_dropout == backward.recurrent_dropout == 0.5
    assert forward.cell._rng is not backward.cell._rng
    assert not np.allclose(layer(x, training=True).numpy(), layer(x).numpy())


def test_fit_with_recurrent_dropout_learns_and_the_model_saves_and_loads(tmp_path):
    from rnnkit.datasets import mnist_sample

    (x, y), _ = mnist_sample.load_data()  # real digits, rows as 28 time steps of 28 features
    x, y = x[:1024].astype("float32") / 255.0, y[:1024]
    model = Sequential([GRU(32, recurrent_dropout=0.25, dropout=0.1, seed=5), Dense(10, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0] and history.history["accuracy"][-1] > 0.5, history.history  # chance: 0.1
    path = tmp_path / "model.rnnkit"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].recurrent_dropout == 0.25 and loaded.layers[0].dropout == 0.1
    np.testing.assert_array_equal(loaded.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0))


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_keras_files_carry_recurrent_dropout_both_ways(tmp_path):
    import warnings

    import keras

    model = Sequential([LSTM(5, recurrent_dropout=0.3, return_sequences=True, input_shape=(4, 3)),
                        GRU(4, recurrent_dropout=0.2, dropout=0.1, return_sequences=True),
                        RNN(SimpleRNNCell(3, recurrent_dropout=0.25)), Dense(2)])
    x = np.random.default_rng(4).standard_normal((2, 4, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "r.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = keras.models.load_model(tmp_path / "r.keras")
    assert [keras_model.layers[0].recurrent_dropout, keras_model.layers[1].recurrent_dropout,
            keras_model.layers[2].cell.recurrent_dropout, keras_model.layers[1].dropout] == [0.3, 0.2, 0.25, 0.1]
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    keras_model.save(tmp_path / "k.keras")
    back = load_model(tmp_path / "k.keras")
    assert [back.layers[0].recurrent_dropout, back.layers[1].recurrent_dropout,
            back.layers[2].cell.recurrent_dropout] == [0.3, 0.2, 0.25]
    np.testing.assert_allclose(back.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-7)


def test_onnx_export_takes_recurrent_dropout_which_does_nothing_at_inference():
    import onnxruntime

    from rnnkit.interop.onnx import to_onnx

    model = Sequential([Bidirectional(LSTM(4, recurrent_dropout=0.3, return_sequences=True)),
                        GRU(3, recurrent_dropout=0.2, dropout=0.1), Dense(2)])
    x = np.random.default_rng(6).standard_normal((2, 5, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["output"], {"input": x})[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, options", CASES, ids=IDS)
def test_distributed_ranks_draw_the_rows_of_the_one_process_masks(kind, options):
    """Under rnnkit.distribution's sliced generators (each rank draws the global batch's masks and keeps its rows)
    a rank's outputs are its rows of the one-process outputs, so results do not depend on the number of ranks."""
    from rnnkit.distribution.sharding import make_shard, sliced_dropout

    def model():
        m = Sequential([LAYERS[kind](H, recurrent_dropout=0.4, dropout=0.3, seed=11, return_sequences=True,
                                     **options)])
        m(np.zeros((1, T, D), "float32"))
        m.set_weights([np.full(w.shape, 0.3, "float32") for w in m.get_weights()])
        return m

    x = np.random.default_rng(8).standard_normal((7, T, D)).astype("float32")
    whole = model()(x, training=True).numpy()
    for rank in range(3):
        shard = make_shard(7, 3, rank)
        ranked = model()
        with sliced_dropout(ranked, shard):
            part = ranked(x[shard.lo:shard.hi], training=True).numpy()
        np.testing.assert_allclose(part, whole[shard.lo:shard.hi], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind, options", CASES, ids=IDS)
def test_rnn_of_a_cell_and_a_stack_of_one_cell_equal_the_layer_with_the_same_masks(kind, options, monkeypatch):
    """``RNN(cell)`` (fused) and ``RNN([cell])`` (step by step, the cell ops) in training equal the layer."""
    cell_class = {"SimpleRNN": SimpleRNNCell, "LSTM": LSTMCell, "GRU": GRUCell}[kind]
    settings = dict(options, recurrent_dropout=0.4, dropout=0.3, dtype="float64")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((B, T, D))
    G = GATES[kind]
    dm, rm = _masks(G, 0.3, D, rng), _masks(G, 0.4, H, rng)
    layers = [LAYERS[kind](H, return_sequences=True, **settings),
              RNN(cell_class(H, **settings), return_sequences=True, dtype="float64"),
              RNN([cell_class(H, **settings)], return_sequences=True, dtype="float64")]
    results = []
    for layer in layers:
        layer(x[:1])
        layer.set_weights(layers[0].get_weights())
        cell = layer.cell.cells[0] if hasattr(layer.cell, "cells") else layer.cell
        monkeypatch.setattr(cell, "_gate_masks", lambda batch, features, rate: dm if features == D else rm)
        results.append(layer(x, training=True).numpy())
    assert layers[1]._fused and not layers[2]._fused  # the fused op, and the cell ops step by step
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-10, atol=1e-12)
