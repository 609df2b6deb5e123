"""Isolated spoken digits: the recurrent classifier, its training with fresh augmentation every epoch, the
MFCC-statistics baseline, and the report.

>>> from rnnkit.tasks.speech import SpeechConfig
>>> model = build_classifier(SpeechConfig(data="x", units=8), feature_size=20)
>>> [type(layer).__name__ for layer in model.layers]
['Masking', 'Bidirectional', 'Dropout', 'Dense']
"""
from __future__ import annotations

import os
import time

import numpy as np

from rnnkit.callbacks import Callback

CONFUSION_NAME = "confusion.png"
CURVES_NAME = "curves.png"


def build_classifier(config, feature_size: int, classes: int = 10):
    """Masking -> Bidirectional(GRU or LSTM) -> Dropout -> Dense softmax over ``(B, T, feature_size)``."""
    from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking
    from rnnkit.models import Sequential
    from rnnkit.random import set_random_seed

    set_random_seed(config.seed)
    cell = GRU if config.cell == "gru" else LSTM
    return Sequential([
        Masking(input_shape=(None, feature_size)),
        Bidirectional(cell(config.units)),
        Dropout(config.dropout),
        Dense(classes, activation="softmax"),
    ])


class EpochAugmentation(Callback):
    """Refill the padded training array ``x`` in place at the start of every epoch with freshly augmented
    features of ``paths`` (drawn with a generator seeded by ``(seed, epoch)``, so a resumed run sees the same
    data). ``fit`` reads its batches from this same array."""

    def __init__(self, x: np.ndarray, paths: list, bank, seed: int, make=None):
        super().__init__()
        self.x, self.paths, self.bank, self.seed = x, paths, bank, seed
        self.make = make

    def on_epoch_begin(self, epoch, logs=None):
        fill_augmented(self.x, self.paths, self.bank, self.seed, epoch, self.make)


def fill_augmented(x: np.ndarray, paths: list, bank, seed: int, epoch: int, make=None) -> None:
    """Write augmented features of ``paths`` into ``x (N, T, F)`` (zeros after each utterance's frames)."""
    rng = np.random.default_rng([seed, epoch])
    for i, path in enumerate(paths):
        features = bank.augmented(path, rng) if make is None else make(path, rng)  # (frames, F)
        x[i] = 0.0
        x[i, : len(features)] = features


def mfcc_statistics(bank, paths: list) -> np.ndarray:
    """``(N, 2 n_mfcc)``: each utterance's MFCC means and standard deviations (un-normalised MFCCs)."""
    from rnnkit.audio import FeatureConfig

    config = bank.config
    mfcc_config = FeatureConfig(kind="mfcc", sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                win_length=config.win_length, n_mels=config.n_mels,
                                n_mfcc=min(config.n_mfcc, config.n_mels), fmin=config.fmin, fmax=config.fmax)
    rows = []
    for path in paths:
        m = mfcc_config.from_power(bank.power(path))  # (frames, n_mfcc)
        rows.append(np.concatenate([m.mean(axis=0), m.std(axis=0)]))
    return np.asarray(rows, dtype=np.float32)


def logistic_regression(x_train, y_train, x_test, classes: int = 10, epochs: int = 200, seed: int = 0):
    """Multinomial logistic regression built with rnnkit (one Dense softmax layer, Adam, full-batch-ish) on
    standardised inputs; returns the test predictions (class ids)."""
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam
    from rnnkit.random import set_random_seed

    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    set_random_seed(seed)
    model = Sequential([Dense(classes, activation="softmax", input_shape=(x_train.shape[1],))])
    model.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit((x_train - mean) / std, y_train, batch_size=128, epochs=epochs, verbose=0)
    return np.argmax(model.predict((x_test - mean) / std, batch_size=1024, verbose=0), axis=1)


def confusion_matrix(truth, predicted, classes: int = 10) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth), np.asarray(predicted)), 1)
    return matrix


