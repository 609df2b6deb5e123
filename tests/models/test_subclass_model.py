"""Subclassed models: sub-layers tracked as attributes, build, fit, and saving through the registry."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.layers import Dense, SimpleRNN, register
from rnnkit.losses import SparseCategoricalCrossentropy
from rnnkit.models import Model, load_model
from rnnkit.optimizers import Adam
from rnnkit.random import set_random_seed


class LastStep(Model):
    """SimpleRNN over the sequence, then Dense on the last output (the seed's PyTorch model)."""

    def __init__(self, hidden_size=8, num_classes=3, name=None):
        super().__init__(name=name)
        self.rnn = SimpleRNN(hidden_size, return_sequences=True)
        self.fc = Dense(num_classes)

    def call(self, x, training=False):
        out = self.rnn(x, training=training)  # (B, T, H)
        return self.fc(out[:, -1, :])  # (B, H) -> (B, classes)


def test_weights_are_tracked_and_build_creates_them():
    model = LastStep(hidden_size=4, num_classes=2)
    assert not model.built and model.layers == [model.rnn, model.fc]
    model.build((None, 6, 3))
    assert model.built and [w.shape for w in model.weights] == [(3, 4), (4, 4), (4,), (4, 2), (2,)]
    x = np.random.default_rng(0).standard_normal((5, 6, 3))
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.fc(model.rnn(x).numpy()[:, -1, :]).numpy(), rtol=1e-6)


def test_subclass_fits():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 5, 2))
    labels = (x[:, -1, 0] > 0).astype(int)  # depends on the last step
    model = LastStep(8, 2)
    model.compile(optimizer=Adam(learning_rate=0.01), loss=SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, labels, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8


def test_get_config_records_constructor_arguments():
    model = LastStep(hidden_size=5, num_classes=4, name="net")
    assert model.get_config() == {"hidden_size": 5, "num_classes": 4, "name": "net"}


def test_unregistered_subclass_cannot_be_saved_but_registered_one_round_trips(tmp_path):
    class Unregistered(LastStep):
        pass

    model = Unregistered(4, 2)
    model.build((None, 3, 2))
    with pytest.raises(ConfigError, match="register"):
        model.save(tmp_path / "x.rnnkit")
    model.save_weights(tmp_path / "x.weights")  # weights alone always work
    twin = Unregistered(4, 2)
    twin.load_weights(tmp_path / "x.weights")  # built from the saved input spec, then filled
    x = np.ones((2, 3, 2))
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))

    register(LastStep)
    set_random_seed(1)
    saved = LastStep(4, 2)
    saved.compile(optimizer="sgd", loss="mse")
    saved.fit(np.ones((4, 3, 2)), np.zeros((4, 2)), epochs=1, verbose=0)
    saved.save(tmp_path / "last.rnnkit")
    loaded = load_model(tmp_path / "last.rnnkit")
    assert type(loaded) is LastStep and loaded.get_config() == saved.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), saved.predict(x, verbose=0))
