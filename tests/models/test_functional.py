"""Functional models: Input placeholders, several inputs and outputs, return_state / initial_state links."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnkit.losses import SparseCategoricalCrossentropy
from rnnkit.models import Functional, Input, Model, Sequential
from rnnkit.optimizers import Adam
from rnnkit.random import set_random_seed


def encoder_decoder(dtype=None, units=3, features=2, classes=2, cell=LSTM):
    enc_in = Input((None, features), dtype=dtype, name="source")
    dec_in = Input((None, features), dtype=dtype, name="target_in")
    _, *states = cell(units, return_state=True, dtype=dtype, name="encoder")(enc_in)  # LSTM: h, c; GRU: h
    seq = cell(units, return_sequences=True, dtype=dtype, name="decoder")(dec_in, initial_state=states)
    out = Dense(classes, dtype=dtype, name="head")(seq)
    return Model([enc_in, dec_in], out, name="seq2seq")


def test_placeholders_record_shapes_and_model_lists_layers():
    set_random_seed(0)
    model = encoder_decoder()
    assert isinstance(model, Functional) and isinstance(model, Model)
    # Keras' order, InputLayers included (tests/models/test_functional_keras_api.py checks it against Keras)
    assert [layer.name for layer in model.layers] == ["source", "target_in", "encoder", "decoder", "head"]
    assert model.input_shape == [(None, None, 2), (None, None, 2)] and model.output_shape == (None, None, 2)
    out = model.predict([np.ones((4, 6, 2)), np.ones((4, 3, 2))], verbose=0)
    assert out.shape == (4, 3, 2)


def test_encoder_states_reach_the_decoder():
    set_random_seed(0)
    model = encoder_decoder()
    rng = np.random.default_rng(0)
    dec = rng.standard_normal((2, 3, 2))
    a = model.predict([rng.standard_normal((2, 4, 2)), dec], verbose=0)
    b = model.predict([rng.standard_normal((2, 4, 2)), dec], verbose=0)
    assert not np.allclose(a, b)  # the encoder input changes the decoder output only through h and c
    _, _, enc, dec_layer, head = model.layers  # two InputLayers first (Keras)
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    _, h, c = enc(x)
    np.testing.assert_allclose(model.predict([x, dec], verbose=0),
                               head(dec_layer(dec.astype(np.float32), initial_state=[h, c])).numpy(), rtol=1e-6)


def test_encoder_decoder_trains_on_a_recall_task():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    source = rng.integers(0, 2, (128, 4))
    x_enc = np.eye(2)[source]  # (B, 4, 2) one-hot bits
    x_dec = np.zeros((128, 3, 2))  # the decoder sees nothing but the encoder's final states
    target = np.repeat(source[:, :1], 3, axis=1)  # (B, 3): recall the first source bit at every step
    model = encoder_decoder(units=8)
    model.compile(optimizer=Adam(learning_rate=0.02), loss=SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit([x_enc, x_dec], target, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_gradients_match_finite_differences_float64(cell):
    set_random_seed(3)
    model = encoder_decoder(dtype="float64", units=2, cell=cell)
    rng = np.random.default_rng(1)
    enc, dec = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 2, 2))
    targets = np.array([[0, 1], [1, 1]])
    loss_fn = SparseCategoricalCrossentropy(from_logits=True)

    def loss_value():
        return loss_fn(targets, model([enc, dec]))

    model.zero_grad()
    loss_value().backward()
    eps = 1e-6
    for w in model.trainable_weights:
        numeric = np.zeros_like(w.data)
        for index in np.ndindex(w.shape):
            saved = w.data[index]
            w.data[index] = saved + eps
            plus = loss_value().item()
            w.data[index] = saved - eps
            minus = loss_value().item()
            w.data[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        error = np.linalg.norm(w.grad - numeric) / max(np.linalg.norm(numeric), 1e-12)
        assert error < 1e-6, (w.name, error)
    # and with respect to both inputs, through the shared helper
    check_gradients(lambda a, b: model([a, b]), [enc, dec])


def test_two_inputs_two_outputs_and_shared_layer():
    set_random_seed(0)
    a, b = Input((4, 3), name="a"), Input((4, 3), name="b")
    shared = GRU(5, name="shared")
    ha, hb = shared(a), shared(b)
    out1 = Dense(1, name="o1")(ha)
    out2 = Dense(2, name="o2")(hb)
    model = Model(inputs=[a, b], outputs=[out1, out2])
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "o1", "o2"] and len(model.weights) == 3 + 2 + 2
    xa, xb = np.ones((6, 4, 3)), np.zeros((6, 4, 3))
    p1, _ = model.predict([xa, xb], verbose=0)
    np.testing.assert_allclose(p1, model.layers[3](shared(xa)).numpy(), rtol=1e-6)
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[1.0, 0.5])
    history = model.fit([xa, xb], [np.ones((6, 1)), np.zeros((6, 2))], epochs=2, verbose=0)
    loss = model.evaluate([xa, xb], [np.ones((6, 1)), np.zeros((6, 2))], verbose=0)
    q1, q2 = model.predict([xa, xb], verbose=0)
    assert loss == pytest.approx(np.mean((q1 - 1) ** 2) + 0.5 * np.mean(q2 ** 2), rel=1e-5)
    assert len(history.history["loss"]) == 2


def test_embedding_mask_flows_through_the_graph():
    set_random_seed(0)
    ids = Input((None,), dtype="int64")
    seq = SimpleRNN(3, return_sequences=True)(Embedding(6, 2, mask_zero=True)(ids))
    model = Model(ids, seq)
    out = model.predict(np.array([[1, 2, 0, 0]]), verbose=0)
    np.testing.assert_array_equal(out[0, 2:], 0.0)  # masked steps output zeros


def test_nested_sequential_and_config_round_trip():
    set_random_seed(0)
    inner = Sequential([Dense(4, activation="tanh", name="inner_dense")], name="inner")
    x = Input((3,), name="x")
    model = Model(x, Dense(2, name="top")(inner(x)))
    clone = Functional.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    data = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_array_equal(clone.predict(data, verbose=0), model.predict(data, verbose=0))
    assert [layer.name for layer in clone.layers] == ["x", "inner", "top"]


def test_errors():
    a, b = Input((3,)), Input((3,))
    out = Dense(1)(b)
    with pytest.raises(ConfigError, match="not in the model's inputs"):
        Model(a, out)
    model = Model(b, out)
    with pytest.raises(ShapeError, match="expects 1 input"):
        model.predict([np.ones((2, 3)), np.ones((2, 3))], verbose=0)
    with pytest.raises(ConfigError, match="no values"):
        np.asarray(a)
