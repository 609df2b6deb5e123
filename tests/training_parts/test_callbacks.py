"""Callbacks with a tiny fake model and a fit-like event loop (Keras semantics)."""
import math

import numpy as np
import pytest

from rnnkit import callbacks
from rnnkit.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)
from rnnkit.errors import ConfigError
from rnnkit.metrics import CategoricalAccuracy, MeanSquaredError
from rnnkit.optimizers import SGD


class FakeModel:
    """What callbacks may use: stop_training, optimizer, get/set_weights, save/save_weights, metrics."""

    def __init__(self, metrics=()):
        self.stop_training = False
        self.optimizer = SGD(learning_rate=0.1)
        self.weights = [np.zeros(2)]
        self.metrics = list(metrics)
        self.saved, self.saved_weights = [], []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(path)
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved_weights.append(path)


def fit(model, cbs, epoch_logs, steps=2, batch_logs=None):
    """Send fit's events for each epoch's logs; the weights become [epoch, epoch] during epoch ``epoch``."""
    cb_list = CallbackList(cbs, add_history=True, model=model, epochs=len(epoch_logs), steps=steps, verbose=0)
    model.stop_training = False
    cb_list.on_train_begin()
    epochs_run = 0
    for epoch, logs in enumerate(epoch_logs):
        cb_list.on_epoch_begin(epoch)
        for batch in range(steps):
            cb_list.on_train_batch_begin(batch)
            model.weights = [np.full(2, float(epoch))]
            cb_list.on_train_batch_end(batch, dict(batch_logs or {"loss": logs.get("loss", 0.0)}))
        logs = dict(logs)
        cb_list.on_epoch_end(epoch, logs)
        epochs_run += 1
        if model.stop_training:
            break
    cb_list.on_train_end()
    return model.history, epochs_run


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and callable(attr):
            def record(*args, **kwargs):
                object.__getattribute__(self, "events").append(name)
                return attr(*args, **kwargs)

            return record
        return attr


# ---------------------------------------------------------------------------------------- CallbackList
def test_callback_list_forwards_events_in_order_with_model_and_params():
    model, rec = FakeModel(), Recorder()
    fit(model, [rec], [{"loss": 1.0}], steps=1)
    assert rec.model is model and rec.params == {"epochs": 1, "steps": 1, "verbose": 0}
    assert rec.events == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_batch_begin",
                          "on_train_batch_end", "on_batch_end", "on_epoch_end", "on_train_end"]


def test_callback_list_forwards_test_and_predict_events_and_adds_progbar():
    rec = Recorder()
    cbs = CallbackList([rec], add_progbar=True, model=None, verbose=2, steps=1)
    assert any(isinstance(c, ProgressBar) for c in cbs)
    assert not any(isinstance(c, ProgressBar) for c in CallbackList([], add_progbar=True, verbose=0))
    for name in ("on_test_begin", "on_predict_begin"):
        getattr(cbs, name)()
    cbs.on_test_batch_end(0, {})
    cbs.on_predict_batch_end(0, {})
    assert rec.events == ["on_test_begin", "on_predict_begin", "on_test_batch_end", "on_predict_batch_end"]
    extra = Recorder()
    cbs.append(extra)
    assert extra.params == cbs.params and len(cbs) == 3


# ---------------------------------------------------------------------------------------- History
def test_history_records_each_epoch_and_sets_model_history():
    model = FakeModel()
    history, _ = fit(model, [], [{"loss": 0.9, "val_loss": 1.0}, {"loss": 0.5, "val_loss": 0.8}])
    assert isinstance(history, History)
    assert history.history == {"loss": [0.9, 0.5], "val_loss": [1.0, 0.8]}
    assert history.epoch == [0, 1]


# ---------------------------------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_counts_epochs_without_improvement():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    losses = [1.0, 0.8, 0.9, 0.85, 0.7]
    _, ran = fit(model, [stopper], [{"val_loss": v} for v in losses])
    assert ran == 4 and stopper.stopped_epoch == 3 and stopper.best == 0.8 and stopper.best_epoch == 1


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    model = FakeModel()
    stopper = EarlyStopping(monitor="loss")
    _, ran = fit(model, [stopper], [{"loss": v} for v in [1.0, 0.9, 0.95, 0.5]])
    assert ran == 3


