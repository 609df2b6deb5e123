"""compile / fit / evaluate / predict and the per-batch steps, on a small synthetic sequence task."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import callbacks
from rnnkit.errors import ConfigError, NonFiniteError, ShapeError
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.optimizers import SGD, Adam
from rnnkit.random import set_random_seed


def task(n=240, seed=0):
    """Which of 3 features has the largest mean over 5 time steps."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5, 3))  # float64, like the seed's /255.0 data
    labels = x.mean(axis=1).argmax(axis=1)
    return x, labels, np.eye(3, dtype=np.float32)[labels]


def small_model(seed=0, lr=0.02):
    set_random_seed(seed)
    model = Sequential([SimpleRNN(16, input_shape=(5, 3)), Dense(3, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=lr), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_training_lowers_loss_and_raises_accuracy():
    x, _, y = task()
    model = small_model()
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history is model.history and sorted(history.history) == ["accuracy", "loss"]
    loss, acc = history.history["loss"], history.history["accuracy"]
    assert len(loss) == 8 and loss[-1] < 0.6 * loss[0]
    assert acc[-1] > 0.8 and acc[-1] > acc[0]
    test_loss, test_acc = model.evaluate(*task(120, seed=1)[::2], verbose=0)
    assert test_acc > 0.75 and np.isfinite(test_loss)


def test_logged_loss_is_the_batch_size_weighted_mean_and_evaluate_matches_predict():
    x, labels, y = task(50)
    model = small_model()
    loss, acc = model.evaluate(x, y, batch_size=16, verbose=0)  # batches of 16, 16, 16, 2
    probs = model.predict(x, batch_size=7, verbose=0)
    expected = -np.mean(np.log(np.clip(probs[np.arange(50), labels], 1e-7, 1)))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx({"loss": loss, "accuracy": acc})


def test_evaluate_returns_the_loss_alone_without_metrics():
    x, labels, _ = task(20)
    set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(5, 3)), Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, labels, verbose=0), float)


def test_validation_split_holds_out_the_last_fraction():
    x, _, y = task(100)
    model = small_model()
    history = model.fit(x, y, epochs=1, batch_size=20, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    val_loss, val_acc = model.evaluate(x[75:], y[75:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(val_acc)


def test_validation_data_and_callbacks_see_every_event():
    class Recorder(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_train_begin(self, logs=None):
            self.events.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            self.events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_batch_end(self, batch, logs=None):
            self.events.append(("batch", batch))

        def on_test_begin(self, logs=None):
            self.events.append("test_begin")

        def on_train_end(self, logs=None):
            self.events.append("train_end")

    x, _, y = task(40)
    recorder = Recorder()
    model = small_model()
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:10], y[:10]), callbacks=[recorder], verbose=0)
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert recorder.events == ["train_begin", ("batch", 0), ("batch", 1), ("batch", 2), "test_begin",
                               ("epoch_end", 0, keys), ("batch", 0), ("batch", 1), ("batch", 2), "test_begin",
                               ("epoch_end", 1, keys), "train_end"]
    assert recorder.model is model and recorder.params["steps"] == 3 and recorder.params["epochs"] == 2


def test_early_stopping_stops_and_initial_epoch_counts():
    x, _, y = task(40)
    model = small_model(lr=0.0)  # nothing improves
    stopper = callbacks.EarlyStopping(monitor="loss", patience=1)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper], initial_epoch=3, shuffle=False)
    assert history.epoch == [3, 4] and model.stop_training


def test_verbose_prints_one_line_per_epoch(capsys):
    x, _, y = task(32)
    small_model().fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "accuracy:" in out
    small_model().fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_shuffle_is_seeded_and_changes_the_result():
    x, _, y = task(64)

    def trained(shuffle, seed=3):
        model = small_model()
        set_random_seed(seed)
        model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        return model.get_weights()

    a, b, c, d = trained(True), trained(True), trained(True, seed=4), trained(False)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))
    assert not all(np.array_equal(p, q) for p, q in zip(a, d))


def test_fit_matches_hand_written_sgd_steps():
    x, labels, _ = task(24)
    set_random_seed(5)
    model = Sequential([SimpleRNN(4, input_shape=(5, 3)), Dense(3)])
    reference = Sequential.from_config(model.get_config())
    reference.set_weights(model.get_weights())
    model.compile(optimizer=SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, batch_size=10, epochs=1, shuffle=False, verbose=0)  # batches 10, 10, 4
    from rnnkit.losses import SparseCategoricalCrossentropy

    loss_fn = SparseCategoricalCrossentropy()
    for start in (0, 10, 20):
        reference.zero_grad()
        loss_fn(labels[start:start + 10], reference(x[start:start + 10].astype(np.float32))).backward()
        for w in reference.trainable_weights:
            w.data -= np.float32(0.1) * w.grad
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_on_batch_methods():
    x, _, y = task(16)
    model = small_model()
    before = model.test_on_batch(x, y)
    after = model.train_on_batch(x, y)
    assert before[0] == pytest.approx(after[0], rel=1e-6)  # train_on_batch reports the loss before its update
    assert model.test_on_batch(x, y)[0] < before[0]
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    assert set(model.train_on_batch(x, y, return_dict=True)) == {"loss", "accuracy"}


def test_predict_batches_and_records_no_graph():
    x, _, _ = task(70)
    model = small_model()
    out = model.predict(x, batch_size=32, verbose=0)
    assert out.shape == (70, 3) and isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-6)
    from rnnkit.autograd import is_grad_enabled

    class Probe(Dense):
        def call(self, inputs):
            self.recorded = is_grad_enabled()
            return super().call(inputs)

    probe_model = Sequential([Probe(2, input_shape=(3,))])
    probe_model.predict(np.ones((3, 3)), verbose=0)
    assert probe_model.layers[0].recorded is False  # predict runs under no_grad
    assert probe_model(np.ones((3, 3))).requires_grad and probe_model.layers[0].recorded


def test_non_finite_loss_names_epoch_and_batch_unless_terminate_on_nan():
    x, _, y = task(48)
    x[20] = np.nan  # the second batch of 16
    with pytest.raises(NonFiniteError, match=r"epoch 1/2, batch 2/3"):
        small_model().fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model = small_model()
    weights_before = None

    class Snapshot(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            nonlocal weights_before
            if batch == 0:
                weights_before = self.model.get_weights()

    history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[Snapshot(), callbacks.TerminateOnNaN()])
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, model.get_weights()))  # NaN step skipped


def test_clear_errors():
    x, labels, y = task(10)
    model = Sequential([SimpleRNN(4, input_shape=(5, 3)), Dense(3, activation="softmax")])
    with pytest.raises(ConfigError, match="compile"):
        model.fit(x, y)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ShapeError, match="x has 10 samples but y has 9"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy"):
        model.fit(x, labels, verbose=0)  # integer labels with a one-hot loss
    with pytest.raises(ConfigError, match="verbose"):
        model.fit(x, y, verbose=3)
    with pytest.raises(ConfigError, match="batch_size"):
        model.fit(x, y, batch_size=0)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        model.compile(optimizer="adamw", loss="mse")
