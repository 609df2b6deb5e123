"""Add, Multiply, Concatenate, Dot, TimeDistributed and RepeatVector: values and output masks equal to Keras 3's
(torch backend, float64), gradients equal to finite differences, functional models with them survive save/load."""
from __future__ import annotations

import os

import numpy as np
import pytest

from helpers.gradcheck import check_gradients
from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import (GRU, Add, AdditiveAttention, Attention, Bidirectional, Concatenate, Dense, Dot,
                           Embedding, Multiply, RepeatVector, TimeDistributed, deserialize, serialize)
from rnnkit.models import Input, Model, load_model


@pytest.fixture
def keras64(monkeypatch):
    """Keras 3 computing in float64 (its result_type otherwise turns float64 products into float32)."""
    import keras  # noqa: F401
    from keras.src.backend.common import dtypes

    monkeypatch.setattr(dtypes, "BIT64_TO_BIT32_DTYPE", {})


def keras_run(layer, arrays, masks=None):
    """Keras ``layer`` on ``arrays`` carrying ``masks``: (output, output mask or None) as NumPy."""
    import torch
    from keras.src import backend

    tensors = [torch.tensor(a) for a in arrays]
    for t, m in zip(tensors, masks or [None] * len(tensors)):
        if m is not None:
            backend.set_keras_mask(t, torch.tensor(m))
    out = layer(tensors)
    mask = backend.get_keras_mask(out)
    return out.detach().numpy(), None if mask is None else mask.detach().numpy()


def ours_run(layer, arrays, masks=None):
    tensors = [Tensor(a, dtype="float64") for a in arrays]
    for t, m in zip(tensors, masks or [None] * len(tensors)):
        t._keras_mask = m
    out = layer(tensors)
    return out.numpy(), out._keras_mask


MERGES = [  # (name, constructor kwargs, input shapes)
    ("Add", {}, [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    ("Add", {}, [(2, 3, 4), (2, 4)]),  # lower rank: an axis is inserted after the batch axis
    ("Multiply", {}, [(2, 3, 4), (2, 3, 4)]),
    ("Concatenate", {}, [(2, 3, 4), (2, 3, 2)]),
    ("Concatenate", {"axis": 1}, [(2, 3, 4), (2, 5, 4)]),
    ("Dot", {"axes": (2, 2)}, [(2, 3, 4), (2, 5, 4)]),
    ("Dot", {"axes": 1}, [(2, 4), (2, 4)]),
    ("Dot", {"axes": (1, 2), "normalize": True}, [(2, 3, 4), (2, 5, 3)]),
    ("Dot", {"axes": [2, 1]}, [(2, 3, 4), (2, 4, 5)]),
    ("Dot", {"axes": -1, "normalize": True}, [(2, 4), (2, 6, 4)]),
]


@pytest.mark.parametrize("name,kwargs,shapes", MERGES)
def test_merge_layers_equal_keras(name, kwargs, shapes, keras64):
    import keras

    import rnnkit.layers as ours

    rng = np.random.default_rng(len(shapes) + sum(map(len, shapes)))
    arrays = [rng.normal(size=s) for s in shapes]
    twin = getattr(keras.layers, name)(dtype="float64", **kwargs)
    layer = getattr(ours, name)(dtype="float64", **kwargs)
    mask_sets = [None]
    if all(len(s) == 3 for s in shapes) and name != "Dot" and kwargs.get("axis", -1) == -1:
        masks = [rng.random(s[:2]) > 0.4 for s in shapes]
        mask_sets += [masks, [masks[0]] + [None] * (len(masks) - 1)]
    for masks in mask_sets:
        out, mask = ours_run(layer, arrays, masks)
        expected, expected_mask = keras_run(twin, arrays, masks)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
        if expected_mask is None:
            assert mask is None
        else:
            assert mask is not None and mask.tolist() == expected_mask.tolist()


@pytest.mark.parametrize("name,kwargs,shapes", MERGES)
def test_merge_layers_gradients(name, kwargs, shapes):
    import rnnkit.layers as ours

    rng = np.random.default_rng(5)
    arrays = [rng.normal(size=s) for s in shapes]
    masks = [rng.random(s[:2]) > 0.4 for s in shapes] if name == "Multiply" else None
    layer = getattr(ours, name)(dtype="float64", **kwargs)

    def forward(*tensors):
        for t, m in zip(tensors, masks or [None] * len(tensors)):
            t._keras_mask = m
        return layer(list(tensors))

    check_gradients(forward, arrays)


def test_time_distributed_and_repeat_vector_equal_keras(keras64):
    import keras

    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5))
    layer = TimeDistributed(Dense(2, activation="tanh", dtype="float64"))
    out = layer(Tensor(x, dtype="float64"))
    twin = keras.layers.TimeDistributed(keras.layers.Dense(2, activation="tanh", dtype="float64"), dtype="float64")
    expected, _ = keras_run(lambda ts: twin(ts[0]), [x])
    twin.set_weights(layer.get_weights())
    expected, _ = keras_run(lambda ts: twin(ts[0]), [x])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    vector = rng.normal(size=(3, 5))
    expected, _ = keras_run(lambda ts: keras.layers.RepeatVector(4, dtype="float64")(ts[0]), [vector])
    np.testing.assert_array_equal(RepeatVector(4, dtype="float64")(vector).numpy(), expected)
    masked = Tensor(x, dtype="float64")
    masked._keras_mask = rng.random((3, 4)) > 0.5
    assert layer(masked)._keras_mask is masked._keras_mask


