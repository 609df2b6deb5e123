"""``rnnkit train``: the seed program (a recurrent classifier on MNIST-style images) from the command line.

With no flags it is exactly seed 000's Keras program on the bundled ``mnist_sample``: rows of a 28x28 image as
28 time steps of 28 features, ``SimpleRNN(32)``, ``Dense(10, softmax)``, Adam, batch 64, 10 epochs.

>>> from rnnkit.cli.train import TrainConfig, build_model
>>> model = build_model(TrainConfig(model="lstm", units=8, layers=2, bidirectional=True), (28, 28), 10)
>>> [type(layer).__name__ for layer in model.layers]
['Bidirectional', 'Bidirectional', 'Dense']
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.fileio import atomic_write_text

DATASETS = ("mnist-sample", "mnist", "fashion-mnist")
MODELS = ("simple_rnn", "lstm", "gru")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass
class TrainConfig:
    dataset: str = "mnist-sample"  # mnist-sample (bundled, offline) | mnist | fashion-mnist
    model: str = "simple_rnn"  # recurrent layer type: simple_rnn | lstm | gru
    units: int = 32  # hidden units per recurrent layer (the seed uses 32)
    layers: int = 1  # stacked recurrent layers; all but the last return sequences
    bidirectional: bool = False  # wrap each recurrent layer in Bidirectional (merge_mode='concat')
    epochs: int = 10  # passes over the training set (the seed uses 10)
    batch_size: int = 64  # samples per gradient step (the seed uses 64)
    lr: float = 0.001  # learning rate (Keras' Adam default)
    optimizer: str = "adam"  # adam | sgd | rmsprop
    clipnorm: float | None = None  # clip each gradient to this L2 norm (helps exploding gradients)
    seed: int = 1234  # seeds weights, dropout and shuffling: the same seed gives the same run
    out: str = "rnnkit-out"  # directory for model.rnnkit, history.json and curves.png
    verbose: int = 1  # 0 silent, 1 progress bar on a terminal (one line per epoch otherwise), 2 one line per epoch

    def validate(self) -> None:
        """Raise ConfigError naming any value outside its allowed range."""
        checks = [
            (self.dataset in DATASETS, f"--dataset must be one of {DATASETS}; got {self.dataset!r}"),
            (self.model in MODELS, f"--model must be one of {MODELS}; got {self.model!r}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}"),
            (self.units >= 1, f"--units must be >= 1; got {self.units}"),
            (self.layers >= 1, f"--layers must be >= 1; got {self.layers}"),
            (self.epochs >= 1, f"--epochs must be >= 1; got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1; got {self.batch_size}"),
            (self.lr > 0 and np.isfinite(self.lr), f"--lr must be a positive number; got {self.lr}"),
            (self.clipnorm is None or self.clipnorm > 0, f"--clipnorm must be positive; got {self.clipnorm}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


def load_dataset(name: str):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays for a CLI dataset name."""
    from rnnkit.datasets import fashion_mnist, mnist, mnist_sample

    loaders = {"mnist-sample": mnist_sample, "mnist": mnist, "fashion-mnist": fashion_mnist}
    if name not in loaders:
        raise ConfigError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    return loaders[name].load_data()


def prepare_images(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 sequences (N, 28 time steps, 28 features) in [0, 1]."""
    return (x.reshape(len(x), x.shape[1], -1) / 255.0).astype(np.float32)  # (N, H, W) -> (N, T=H, D=W)


def build_model(config: TrainConfig, input_shape: tuple, num_classes: int):
    """The recurrent classifier described by ``config``: recurrent layer(s), then Dense(softmax)."""
    from rnnkit import layers
    from rnnkit.models import Sequential

    recurrent = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[config.model]
    model = Sequential()
    for i in range(config.layers):
        first = {"input_shape": input_shape} if i == 0 else {}
        return_sequences = i < config.layers - 1
        if config.bidirectional:
            model.add(layers.Bidirectional(recurrent(config.units, return_sequences=return_sequences), **first))
        else:
            model.add(recurrent(config.units, return_sequences=return_sequences, **first))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def make_optimizer(config: TrainConfig):
    from rnnkit import optimizers

    classes = {"adam": optimizers.Adam, "sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop}
    clip = {} if config.clipnorm is None else {"clipnorm": config.clipnorm}
    return classes[config.optimizer](learning_rate=config.lr, **clip)


def run_training(config: TrainConfig) -> dict:
    """Train, evaluate, and write ``model.rnnkit``, ``history.json`` (and ``curves.png``) into ``config.out``."""
    from rnnkit.random import set_random_seed
    from rnnkit.utils import to_categorical

    config.validate()
    set_random_seed(config.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(config.dataset)
    x_train, x_test = prepare_images(x_train), prepare_images(x_test)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    y_train, y_test = to_categorical(y_train, num_classes), to_categorical(y_test, num_classes)

    model = build_model(config, x_train.shape[1:], num_classes)
    model.compile(loss="categorical_crossentropy", optimizer=make_optimizer(config), metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(x_test, y_test), verbose=config.verbose,
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)

    os.makedirs(config.out, exist_ok=True)
    model.save(os.path.join(config.out, "model.rnnkit"))
    record = {"config": dataclasses.asdict(config), "history": _plain(history.history),
              "test_loss": float(test_loss), "test_accuracy": float(test_accuracy)}
    atomic_write_text(os.path.join(config.out, "history.json"), json.dumps(record, indent=2))
    plot_curves(history.history, os.path.join(config.out, "curves.png"))
    return record


def _plain(history: dict) -> dict:
    return {key: [float(v) for v in values] for key, values in history.items()}


def plot_curves(history: dict, path: str) -> bool:
    """Save loss and accuracy per epoch to ``path`` if matplotlib is installed (extra ``rnnkit[plot]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    from rnnkit.fileio import atomic_write

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-o"), (f"val_{metric}", "--o")):
            if key in history:
                ax.plot(range(1, len(history[key]) + 1), history[key], style, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return True