def test_early_stopping_min_delta():
    model = FakeModel()
    values = [{"val_loss": v} for v in [1.0, 0.95, 0.92, 0.5]]
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", min_delta=0.1, patience=2)], values)
    assert ran == 3  # 0.95 and 0.92 are not better than 1.0 by more than 0.1
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", min_delta=-0.1, patience=2)], values)
    assert ran == 3  # the sign of min_delta is ignored
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", patience=2)], values)
    assert ran == 4
    rising = [{"acc": v} for v in [0.5, 0.55, 0.58, 0.9]]
    _, ran = fit(model, [EarlyStopping(monitor="acc", min_delta=0.1, patience=2)], rising)
    assert ran == 3


def test_early_stopping_auto_mode_maximises_accuracy_and_model_metrics():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    _, ran = fit(model, [stopper], [{"val_accuracy": v} for v in [0.5, 0.6, 0.55, 0.58, 0.9]])
    assert ran == 3 and stopper.best == 0.6
    custom = FakeModel(metrics=[CategoricalAccuracy(name="hits")])
    stopper = EarlyStopping(monitor="val_hits", patience=0)
    _, ran = fit(custom, [stopper], [{"val_hits": v} for v in [0.5, 0.6, 0.4]])
    assert ran == 3 and stopper.best == 0.6
    errors = FakeModel(metrics=[MeanSquaredError(name="err2")])
    stopper = EarlyStopping(monitor="err2", mode="auto")
    _, ran = fit(errors, [stopper], [{"err2": v} for v in [0.5, 0.6]])
    assert ran == 2 and stopper.best == 0.5


def test_early_stopping_explicit_mode_and_unknown_auto_metric():
    model = FakeModel()
    stopper = EarlyStopping(monitor="score", mode="max")
    _, ran = fit(model, [stopper], [{"score": v} for v in [1.0, 2.0, 1.5]])
    assert ran == 3
    with pytest.raises(ConfigError, match="mode='min'"):
        fit(model, [EarlyStopping(monitor="score")], [{"score": 1.0}])
    with pytest.raises(ConfigError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_restores_best_weights():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True, verbose=0)
    fit(model, [stopper], [{"val_loss": v} for v in [1.0, 0.5, 0.7, 0.9]])
    assert stopper.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # the weights at the end of epoch 1


def test_early_stopping_baseline_keeps_counting_until_beaten():
    model = FakeModel()
    values = [{"val_loss": v} for v in [0.9, 0.95, 0.97, 0.99]]
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", patience=2)], values)
    assert ran == 3
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", patience=2, baseline=0.5)], values)
    assert ran == 2  # the first value did not beat the baseline, so its epoch already counts as waiting
    _, ran = fit(model, [EarlyStopping(monitor="val_loss", patience=2, baseline=0.95)], values)
    assert ran == 3


def test_early_stopping_start_from_epoch_and_missing_monitor():
    model = FakeModel()
    stopper = EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=2)
    _, ran = fit(model, [stopper], [{"val_loss": v} for v in [1.0, 2.0, 3.0, 4.0, 5.0]])
    assert ran == 4 and stopper.best == 3.0
    with pytest.warns(UserWarning, match="val_loss"):
        fit(model, [EarlyStopping()], [{"loss": 1.0}])


def test_early_stopping_verbose_messages(capsys):
    model = FakeModel()
    fit(model, [EarlyStopping(monitor="loss", restore_best_weights=True, verbose=1)], [{"loss": v} for v in [1, 2]])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out and "best epoch: 1." in out