def test_time_distributed_and_repeat_vector_gradients():
    rng = np.random.default_rng(4)
    inner = Dense(3, activation="tanh", dtype="float64")
    layer = TimeDistributed(inner)
    layer(np.ones((1, 1, 4)))

    def forward(x, kernel, bias, vector):
        inner.kernel, inner.bias = kernel, bias
        return [layer(x), RepeatVector(3, dtype="float64")(vector)]

    check_gradients(forward, [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 3)), rng.normal(size=3),
                              rng.normal(size=(2, 5))])


def test_configs_and_errors():
    for layer in (Add(), Multiply(), Concatenate(axis=1), Dot(axes=(1, 2), normalize=True), RepeatVector(3),
                  TimeDistributed(Dense(4, activation="relu"))):
        rebuilt = deserialize(serialize(layer))
        assert type(rebuilt) is type(layer) and rebuilt.get_config() == layer.get_config()
    with pytest.raises(ShapeError, match="list of inputs"):
        Add()(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"\(2, 3\), \(2, 4\)"):
        Add()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ShapeError, match="concatenation axis"):
        Concatenate()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ShapeError, match="batched dot"):
        Dot(axes=1)([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ConfigError, match="axes"):
        Dot(axes="last")
    with pytest.raises(ConfigError, match="positive"):
        RepeatVector(0)
    with pytest.raises(ShapeError, match="rank >= 3"):
        TimeDistributed(Dense(2))(np.ones((2, 3)))


def encoder_decoder(attention_layer):
    """A small Keras-style encoder-decoder with every new layer in it."""
    source, target = Input((None,), dtype="int32"), Input((None,), dtype="int32")
    encoded, forward_h, backward_h = Bidirectional(GRU(6, return_sequences=True, return_state=True))(
        Embedding(11, 5, mask_zero=True)(source))
    similarity = Dot(axes=1, normalize=True)([forward_h, backward_h])  # (B, 1)
    state = Add()([forward_h, backward_h, Dense(6)(similarity)])
    decoded = GRU(6, return_sequences=True)(Embedding(12, 5, mask_zero=True)(target), initial_state=[state])
    query = Dense(12, use_bias=False)(decoded)
    context = attention_layer([query, encoded])
    gate = Multiply()([context, TimeDistributed(Dense(12, activation="sigmoid"))(context)])
    words = Dense(12, activation="softmax")(Concatenate()([decoded, gate]))
    repeated = Dense(1)(RepeatVector(3)(state))  # (B, 3, 1): a second output
    return Model([source, target], [words, repeated])


@pytest.mark.parametrize("attention", [lambda: AdditiveAttention(), lambda: Attention(use_scale=True)])
def test_functional_encoder_decoder_trains_and_survives_save_load(tmp_path, attention):
    rng = np.random.default_rng(0)
    source = rng.integers(1, 11, size=(8, 5))
    source[:, 3:] *= rng.random((8, 2)) > 0.5
    target = rng.integers(1, 12, size=(8, 4))
    target[:, 2:] = 0
    model = encoder_decoder(attention())
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])
    y = [target, np.zeros((8, 3, 1))]
    before = model.evaluate([source, target], y, verbose=0)
    model.fit([source, target], y, epochs=3, batch_size=4, verbose=0)
    assert model.evaluate([source, target], y, verbose=0) < before
    path = os.path.join(tmp_path, "model.rnnkit")
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(loaded.predict([source, target], verbose=0), model.predict([source, target], verbose=0)):
        np.testing.assert_array_equal(a, b)
