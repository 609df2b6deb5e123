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
import sys
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.fileio import atomic_write_text

DATASETS = ("mnist-sample", "mnist", "fashion-mnist")
TASK = "train"  # the task name recorded in model files (task.json) and checkpoints
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
    out: str = "rnnkit-out"  # directory for model.rnnkit, history.json, curves.png and checkpoint.rnnkit
    verbose: int = 1  # 0 silent, 1 progress bar on a terminal (one line per epoch otherwise), 2 one line per epoch
    dropout: float = 0.0  # rate of a Dropout layer before the classifier (0: no Dropout layer)
    limit: int | None = None  # use only the first N training and N test samples (quick experiments)
    checkpoint_every: int = 0  # also checkpoint every N training steps (0: after every epoch only)

    def validate(self) -> None:
        """Raise ConfigError naming any value outside its allowed range (or of the wrong type)."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = _FIELD_TYPES[field.name]
            if isinstance(value, bool) != (kinds == (bool,)) or not isinstance(value, kinds):
                flag = "--" + field.name.replace("_", "-")
                raise ConfigError(f"{flag} must be {' or '.join(k.__name__ for k in kinds)}; got {value!r:.100}")
        checks = [
            (self.dataset in DATASETS, f"--dataset must be one of {DATASETS}; got {self.dataset!r}"),
            (self.model in MODELS, f"--model must be one of {MODELS}; got {self.model!r}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}"),
            (self.units >= 1, f"--units must be >= 1; got {self.units}"),
            (self.layers >= 1, f"--layers must be >= 1; got {self.layers}"),
            (self.epochs >= 1, f"--epochs must be >= 1; got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1; got {self.batch_size}"),
            (self.lr > 0 and np.isfinite(self.lr), f"--lr must be a positive number; got {self.lr}"),
            (self.clipnorm is None or (self.clipnorm > 0 and np.isfinite(self.clipnorm)),
             f"--clipnorm must be a positive number; got {self.clipnorm}"),
            (0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1); got {self.dropout}"),
            (self.limit is None or self.limit >= 1, f"--limit must be >= 1; got {self.limit}"),
            (self.checkpoint_every >= 0, f"--checkpoint-every must be >= 0; got {self.checkpoint_every}"),
            (self.verbose in (0, 1, 2), f"--verbose must be 0, 1 or 2; got {self.verbose}"),
            (0 <= self.seed < 2**63, f"--seed must be an integer in [0, 2**63); got {self.seed}"),
            (bool(self.out), "--out must name a directory"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


_FIELD_TYPES = {  # the JSON types each TrainConfig field may hold (a resumed config is read from a file)
    "dataset": (str,), "model": (str,), "units": (int,), "layers": (int,), "bidirectional": (bool,),
    "epochs": (int,), "batch_size": (int,), "lr": (float, int), "optimizer": (str,),
    "clipnorm": (float, int, type(None)), "seed": (int,), "out": (str,), "verbose": (int,),
    "dropout": (float, int), "limit": (int, type(None)), "checkpoint_every": (int,),
}


SAMPLES = {"mnist-sample": 10_000, "mnist": 70_000, "fashion-mnist": 70_000}  # train + test images (28 x 28)


def offline_hint(name: str) -> str:
    """How a command-line user does without the download of ``name``."""
    from rnnkit.datasets.download import cache_dir

    subdir = name  # the cache folder of mnist and fashion-mnist is the dataset's name
    return (f"Working offline? --dataset mnist-sample needs no download (8,000 + 2,000 MNIST digits shipped with "
            f"rnnkit); or copy the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into {cache_dir(subdir)} (the folder "
            f"$RNNKIT_DATA/{subdir} when RNNKIT_DATA is set)")


def load_dataset(name: str, split: str = "both"):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays for a CLI dataset name; with
    ``split="test"`` only ``(x_test, y_test)`` (nothing else is read or downloaded)."""
    from rnnkit.datasets import fashion_mnist, mnist, mnist_sample

    loaders = {"mnist-sample": mnist_sample, "mnist": mnist, "fashion-mnist": fashion_mnist}
    if name not in loaders:
        raise ConfigError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    if name == "mnist-sample":
        data = mnist_sample.load_data()
        return data[1] if split == "test" else data
    if split == "test":
        return loaders[name].load_test_data(hint=offline_hint(name))
    return loaders[name].load_data(hint=offline_hint(name))