def prepare(config):
    """``(bank, train, test)`` recordings and the feature bank with its normaliser fitted on training data."""
    from rnnkit.tasks.speech_data import FeatureBank, list_recordings, split_recordings

    recordings = list_recordings(config.data, config.limit or None)
    train, test = split_recordings(recordings, config.speakers())
    bank = FeatureBank(config.feature_config(), config.normalize)
    bank.fit_normalizer([r.path for r in train])
    return bank, train, test


def train_digits(config, resume: bool = False) -> dict:
    from rnnkit.audio import pad_sequences
    from rnnkit.optimizers import Adam
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.report import plot_heatmap, plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, checkpointed_fit
    from rnnkit.tasks.speech import DIGIT_NAMES, TASK

    started = time.perf_counter()
    bank, train, test = prepare(config)
    train_paths = [r.path for r in train]
    x_train, mask_train = pad_sequences([bank.clean(p) for p in train_paths])  # (N, T, F)
    x_test, _ = pad_sequences([bank.clean(r.path) for r in test])
    y_train = np.array([r.digit for r in train])
    y_test = np.array([r.digit for r in test])
    features_seconds = time.perf_counter() - started

    model = build_classifier(config, bank.config.size)
    model.compile(optimizer=Adam(config.lr, clipnorm=config.clipnorm), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = [EpochAugmentation(x_train, train_paths, bank, config.seed)] if config.augment else []
    started = time.perf_counter()
    history = checkpointed_fit(model, config.out, TASK, config, resume=resume,
                               checkpoint_every=config.checkpoint_every, callbacks=callbacks, x=x_train, y=y_train,
                               batch_size=config.batch_size, epochs=config.epochs, verbose=config.verbose,
                               validation_data=(x_test, y_test))
    train_seconds = time.perf_counter() - started
    probabilities = model.predict(x_test, batch_size=256, verbose=0)  # (N, 10)
    predicted = np.argmax(probabilities, axis=1)
    accuracy = float(np.mean(predicted == y_test))

    started = time.perf_counter()
    baseline = logistic_regression(mfcc_statistics(bank, train_paths), y_train,
                                   mfcc_statistics(bank, [r.path for r in test]), seed=config.seed)
    baseline_seconds = time.perf_counter() - started
    baseline_accuracy = float(np.mean(baseline == y_test))

    info = {"task": "digits", "features": bank.config.to_dict(), "normalization": bank.normalizer_info(),
            "labels": DIGIT_NAMES, "test_speakers": config.speakers()}
    save_task_model(os.path.join(config.out, MODEL_NAME), model, TASK, info)
    matrix = confusion_matrix(y_test, predicted)
    split = f"speakers {config.test_speakers} held out" if config.speakers() else "standard split (index 0-4)"
    plot_heatmap(matrix, os.path.join(config.out, CONFUSION_NAME),
                 f"FSDD digits, {split}: accuracy {accuracy:.3f}", DIGIT_NAMES, DIGIT_NAMES,
                 xlabel="predicted", ylabel="spoken", annotate=True)
    plot_history(history.history, os.path.join(config.out, CURVES_NAME),
                 f"Bi{config.cell.upper()} {config.units}, {config.features}, {split}", validation_name="test")
    per_speaker = {s: float(np.mean(predicted[[r.speaker == s for r in test]] ==
                                     y_test[[r.speaker == s for r in test]]))
                   for s in sorted({r.speaker for r in test})}
    report = {
        "task": "speech digits", "config": vars(config).copy(), "split": split,
        "train_recordings": len(train), "test_recordings": len(test),
        "test_accuracy": accuracy, "baseline_accuracy": baseline_accuracy,
        "baseline": "logistic regression on per-utterance MFCC means and standard deviations",
        "test_accuracy_per_speaker": per_speaker, "confusion_matrix": matrix,
        "features_seconds": features_seconds, "train_seconds": train_seconds, "baseline_seconds": baseline_seconds,
        "history": history.history, "parameters": model.count_params(),
    }
    write_report(config.out, report)
    return report
