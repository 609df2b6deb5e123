"""Functional models as Keras 3 shows them: ``model.layers`` (InputLayers included, in Keras' order, so that
``model.layers[k]`` is the same layer), ``model.input`` / ``output`` / ``inputs`` / ``outputs``, ``layer.input`` /
``layer.output`` of the first call, and feature extractors ``Model(model.input, model.layers[k].output)``."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers as rnnkit_layers
from rnnkit.layers import InputLayer
from rnnkit.models import Input, Model, load_model
from rnnkit.random import set_random_seed


def encoder_decoder(L, Input, Model):
    enc_in, dec_in = Input((None, 2), name="source"), Input((None, 2), name="target_in")
    _, *states = L.LSTM(3, return_state=True, name="encoder")(enc_in)
    seq = L.LSTM(3, return_sequences=True, name="decoder")(dec_in, initial_state=states)
    return Model([enc_in, dec_in], L.Dense(2, name="head")(seq))


def shared_two_outputs(L, Input, Model):
    a, b = Input((4, 3), name="a"), Input((4, 3), name="b")
    shared = L.GRU(5, name="shared")
    ha, hb = shared(a), shared(b)
    return Model([a, b], [L.Dense(1, name="o1")(ha), L.Dense(2, name="o2")(hb)])


def late_second_input(L, Input, Model):
    a, b = Input((3,), name="a"), Input((2,), name="b")
    x = L.Dense(4, name="d1")(a)
    x = L.Dense(4, name="d2")(x)
    return Model([a, b], L.Dense(1, name="out")(L.Concatenate(name="join")([x, b])))


def branches(L, Input, Model):
    x = Input((5, 3), name="x")
    seq = L.SimpleRNN(4, return_sequences=True, name="rnn")(x)
    long = L.Dense(3, name="long2")(L.Dense(3, name="long1")(L.GlobalAveragePooling1D(name="pool")(seq)))
    short = L.Dense(3, name="short")(L.SimpleRNN(2, name="rnn2")(seq))
    return Model(x, L.Add(name="sum")([long, short]))


def nested(L, Input, Model):
    inner_in = Input((3,), name="inner_in")
    inner = Model(inner_in, L.Dense(2, name="inner_dense")(inner_in), name="inner")
    x = Input((3,), name="outer_in")
    return Model(x, L.Dense(1, name="top")(inner(x)))


GRAPHS = [encoder_decoder, shared_two_outputs, late_second_input, branches, nested]


def layer_list(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.__name__)
def test_layers_are_listed_as_keras_lists_them(graph):
    import keras

    ours = graph(rnnkit_layers, Input, Model)
    theirs = graph(keras.layers, keras.Input, keras.Model)
    assert layer_list(ours) == layer_list(theirs)
    for k in range(len(ours.layers)):
        assert ours.get_layer(index=k).name == theirs.get_layer(index=k).name
    ours_in = ours.input if isinstance(ours.input, list) else [ours.input]
    theirs_in = theirs.input if isinstance(theirs.input, list) else [theirs.input]
    assert [p.name for p in ours_in] == [p.name for p in theirs_in]
    assert [o.shape for o in ours.outputs] == [tuple(o.shape) for o in theirs.outputs]
    for ours_layer, theirs_layer in zip(ours.layers, theirs.layers):  # the first call's placeholders
        out_ours, out_theirs = ours_layer.output, theirs_layer.output
        shapes = [o.shape for o in out_ours] if isinstance(out_ours, (list, tuple)) else out_ours.shape
        expected = [tuple(o.shape) for o in out_theirs] if isinstance(out_theirs, (list, tuple)) \
            else tuple(out_theirs.shape)
        assert shapes == expected, ours_layer.name


def test_feature_extractor_gives_the_intermediate_values():
    set_random_seed(2)
    model = branches(rnnkit_layers, Input, Model)
    x = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")
    names = [layer.name for layer in model.layers]
    assert isinstance(model.layers[0], InputLayer) and model.layers[0].output is model.input
    rnn, pool, long1 = (model.get_layer(n) for n in ("rnn", "pool", "long1"))
    extractor = Model(model.input, [model.layers[names.index("long1")].output, rnn.output])
    features, sequence = extractor.predict(x, verbose=0)
    np.testing.assert_array_equal(sequence, rnn(x).data)
    np.testing.assert_array_equal(features, long1(pool(rnn(x))).data)
    assert long1.input is pool.output and long1.input_shape == (None, 4) and long1.output_shape == (None, 3)
    shared = shared_two_outputs(rnnkit_layers, Input, Model).get_layer("shared")
    assert shared.input.name == "a"  # a layer called twice gives its first call's tensors, as in Keras 3


def test_never_called_layer_has_no_output_and_models_still_save(tmp_path):
    with pytest.raises(AttributeError, match="has never been called and thus has no defined output"):
        rnnkit_layers.Dense(2).output
    model = encoder_decoder(rnnkit_layers, Input, Model)
    model.save(tmp_path / "m.rnnkit")
    loaded = load_model(tmp_path / "m.rnnkit")
    assert layer_list(loaded) == layer_list(model)
    rebuilt = InputLayer.from_config(model.layers[0].get_config())
    assert rebuilt.output.shape == model.layers[0].output.shape
