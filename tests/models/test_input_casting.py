"""Bool and integer inputs reach float layers cast to the layer's dtype, as Keras casts them (they used to stop
with ``ShapeError: x must be a float array; got dtype bool``); integer ids stay integers for Embedding; texts
flow into a model that starts with TextVectorization."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import LSTM, Dense, Embedding, SimpleRNN, TextVectorization
from rnnkit.models import Input, Model, Sequential
from rnnkit.random import set_random_seed

RNG = np.random.default_rng(0)
BITS = RNG.integers(0, 2, size=(6, 5, 3))
DTYPES = ["bool", "uint8", "int32", "int64"]


def sequential():
    set_random_seed(1)
    model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def functional():
    set_random_seed(1)
    inputs = Input((5, 3))
    model = Model(inputs, Dense(2)(SimpleRNN(4)(inputs)))
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build", [sequential, functional])
def test_integer_and_bool_inputs_equal_their_float_values(build, dtype):
    x = BITS.astype(dtype)
    floats = BITS.astype("float32")
    y = RNG.normal(size=(6, 2)).astype("float32")
    model = build()
    out = model(x)  # builds the weights (lazily) from the seed
    reference = build()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, reference(floats).data)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference.predict(floats, verbose=0))
    assert model.evaluate(x, y, verbose=0) == reference.evaluate(floats, y, verbose=0)
    model.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    reference.fit(floats, y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_float_layer_returns_its_dtype_as_keras(dtype):
    import keras

    ours = Dense(2, dtype="float64")(np.ones((2, 3), dtype)).dtype
    theirs = keras.layers.Dense(2, dtype="float64")(np.ones((2, 3), dtype)).dtype
    assert ours == np.float64 and str(theirs).endswith("float64")


class SpyEmbedding(Embedding):
    seen = []

    def call(self, inputs):
        SpyEmbedding.seen.append(inputs.dtype)
        return super().call(inputs)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_embedding_ids_stay_integers(dtype):
    SpyEmbedding.seen = []
    model = Sequential([SpyEmbedding(10, 3), SimpleRNN(2)])
    model.compile(optimizer="sgd", loss="mse")
    ids = RNG.integers(0, 10, size=(4, 6)).astype(dtype)
    model.fit(ids, np.zeros((4, 2)), verbose=0)
    model.predict(ids, verbose=0)
    assert SpyEmbedding.seen and all(d == np.dtype(dtype) for d in SpyEmbedding.seen)


def test_strings_flow_into_a_text_vectorization_model():
    texts = np.array(["the cat sat", "a dog ran far", "the dog sat", "a cat ran"])
    vectorize = TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(texts)
    model = Sequential([vectorize, Embedding(20, 4), SimpleRNN(3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(texts, np.ones((4, 1)), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(texts, verbose=0).shape == (4, 1)