# ---------------------------------------------------------------------------------------- ModelCheckpoint
def test_checkpoint_every_epoch_formats_epoch_and_logs(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.rnnkit")
    fit(model, [ModelCheckpoint(pattern)], [{"val_loss": 0.5}, {"val_loss": 0.25}])
    assert model.saved == [str(tmp_path / "ckpt" / "m-01-0.50.rnnkit"), str(tmp_path / "ckpt" / "m-02-0.25.rnnkit")]
    assert all((tmp_path / "ckpt" / name).exists() for name in ("m-01-0.50.rnnkit", "m-02-0.25.rnnkit"))


def test_checkpoint_save_best_only_and_weights_only(tmp_path, capsys):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "best.weights"), monitor="val_accuracy", save_best_only=True,
                         save_weights_only=True, verbose=1)
    fit(model, [cb], [{"val_accuracy": v} for v in [0.5, 0.4, 0.7, 0.7]])
    assert model.saved == [] and len(model.saved_weights) == 2 and cb.best == 0.7
    out = capsys.readouterr().out
    assert "Epoch 1: val_accuracy improved from inf to 0.50000" in out
    assert "Epoch 2: val_accuracy did not improve from 0.50000" in out


def test_checkpoint_mode_min_and_initial_threshold(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "m{epoch}.rnnkit"), monitor="score", mode="min", save_best_only=True,
                         initial_value_threshold=0.6)
    fit(model, [cb], [{"score": v} for v in [0.7, 0.5, 0.55, 0.1]])
    assert [p[-9:] for p in model.saved] == ["m2.rnnkit", "m4.rnnkit"]


def test_checkpoint_every_n_batches(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.rnnkit"), save_freq=3)
    fit(model, [cb], [{"loss": 1.0}] * 2, steps=4)  # 8 batches: saves after the 3rd and 6th
    assert [p.rsplit("/", 1)[-1] for p in model.saved] == ["e1-b3.rnnkit", "e2-b2.rnnkit"]


def test_checkpoint_errors(tmp_path):
    model = FakeModel()
    with pytest.raises(ConfigError, match="val_acc"):
        fit(model, [ModelCheckpoint(str(tmp_path / "{val_acc}.rnnkit"))], [{"loss": 1.0}])
    with pytest.raises(ConfigError, match="save_freq"):
        ModelCheckpoint("x", save_freq="batch")
    with pytest.warns(UserWarning, match="val_loss"):
        fit(model, [ModelCheckpoint(str(tmp_path / "x"), save_best_only=True)], [{"loss": 1.0}])


# ---------------------------------------------------------------------------------------- LearningRateScheduler
def test_scheduler_sets_the_optimizer_rate_each_epoch_and_logs_it():
    model = FakeModel()
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5 if epoch >= 1 else lr

    history, _ = fit(model, [LearningRateScheduler(schedule)], [{"loss": 1.0}] * 3)
    assert seen == [(0, 0.1), (1, 0.1), (2, 0.05)]
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


def test_scheduler_one_argument_schedule_verbose_and_bad_output(capsys):
    model = FakeModel()
    fit(model, [LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1), verbose=1)], [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.02." in capsys.readouterr().out
    with pytest.raises(ConfigError, match="number"):
        fit(model, [LearningRateScheduler(lambda epoch, lr: "fast")], [{"loss": 1.0}])
    with pytest.raises(ConfigError, match="schedule"):
        LearningRateScheduler(0.1)


# ---------------------------------------------------------------------------------------- TerminateOnNaN
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_terminate_on_nan_stops_training(bad, capsys):
    model = FakeModel()
    _, ran = fit(model, [TerminateOnNaN()], [{"loss": 1.0}] * 3, batch_logs={"loss": bad})
    assert ran == 1 and model.stop_training
    assert "Batch 0: invalid loss" in capsys.readouterr().out


def test_terminate_on_nan_ignores_finite_losses():
    model = FakeModel()
    _, ran = fit(model, [TerminateOnNaN()], [{"loss": 1.0}] * 3)
    assert ran == 3


def test_package_exports_keras_names():
    assert callbacks.ProgbarLogger is ProgressBar
    assert callbacks.resolve_mode("val_loss", "auto") == "min"
    assert callbacks.resolve_mode("val_accuracy", "auto") == "max"
