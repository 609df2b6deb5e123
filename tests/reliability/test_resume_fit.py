"""fit + BackupAndRestore: same seed gives the same bits, and a crashed run resumed from its checkpoint ends
bitwise equal to one that never stopped (dropout, shuffling, Adam slots, metrics and history included)."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from rnnkit import ops
from rnnkit.callbacks import BackupAndRestore, Callback
from rnnkit.errors import ConfigError, DataError, NonFiniteError
from rnnkit.layers import LSTM, Dense, Dropout
from rnnkit.models import Model, Sequential, load_model
from rnnkit.models import checkpoint as checkpoint_module
from rnnkit.models import saving
from rnnkit.random import next_seed, set_random_seed

N, T, D, CLASSES = 40, 5, 3, 4
DATA_RNG = np.random.default_rng(123)
X = DATA_RNG.normal(size=(N, T, D)).astype(np.float32)
Y = np.eye(CLASSES, dtype=np.float32)[DATA_RNG.integers(0, CLASSES, N)]
X_VAL, Y_VAL = X[:8] * 0.5, Y[:8]


class Crash(Exception):
    """Stands for a process dying after a given number of training steps."""


class CrashAfter(Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps, self.done = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.steps:
            raise Crash


def make_model():
    model = Sequential([LSTM(6, dropout=0.25, return_sequences=False, input_shape=(T, D)), Dropout(0.3),
                        Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(callbacks=(), epochs=3, seed=11, batch_size=6):
    """A fresh 'process': seed, build, fit. Returns the model and its History."""
    set_random_seed(seed)
    model = make_model()
    history = model.fit(X, Y, batch_size=batch_size, epochs=epochs, verbose=0, validation_data=(X_VAL, Y_VAL),
                        callbacks=list(callbacks))
    return model, history


def assert_same_run(a, b):
    (model_a, history_a), (model_b, history_b) = a, b
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        assert wa.tobytes() == wb.tobytes()
    state_a, state_b = model_a.optimizer.get_state(), model_b.optimizer.get_state()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert np.asarray(state_a[key]).tobytes() == np.asarray(state_b[key]).tobytes(), key
    assert history_a.history == history_b.history
    assert history_a.epoch == history_b.epoch
    assert next_seed() is not None  # the global stream is usable after a resume


def test_same_seed_is_bitwise_identical_with_dropout():
    first, second = train(), train()
    assert_same_run(first, second)
    _, other = train(seed=12)
    assert other.history["loss"] != first[1].history["loss"]  # the seed matters (so dropout is really random)


@pytest.mark.parametrize("save_freq", [1, 4, "epoch"])
@pytest.mark.parametrize("crash_after", [1, 5, 7, 13, 20])  # 7 steps per epoch: inside, at the end, mid-run
def test_crash_and_resume_equals_uninterrupted(tmp_path, save_freq, crash_after):
    reference = train()
    with pytest.raises(Crash):
        train([BackupAndRestore(tmp_path, save_freq=save_freq), CrashAfter(crash_after)])
    backup = BackupAndRestore(tmp_path, save_freq=save_freq)
    resumed = train([backup])
    steps_per_epoch = -(-N // 6)
    saved = crash_after > steps_per_epoch or (save_freq != "epoch" and any(
        g % save_freq == 0 and g % steps_per_epoch for g in range(1, crash_after + 1)))
    assert backup.restored == saved
    assert_same_run(reference, resumed)
    assert not (tmp_path / "checkpoint.rnnkit").exists()  # delete_checkpoint=True after a normal end


def test_several_crashes_in_a_row(tmp_path):
    reference = train(epochs=2)
    for crash_after in (3, 2, 6):
        with pytest.raises(Crash):
            train([BackupAndRestore(tmp_path, save_freq=1), CrashAfter(crash_after)], epochs=2)
    assert_same_run(reference, train([BackupAndRestore(tmp_path, save_freq=1)], epochs=2))


def test_checkpoint_contents_and_is_a_model_file(tmp_path):
    with pytest.raises(Crash):
        train([BackupAndRestore(tmp_path, save_freq=2, metadata={"note": "x"}), CrashAfter(4)])
    path = tmp_path / "checkpoint.rnnkit"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        state = json.loads(archive.read("training_state.json"))
    assert {"config.json", "weights.npz", "optimizer.npz", "training_state.json", "order.npz"} <= names
    assert (state["epoch"], state["step"], state["global_step"]) == (0, 4, 4)
    assert state["metadata"] == {"note": "x"}
    assert len(state["rng"]["layers"]) == 2  # the LSTM cell's and the Dropout layer's generators
    assert checkpoint_module.read_metadata(path)["metadata"] == {"note": "x"}
    assert load_model(path).predict(X[:2], verbose=0).shape == (2, CLASSES)


def test_resume_with_other_data_size_is_refused(tmp_path):
    with pytest.raises(Crash):
        train([BackupAndRestore(tmp_path, save_freq=1), CrashAfter(2)])
    with pytest.raises(ConfigError, match="batch_size=6"):
        train([BackupAndRestore(tmp_path)], batch_size=5)


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    with pytest.raises(Crash):
        train([BackupAndRestore(tmp_path, save_freq=1), CrashAfter(3)])
    path = tmp_path / "checkpoint.rnnkit"
    before = path.read_bytes()

    def broken(arrays):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving, "_npz_bytes", broken)
    with pytest.raises(OSError, match="No space"):
        train([BackupAndRestore(tmp_path, save_freq=1)])
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.rnnkit"]  # no temporary file left behind


def test_corrupt_checkpoint_is_a_data_error(tmp_path):
    with pytest.raises(Crash):
        train([BackupAndRestore(tmp_path, save_freq=1), CrashAfter(3)])
    path = tmp_path / "checkpoint.rnnkit"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="checkpoint.rnnkit"):
        train([BackupAndRestore(tmp_path)])


class SqrtOfZero(Model):
    """Finite loss, NaN gradient: d sqrt(u)/du is infinite at u = 0 and the upstream gradient is 0."""

    def __init__(self):
        super().__init__()
        self.head = Dense(1)
        self.probe = Dense(1, kernel_initializer="zeros", name="probe")

    def call(self, x):
        return self.head(x) + ops.sqrt(self.probe(x)) * 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_gradient_names_epoch_step_and_parameter(tmp_path):
    set_random_seed(0)
    model = SqrtOfZero()
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 2))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(NonFiniteError) as info:
        model.fit(np.ones((8, 2)), np.zeros((8, 1)), batch_size=4, epochs=2, verbose=0)
    error = info.value
    assert (error.epoch, error.step, error.parameter) == (1, 1, "probe/kernel")
    assert "'probe/kernel'" in str(error) and "clipnorm" in str(error) and "epoch 1/2, batch 1/2" in str(error)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing was updated


class PoisonAfter(Callback):
    """Makes one weight NaN after a given step, as a diverging update would."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.step:
            self.model.layers[-1].kernel.data[0, 0] = np.nan


def test_nonfinite_weights_are_never_checkpointed(tmp_path):
    set_random_seed(0)
    backup = BackupAndRestore(tmp_path, save_freq=1)
    model = make_model()
    fit_args = dict(batch_size=6, epochs=2, verbose=0)
    with pytest.raises(Crash):
        model.fit(X, Y, callbacks=[backup, CrashAfter(2)], **fit_args)
    good = (tmp_path / "checkpoint.rnnkit").read_bytes()
    set_random_seed(0)
    model = make_model()
    with pytest.raises(NonFiniteError, match="not written") as info:
        model.fit(X, Y, callbacks=[PoisonAfter(3), BackupAndRestore(tmp_path, save_freq=1)], **fit_args)
    assert info.value.parameter.endswith("kernel")
    assert (tmp_path / "checkpoint.rnnkit").read_bytes() == good
