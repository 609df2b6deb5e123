"""The convolution layers compose with Dense and the recurrent layers: a tiny CRNN (Conv2D -> MaxPooling2D ->
BatchNormalization -> Permute/Reshape to (B, W, H*C) -> Bidirectional(LSTM) -> Dense), Sequential and
functional, trained a step, saved and loaded; BatchNormalization's moving statistics survive the file."""
import numpy as np
import pytest

from rnnkit.layers import (
    LSTM,
    BatchNormalization,
    Bidirectional,
    Conv2D,
    Dense,
    Flatten,
    GlobalMaxPooling2D,
    MaxPooling2D,
    Permute,
    Reshape,
)
from rnnkit.models import Input, Model, Sequential, load_model
from rnnkit.random import set_random_seed

H, W, CLASSES = 8, 12, 5


def crnn_layers():
    return [
        Conv2D(4, 3, padding="same", activation="relu"),  # (B, 8, 12, 4)
        MaxPooling2D(2),  # (B, 4, 6, 4)
        BatchNormalization(momentum=0.5),
        Conv2D(6, (2, 2), padding="same", activation="relu"),  # (B, 4, 6, 6)
        MaxPooling2D((2, 1)),  # (B, 2, 6, 6)
        Permute((2, 1, 3)),  # (B, 6, 2, 6): the width becomes time
        Reshape((-1, 2 * 6)),  # (B, 6, 12)
        Bidirectional(LSTM(5, return_sequences=True)),  # (B, 6, 10)
        Dense(CLASSES, activation="softmax"),  # Dense on (B, T, F): (B, 6, 5)
    ]


def sequential_crnn():
    return Sequential([Input((H, W, 1))] + crnn_layers())


def functional_crnn():
    inputs = Input((H, W, 1))
    x = inputs
    for layer in crnn_layers():
        x = layer(x)
    return Model(inputs, x)


def data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, H, W, 1)).astype(np.float32), rng.integers(0, CLASSES, (n, 6))


@pytest.mark.parametrize("build", [sequential_crnn, functional_crnn], ids=["sequential", "functional"])
def test_crnn_trains_and_round_trips(build, tmp_path):
    set_random_seed(0)
    model = build()
    x, y = data()
    assert model.predict(x, verbose=0).shape == (6, 6, CLASSES)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    bn = next(layer for layer in model.layers if isinstance(layer, BatchNormalization))
    before_w = [w.copy() for w in model.get_weights()]
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    after_w = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(before_w, after_w)), "every weight moved"
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)  # the training steps moved the statistics
    assert [w.name.split("/")[-1] for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert len(model.trainable_weights) == len(model.weights) - 2

    path = tmp_path / "crnn.rnnkit"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded_bn = next(layer for layer in loaded.layers if isinstance(layer, BatchNormalization))
    np.testing.assert_array_equal(loaded_bn.moving_mean.numpy(), bn.moving_mean.numpy())
    np.testing.assert_array_equal(loaded_bn.moving_variance.numpy(), bn.moving_variance.numpy())
    # the loaded model continues training exactly as the original
    np.testing.assert_allclose(loaded.train_on_batch(x, y), model.train_on_batch(x, y), rtol=1e-6)


def test_batch_normalization_after_fit_equals_the_formula_with_the_saved_statistics(tmp_path):
    set_random_seed(1)
    rng = np.random.default_rng(1)
    x = (3.0 + 2.0 * rng.standard_normal((64, 4, 4, 3))).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = Sequential([Input((4, 4, 3)), BatchNormalization(), Conv2D(2, 3), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "bn.rnnkit"
    model.save(path)
    loaded = load_model(path)
    for m in (model, loaded):
        bn = m.layers[0]
        gamma, beta, mean, var = (w.numpy().astype(np.float64) for w in bn.weights)
        assert mean.min() > 0.15  # 8 steps at momentum 0.99: about 3 * (1 - 0.99**8) = 0.23, from 0
        expected = (x - mean) / np.sqrt(var + 1e-3) * gamma + beta
        np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_global_pooling_classifier_fits():
    set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 6, 6, 1)).astype(np.float32)
    y = (x[:, 2:4, 2:4, 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    model = Sequential([Input((6, 6, 1)), Conv2D(8, 3, padding="same", activation="relu"), GlobalMaxPooling2D(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
