"""CSVLogger, ReduceLROnPlateau and TensorBoard against Keras 3's own callbacks and TensorBoard's own reader."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.callbacks import CSVLogger, ReduceLROnPlateau, TensorBoard
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential

LOGS = [
    {"loss": 0.9, "accuracy": 0.5},
    {"loss": 0.7, "accuracy": np.float32(0.625), "val_loss": 0.8},
    {"loss": np.float64(0.5), "accuracy": 0.75, "extra": np.array([1.5, 2.0]), "note": "text, with comma"},
    {"loss": 1e-7, "accuracy": np.array(0.875)},
]


def feed(callback, logs_sequence, first_epoch=0):
    callback.on_train_begin({})
    for epoch, logs in enumerate(logs_sequence, start=first_epoch):
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end({})


@pytest.mark.parametrize("separator", [",", ";", "\t"])
@pytest.mark.parametrize("first", [0, 1])  # first epoch without / with validation logs
def test_csv_logger_writes_the_same_bytes_as_keras(tmp_path, separator, first):
    import keras

    sequence = LOGS[first:]
    for append in (False, True):  # a second run appends under the first one
        feed(keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"), separator=separator, append=append), sequence)
        feed(CSVLogger(tmp_path / "rnnkit.csv", separator=separator, append=append), sequence, 0)
    expected = (tmp_path / "keras.csv").read_bytes()
    assert (tmp_path / "rnnkit.csv").read_bytes() == expected
    assert expected.count(b"\r\n") == 2 * (len(sequence) + 1) - 1  # one header only: append adds rows


def test_csv_logger_append_to_empty_file_writes_header(tmp_path):
    import keras

    for name, cls in (("keras.csv", keras.callbacks.CSVLogger), ("rnnkit.csv", CSVLogger)):
        (tmp_path / name).write_text("")
        feed(cls(str(tmp_path / name), append=True), LOGS[:2])
    assert (tmp_path / "rnnkit.csv").read_bytes() == (tmp_path / "keras.csv").read_bytes()


def keras_lr_sequence(values, **kwargs):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau(**kwargs)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        logs = {"val_loss": value, "val_accuracy": -value}
        callback.on_epoch_end(epoch, logs)
        rates.append(float(model.optimizer.learning_rate))
    return rates


def rnnkit_lr_sequence(values, **kwargs):
    from rnnkit.optimizers import SGD

    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    callback = ReduceLROnPlateau(**kwargs)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        logs = {"val_loss": value, "val_accuracy": -value}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(rates[-1] if rates else 0.1)
        rates.append(float(model.optimizer.learning_rate))
    return rates


SETTINGS = [
    dict(monitor="val_loss", factor=0.5, patience=2),
    dict(monitor="val_loss", factor=0.2, patience=1, cooldown=2, min_lr=0.001),
    dict(monitor="val_loss", factor=0.5, patience=3, min_delta=0.05),
    dict(monitor="val_accuracy", mode="max", factor=0.3, patience=2, cooldown=1, min_delta=0.01, min_lr=0.005),
    dict(monitor="val_loss", mode="min", factor=0.1, patience=0),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_reduce_lr_on_plateau_gives_keras_learning_rates(settings):
    rng = np.random.default_rng(len(str(settings)))
    values = list(np.round(1.0 - 0.02 * np.arange(40) + 0.15 * rng.random(40), 3))  # noisy, slowly improving
    values[20:30] = [values[19] + 0.01 * i for i in range(10)]  # a plateau that gets worse
    expected = keras_lr_sequence(values, **settings)
    got = rnnkit_lr_sequence(values, **settings)
    assert len(set(expected)) > 2  # the sequence reduces the rate several times
    np.testing.assert_allclose(got, expected, rtol=1e-6)  # Keras keeps the rate in float32


def test_reduce_lr_on_plateau_errors_and_missing_monitor():
    with pytest.raises(Exception, match="factor"):
        ReduceLROnPlateau(factor=1.0)
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    callback = ReduceLROnPlateau(monitor="val_loss")
    callback.set_model(model)
    callback.on_train_begin()
    with pytest.warns(UserWarning, match="val_loss"):
        callback.on_epoch_end(0, {"loss": 1.0})


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                               "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_scalars_histograms_and_images_read_back_by_tensorboard(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6, 2)), rng.normal(size=(40, 1))
    model = Sequential([SimpleRNN(3, name="rnn"), Dense(1, name="out")], name="seq")
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    board = TensorBoard(tmp_path / "logs", histogram_freq=2, update_freq=3, write_images=True,
                        gradient_flow_data=(x[:8], y[:8]))
    history = model.fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0, callbacks=[board])
    train, validation = read_events(tmp_path / "logs" / "train"), read_events(tmp_path / "logs" / "validation")
    # epoch scalars: Keras' tags, the train/ and validation/ folders, step = epoch
    for name in ("loss", "mae"):
        events = train.Scalars(f"epoch_{name}")
        assert [e.step for e in events] == [0, 1, 2]
        np.testing.assert_allclose([e.value for e in events], history.history[name], rtol=1e-6)
        val = validation.Scalars(f"epoch_{name}")
        np.testing.assert_allclose([e.value for e in val], history.history[f"val_{name}"], rtol=1e-6)
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.001] * 3)
    # batch scalars every 3 batches: 3 batches per epoch, global steps 3, 6, 9
    assert [e.step for e in train.Scalars("batch_loss")] == [3, 6, 9]
    assert [e.step for e in validation.Scalars("evaluation_loss_vs_iterations")] == [3, 6, 9]
    # histograms at epochs 0 and 2 (histogram_freq=2): weights and their gradients
    tags = train.Tags()
    assert "seq/rnn/simple_rnn_cell/kernel/histogram" in tags["histograms"]
    weights = train.Histograms("seq/out/kernel/histogram")
    assert [e.step for e in weights] == [0, 2]
    assert weights[-1].histogram_value.num == 3  # three numbers in the (3, 1) kernel
    assert weights[-1].histogram_value.min == pytest.approx(float(model.layers[1].kernel.data.min()), rel=1e-6)
    assert [e.step for e in train.Histograms("seq/out/bias/gradient")] == [0, 2]
    # images: the weights and the gradient flow
    flow = train.Images("gradient_flow")
    assert [e.step for e in flow] == [0, 2] and flow[0].width > 300 and flow[0].height > 200
    assert "seq/out/kernel/image" in tags["images"]
    assert "keras" in str(tags)  # the model config as text (write_graph)


def test_tensorboard_epoch_only_writes_no_batch_scalars(tmp_path):
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, epochs=2, verbose=0,
              callbacks=[TensorBoard(tmp_path, write_graph=False)])
    train = read_events(tmp_path / "train")
    assert sorted(train.Tags()["scalars"]) == ["epoch_learning_rate", "epoch_loss"]
    assert not (tmp_path / "validation").exists()
    with pytest.raises(Exception, match="update_freq"):
        TensorBoard(tmp_path, update_freq=0)
