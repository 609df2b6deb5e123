"""``Normalization`` against Keras 3 (adapt, call, invert, fixed statistics, weights), gradients, save/load."""
import os

import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import Dense, Normalization
from rnnkit.models import Sequential, load_model


def keras_layer(**kwargs):
    import keras

    return keras.layers.Normalization(**kwargs)


SHAPES_AND_AXES = [
    ((50, 3), -1), ((50, 3), None), ((20, 6, 4), -1), ((20, 6, 4), (1, 2)), ((20, 6, 4), 1), ((20, 6, 4), None),
    ((30, 1), -1), ((30,), None), ((10, 4, 3), (-1, -2)),
]


@pytest.mark.parametrize("shape,axis", SHAPES_AND_AXES)
@pytest.mark.parametrize("invert", [False, True])
def test_adapt_and_call_equal_keras(shape, axis, invert):
    rng = np.random.default_rng(len(shape) * 10 + (0 if axis is None else 1))
    data = (rng.normal(size=shape) * rng.uniform(0.5, 20, size=shape[-1:]) + 7).astype(np.float32)
    theirs, mine = keras_layer(axis=axis, invert=invert), Normalization(axis=axis, invert=invert)
    theirs.adapt(data)
    mine.adapt(data)
    for a, b in zip(mine.get_weights()[:2], theirs.get_weights()[:2]):  # mean, variance (count: unused by both)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    x = data[:7] * 1.3 - 2.0
    np.testing.assert_allclose(mine(x).numpy(), np.asarray(theirs(x).cpu()), rtol=1e-5, atol=1e-4)
    assert [w.shape for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]


@pytest.mark.parametrize("batch", [1, 7, 25])
def test_adapt_on_batches_equals_keras(batch):
    rng = np.random.default_rng(batch)
    data = (rng.normal(size=(60, 5, 2)) * [3.0, 0.1] + [10.0, -4.0]).astype(np.float32)
    batches = [data[i:i + batch] for i in range(0, 60, batch)]
    theirs, mine = keras_layer(), Normalization()
    theirs.adapt(data)  # Keras' adapt on a list of batches needs TensorFlow here: its statistics of the whole
    mine.adapt(batches)
    np.testing.assert_allclose(mine.get_weights()[0], theirs.get_weights()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine.get_weights()[1], theirs.get_weights()[1], rtol=1e-5, atol=1e-6)
    whole = data.reshape(-1, 2)  # (B*T, 2)
    np.testing.assert_allclose(mine.get_weights()[0], whole.mean(0), rtol=1e-5)  # and equal to the plain formulas
    np.testing.assert_allclose(mine.get_weights()[1], whole.var(0), rtol=1e-4)


@pytest.mark.parametrize("mean,variance,shape,axis", [
    (3.0, 4.0, (5, 2), -1), ([1.0, 2.0], [4.0, 0.25], (5, 2), -1), ([1.0, -2.0, 0.5], [9.0, 1.0, 0.0], (4, 6, 3), -1),
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], (3, 2, 2), (1, 2)),
])
@pytest.mark.parametrize("invert", [False, True])
def test_fixed_statistics_equal_keras(mean, variance, shape, axis, invert):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32) * 5
    mine = Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
    theirs = keras_layer(axis=axis, mean=mean, variance=variance, invert=invert)
    np.testing.assert_allclose(mine(x).numpy(), np.asarray(theirs(x).cpu()), rtol=1e-5, atol=1e-5)
    assert mine.weights == []


def test_invert_undoes_the_scaling():
    data = np.random.default_rng(1).normal(size=(40, 3)) * [1.0, 50.0, 0.01] + [0.0, 300.0, -2.0]
    forward, inverse = Normalization(dtype="float64"), Normalization(invert=True, dtype="float64")
    forward.adapt(data)
    inverse.adapt(data)
    np.testing.assert_allclose(inverse(forward(data)).numpy(), data, rtol=1e-12, atol=1e-12)
    scaled = forward(data).numpy()
    np.testing.assert_allclose(scaled.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(0), 1, atol=1e-12)


def test_gradient_through_the_layer():
    data = np.random.default_rng(2).normal(size=(10, 3)) * 4 + 1
    for invert in (False, True):
        layer = Normalization(invert=invert, dtype="float64")
        layer.adapt(data)
        check_gradients(lambda x: layer(x), [data[:4]])


def test_saved_with_the_model(tmp_path):
    data = np.random.default_rng(3).normal(size=(64, 2)).astype(np.float32) * [2.0, 30.0] + [5.0, 100.0]
    norm = Normalization(input_shape=(2,))
    norm.adapt(data)
    model = Sequential([norm, Dense(1), Normalization(mean=3.0, variance=16.0, invert=True)])
    model.compile(optimizer="adam", loss="mse")
    path = os.path.join(tmp_path, "m.rnnkit")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], norm.get_weights()[0])
    assert loaded.layers[0].trainable_weights == [] or all(not w.trainable for w in loaded.layers[0].weights)
    before = [w.copy() for w in model.layers[0].get_weights()]
    model.fit(data, data[:, :1], epochs=1, verbose=0)
    for a, b in zip(model.layers[0].get_weights(), before):  # statistics are not trained
        np.testing.assert_array_equal(a, b)


def test_errors():
    with pytest.raises(ConfigError, match="both `mean` and `variance` must be set"):
        Normalization(mean=1.0)
    with pytest.raises(ConfigError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ShapeError, match="incompatible shape"):
        layer.adapt(np.ones((4, 2)))
    with pytest.raises(ShapeError, match="NaN"):
        Normalization().adapt(np.array([[1.0], [np.nan]]))
    layer(np.ones((5, 7, 3)))  # rows (N, 3) adapted, windows (B, T, 3) scaled
    with pytest.raises(ShapeError, match=r"statistics of shape \(1, 3\)"):
        layer(np.ones((5, 7, 2)))
    with pytest.raises(ShapeError, match=r"axis"):
        Normalization(axis=3)(np.ones((2, 3)))