def estimate_memory(config: TrainConfig, timesteps: int = 28, features: int = 28, classes: int = 10):
    """The memory ``config`` needs to train (``rnnkit.memory``): weights, gradients, optimizer slots, what
    backpropagation through time keeps per batch, and the dataset as float32."""
    from rnnkit.memory import estimate_recurrent_training

    samples = SAMPLES.get(config.dataset, 70_000)
    if config.limit is not None:
        samples = min(samples, 2 * config.limit)
    data = samples * timesteps * features * (4 + 1) + samples * classes * 4  # uint8 + float32 images, one-hot
    return estimate_recurrent_training(config.model, config.units, timesteps, features, classes, config.batch_size,
                                       layers=config.layers, bidirectional=config.bidirectional,
                                       optimizer=config.optimizer, data=data)


def check_memory(config: TrainConfig, limit=None) -> None:
    """Refuse (``MemoryLimitError``, one line) a configuration estimated not to fit in memory."""
    from rnnkit.memory import check_memory as check

    flags = f"--model {config.model} --units {config.units} --layers {config.layers}" + (
        " --bidirectional" if config.bidirectional else "") + f" --batch-size {config.batch_size}"
    check(estimate_memory(config), f"rnnkit train {flags}", limit,
          hint="try fewer --units or --layers, or a smaller --batch-size")


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
    if config.dropout:
        model.add(layers.Dropout(config.dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def make_optimizer(config: TrainConfig):
    from rnnkit import optimizers

    classes = {"adam": optimizers.Adam, "sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop}
    clip = {} if config.clipnorm is None else {"clipnorm": config.clipnorm}
    return classes[config.optimizer](learning_rate=config.lr, **clip)


def saved_config(out: str) -> TrainConfig:
    """The ``TrainConfig`` of the run whose checkpoint is in ``out`` (for ``--resume``)."""
    from rnnkit.tasks.runs import saved_config as saved_task_config

    config = saved_task_config(out, "train", TrainConfig)
    config.validate()
    return config


def _check_fresh_start(config: TrainConfig, overwrite: bool = False) -> None:
    """Refuse to start over on top of an unfinished run (its checkpoint would be replaced) or a finished model
    (``model.rnnkit``), unless ``overwrite``."""
    from rnnkit.tasks.runs import check_out_dir

    check_out_dir(config.out, TASK, overwrite=overwrite)


def _limited(arrays: tuple, limit):
    return arrays if limit is None else tuple(a[:limit] for a in arrays)


def run_training(config: TrainConfig, resume: bool = False, memory_limit=None, overwrite: bool = False,
                 distributed: bool = False) -> dict:
    """Train, evaluate, and write ``model.rnnkit``, ``history.json`` (and ``curves.png``) into ``config.out``.

    A checkpoint ``checkpoint.rnnkit`` is kept in ``config.out`` after every epoch (and every
    ``checkpoint_every`` steps); with ``resume`` the run continues from it. Ctrl-C saves a checkpoint and
    raises ``signals.TrainingInterrupted``. A configuration estimated to need more memory than
    ``memory_limit`` (bytes or ``"8GiB"``; default ``$RNNKIT_MEMORY_LIMIT`` or the available memory) is refused
    before anything is allocated. A folder that holds a finished model or an unfinished run is refused unless
    ``overwrite``. With ``distributed`` (under torchrun) every rank trains its slice of each batch
    (``rnnkit.distribution.DataParallel``) and rank 0 alone writes the files."""
    from rnnkit.distribution import DataParallel, is_chief, set_distribution
    from rnnkit.random import set_random_seed
    from rnnkit.tasks.runs import checkpointed_fit
    from rnnkit.utils import to_categorical

    config.validate()
    check_memory(config, memory_limit)
    if distributed:
        from rnnkit.distribution.data_parallel import TORCHRUN_VARIABLES

        missing = [name for name in TORCHRUN_VARIABLES if not os.environ.get(name)]
        if missing:
            raise ConfigError(f"--distributed runs under torchrun ({', '.join(missing)} not set); launch with: "
                              "torchrun --standalone --nproc-per-node N -m rnnkit.cli.main train --distributed ...")
        set_distribution(DataParallel())
    if not resume:
        _check_fresh_start(config, overwrite)
    set_random_seed(config.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(config.dataset)
    (x_train, y_train), (x_test, y_test) = _limited((x_train, y_train), config.limit), _limited((x_test, y_test),
                                                                                               config.limit)
    x_train, x_test = prepare_images(x_train), prepare_images(x_test)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    y_train, y_test = to_categorical(y_train, num_classes), to_categorical(y_test, num_classes)

    model = build_model(config, x_train.shape[1:], num_classes)
    model.compile(loss="categorical_crossentropy", optimizer=make_optimizer(config), metrics=["accuracy"])
    history = checkpointed_fit(model, config.out, "train", config, resume=resume,
                               checkpoint_every=config.checkpoint_every, x=x_train, y=y_train,
                               batch_size=config.batch_size, epochs=config.epochs,
                               validation_data=(x_test, y_test), verbose=config.verbose)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)

    record = {"config": dataclasses.asdict(config), "history": _plain(history.history),
              "test_loss": float(test_loss), "test_accuracy": float(test_accuracy)}
    if is_chief():  # under --distributed rank 0 alone writes
        save_trained_model(os.path.join(config.out, "model.rnnkit"), model, config)
        atomic_write_text(os.path.join(config.out, "history.json"), json.dumps(record, indent=2))
        if not plot_curves(history.history, config, os.path.join(config.out, "curves.png")):
            print("rnnkit: no curves.png written: matplotlib is not installed (pip install 'rnnkit[plot]')",
                  file=sys.stderr)
    return record


def save_trained_model(path: str, model, config: TrainConfig) -> None:
    """``model.rnnkit`` with a ``task.json`` member recording the training dataset and settings, so that
    ``rnnkit evaluate`` defaults to the dataset the model was trained on."""
    from rnnkit.tasks.artifacts import save_task_model

    save_task_model(path, model, TASK, {"dataset": config.dataset, "config": dataclasses.asdict(config)})


def recorded_dataset(path: str):
    """``(model, dataset)`` of a model file; ``dataset`` is None for a file that does not record it (written
    before rnnkit recorded it, or by ``model.save``)."""
    from rnnkit.models.saving import model_from_members, read_archive
    from rnnkit.tasks.artifacts import TASK_MEMBER, read_task_info

    members = read_archive(path)
    dataset = None
    if TASK_MEMBER in members:
        try:
            dataset = read_task_info(members, path, TASK).get("dataset")
        except DataError:
            dataset = None  # another command's model: no dataset of ours recorded
    return model_from_members(members, path), dataset if dataset in DATASETS else None


def _plain(history: dict) -> dict:
    return {key: [float(v) for v in values] for key, values in history.items()}


def plot_curves(history: dict, config: TrainConfig, path: str) -> bool:
    """Loss and accuracy per epoch to ``path`` if matplotlib is installed (extra ``rnnkit[plot]``); the
    validation curves are the test split's."""
    from rnnkit.tasks.report import plot_history

    layers = f"{config.layers}x " if config.layers > 1 else ""
    bi = "bidirectional " if config.bidirectional else ""
    title = f"{bi}{layers}{config.model} {config.units} on {config.dataset}, {config.epochs} epochs"
    return plot_history(history, path, title, validation_name="test")
