"""Continuous digit strings: utterances of 2-7 digits made by joining FSDD recordings, a BiGRU trained with CTC,
word and character error rates with greedy and beam-search decoding.

Each string takes recordings of one speaker, joins them with pauses of ``PAUSE`` seconds (and a short lead-in
and tail), and adds white noise 20-40 dB below the speech. Training strings are drawn only from training
recordings and test strings only from test recordings (whole speakers held out with ``test_speakers``), so no
recording is heard in both. New training strings are drawn every epoch. Features are those of the digits task,
two consecutive frames stacked into one step (half the steps for the recurrent layer, 20 ms per step).

Labels: digit ``d`` is class ``d + 1``; class 0 is the CTC blank (Keras' convention). A word is a digit: the
word error rate is the edit distance between digit sequences over the reference length; the character error
rate compares the digits spelled out in English ("three five"), spaces included.

>>> import numpy as np
>>> wer([[1, 2, 3], [4]], [[1, 3], [4, 4]]), round(cer([[1, 2]], [[1, 3]]), 3)  # "one two" -> "one three"
(0.5, 0.571)
>>> stack_frames(np.arange(10.0).reshape(5, 2)).tolist()  # (5, 2) -> (3, 4): the last frame repeated
[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 8.0, 9.0]]
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from rnnkit.callbacks import Callback
from rnnkit.losses import Loss

MIN_DIGITS, MAX_DIGITS = 2, 7
PAUSE = (0.05, 0.3)  # seconds between digits
EDGE = (0.05, 0.2)  # seconds of lead-in and tail
SNR_DB = (20.0, 40.0)  # light noise over the whole string
MAX_SECONDS = 6.0  # longer strings are drawn again (nothing is cut)
STACK = 2  # frames per recurrent step
# SpecAugment's time mask at most 2% of a string (about 60 ms of a 3 s string): a wider one can erase a whole
# digit that the target still names (the digits task masks up to 10% of one digit instead)
TIME_MASK = 0.02
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@dataclass
class DigitString:
    samples: np.ndarray  # (N,) float32
    digits: list
    sources: list  # paths of the recordings used


def build_strings(recordings: list, count: int, rng: np.random.Generator, audio: dict, sr: int = 8000,
                  max_seconds: float = MAX_SECONDS) -> list:
    """``count`` strings of 2-7 recordings of one speaker each, drawn from ``recordings`` only (``audio``:
    path -> samples, filled as files are read)."""
    from rnnkit.audio import read_wav
    from rnnkit.errors import DataError

    by_speaker: dict = {}
    for r in recordings:
        by_speaker.setdefault(r.speaker, []).append(r)
    speakers = sorted(by_speaker)
    strings = []
    attempts = 0
    while len(strings) < count:
        attempts += 1
        if attempts > 100 * count + 100:
            raise DataError(f"cannot build digit strings of at most {max_seconds} s from these recordings")
        pool = by_speaker[speakers[rng.integers(len(speakers))]]
        chosen = [pool[i] for i in rng.integers(len(pool), size=rng.integers(MIN_DIGITS, MAX_DIGITS + 1))]
        pieces = [np.zeros(int(rng.uniform(*EDGE) * sr), np.float32)]
        for k, r in enumerate(chosen):
            if r.path not in audio:
                audio[r.path] = read_wav(r.path)[0]
            if k:
                pieces.append(np.zeros(int(rng.uniform(*PAUSE) * sr), np.float32))
            pieces.append(audio[r.path])
        pieces.append(np.zeros(int(rng.uniform(*EDGE) * sr), np.float32))
        samples = np.concatenate(pieces)
        if len(samples) > max_seconds * sr:
            continue
        rms = float(np.sqrt(np.mean(samples ** 2))) or 1e-4
        noise = rng.normal(0.0, rms * 10 ** (-rng.uniform(*SNR_DB) / 20), size=len(samples))
        samples = np.clip(samples + noise, -1.0, 1.0).astype(np.float32)
        strings.append(DigitString(samples, [r.digit for r in chosen], [r.path for r in chosen]))
    return strings


def stack_frames(features: np.ndarray, stack: int = STACK) -> np.ndarray:
    """``(T, F)`` -> ``(ceil(T / stack), stack F)``: ``stack`` consecutive frames side by side (the last frame
    repeated to fill the final step)."""
    T, F = features.shape
    steps = -(-T // stack)
    padded = np.concatenate([features, np.repeat(features[-1:], steps * stack - T, axis=0)])  # (steps*stack, F)
    return padded.reshape(steps, stack * F)  # (steps, stack F)


def string_features(bank, samples: np.ndarray, rng=None) -> np.ndarray:
    """Stacked, normalised features of a signal (augmented when ``rng`` is given)."""
    from rnnkit.audio import AugmentConfig, augment

    power = bank.config.power(samples)
    raw = bank.config.from_power(power) if rng is None else augment(power, bank.config, rng,
                                                                     AugmentConfig(time_mask=TIME_MASK))
    return stack_frames(bank.finish(raw))


def max_steps(config) -> int:
    """Recurrent steps of the longest allowed string."""
    frames = int(MAX_SECONDS * config.sr) // config.hop_length + 1
    return -(-frames // STACK)


def labels_of(strings: list) -> np.ndarray:
    """``(N, MAX_DIGITS)`` CTC targets: digit + 1, padded with 0 (the blank)."""
    y = np.zeros((len(strings), MAX_DIGITS), dtype=np.int64)
    for i, s in enumerate(strings):
        y[i, : len(s.digits)] = np.asarray(s.digits) + 1
    return y


def fill(x: np.ndarray, y: np.ndarray, strings: list, bank, rng=None) -> None:
    for i, s in enumerate(strings):
        features = string_features(bank, s.samples, rng)
        x[i] = 0.0
        x[i, : len(features)] = features
    y[:] = labels_of(strings)


class MaskedCTC(Loss):
    """CTC of logits ``(B, T, 11)`` whose valid steps are given by their ``_keras_mask`` (all steps without
    one); targets ``(B, S)`` padded with 0."""

    default_name = "ctc"

    def call(self, y_true, y_pred):
        from rnnkit.ops import ctc_loss

        labels = np.asarray(y_true).astype(np.int64)
        mask = getattr(y_pred, "_keras_mask", None)
        steps = np.full(y_pred.shape[0], y_pred.shape[1]) if mask is None else np.asarray(mask).sum(axis=1)
        return ctc_loss(labels, y_pred, (labels != 0).sum(axis=1), steps, mask_index=0, zero_infinity=True)


class EpochStrings(Callback):
    """New augmented training strings at the start of every epoch, written in place into ``x`` and ``y``."""

    def __init__(self, x, y, recordings, bank, audio, seed, augment=True):
        super().__init__()
        self.x, self.y, self.recordings, self.bank, self.audio = x, y, recordings, bank, audio
        self.seed, self.augment = seed, augment

    def on_epoch_begin(self, epoch, logs=None):
        rng = np.random.default_rng([self.seed, epoch, 1])
        strings = build_strings(self.recordings, len(self.x), rng, self.audio, self.bank.config.sr)
        fill(self.x, self.y, strings, self.bank, rng if self.augment else None)


def build_ctc_model(config, feature_size: int):
    """Masking -> Bidirectional GRU/LSTM (sequences) -> Dropout -> Dense(11) logits."""
    from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking
    from rnnkit.models import Sequential
    from rnnkit.random import set_random_seed

    set_random_seed(config.seed)
    cell = GRU if config.cell == "gru" else LSTM
    return Sequential([
        Masking(input_shape=(None, feature_size)),
        Bidirectional(cell(config.units, return_sequences=True)),
        Dropout(config.dropout),
        Dense(11),
    ])


def decode_batch(model, x: np.ndarray, strategy: str = "greedy", beam_width: int = 16) -> tuple:
    """``(digit strings, scores)`` of padded features ``x (B, T, F)``."""
    from rnnkit.ops import ctc_decode

    logits = np.asarray(model.predict(x, batch_size=64, verbose=0), dtype=np.float64)  # (B, T, 11)
    lengths = np.any(x != 0.0, axis=-1).sum(axis=1)  # (B,) valid steps
    decoded, scores = ctc_decode(logits, lengths, strategy=strategy, beam_width=beam_width)
    texts = ["".join(str(int(c) - 1) for c in row if c > 0) for row in decoded[0]]
    return texts, np.asarray(scores)[:, 0]


def _distance(a, b) -> int:
    """Levenshtein distance between two sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def wer(references, hypotheses) -> float:
    """Word (digit) error rate: total edit distance over total reference digits."""
    return sum(_distance(r, h) for r, h in zip(references, hypotheses)) / max(1, sum(len(r) for r in references))


def cer(references, hypotheses) -> float:
    """Character error rate of the digits spelled out in English, words separated by spaces."""
    def spell(digits):
        return " ".join(WORDS[int(d)] for d in digits)

    pairs = [(spell(r), spell(h)) for r, h in zip(references, hypotheses)]
    return sum(_distance(r, h) for r, h in pairs) / max(1, sum(len(r) for r, _ in pairs))


def evaluate_strings(model, x, strings, beam_width: int) -> dict:
    references = [s.digits for s in strings]
    result = {}
    for name, strategy in (("greedy", "greedy"), ("beam", "beam_search")):
        texts, _ = decode_batch(model, x, strategy, beam_width)
        hypotheses = [[int(c) for c in t] for t in texts]
        result[name] = {"wer": wer(references, hypotheses), "cer": cer(references, hypotheses),
                        "string_accuracy": float(np.mean([r == h for r, h in zip(references, hypotheses)])),
                        "examples": [{"reference": "".join(map(str, r)), "decoded": t}
                                     for r, t in list(zip(references, texts))[:10]]}
    return result


def train_sequences(config, resume: bool = False) -> dict:
    from rnnkit.audio import pad_sequences
    from rnnkit.optimizers import Adam
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.report import plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, checkpointed_fit
    from rnnkit.tasks.speech import TASK
    from rnnkit.tasks.speech_digits import prepare

    started = time.perf_counter()
    bank, train, test = prepare(config)
    audio: dict = {}
    test_strings = build_strings(test, config.test_strings, np.random.default_rng([config.seed, 2**20]), audio,
                                 bank.config.sr)
    x_test, _ = pad_sequences([string_features(bank, s.samples) for s in test_strings])
    feature_size = x_test.shape[-1]
    x_train = np.zeros((config.train_strings, max_steps(bank.config), feature_size), np.float32)  # (N, T, F)
    y_train = np.zeros((config.train_strings, MAX_DIGITS), np.int64)
    strings = EpochStrings(x_train, y_train, train, bank, audio, config.seed, config.augment)
    strings.on_epoch_begin(0)  # the first epoch's strings (fit draws them again, identically)
    features_seconds = time.perf_counter() - started

    model = build_ctc_model(config, feature_size)
    model.compile(optimizer=Adam(config.lr, clipnorm=config.clipnorm), loss=MaskedCTC())
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*compile settings.*cannot be saved")
        history = checkpointed_fit(model, config.out, TASK, config, resume=resume,
                                   checkpoint_every=config.checkpoint_every, callbacks=[strings], x=x_train,
                                   y=y_train, batch_size=config.batch_size, epochs=config.epochs,
                                   verbose=config.verbose)
        train_seconds = time.perf_counter() - started
        info = {"task": "sequences", "features": bank.config.to_dict(), "normalization": bank.normalizer_info(),
                "stack": STACK, "beam_width": config.beam_width, "test_speakers": config.speakers()}
        save_task_model(os.path.join(config.out, MODEL_NAME), model, TASK, info)
    started = time.perf_counter()
    scores = evaluate_strings(model, x_test, test_strings, config.beam_width)
    decode_seconds = time.perf_counter() - started
    split = f"speakers {config.test_speakers} held out" if config.speakers() else "standard split (index 0-4)"
    plot_history(history.history, os.path.join(config.out, "curves.png"),
                 f"Bi{config.cell.upper()} {config.units} + CTC, digit strings, {split}")
    train_sources = {r.path for r in train}
    report = {
        "task": "speech sequences", "config": vars(config).copy(), "split": split,
        "train_recordings": len(train), "test_recordings": len(test), "test_strings": len(test_strings),
        "test_recordings_in_training_strings": sum(p in train_sources for s in test_strings for p in s.sources),
        "test_wer": scores["greedy"]["wer"], "test_cer": scores["greedy"]["cer"],
        "beam_wer": scores["beam"]["wer"], "beam_cer": scores["beam"]["cer"], "decoding": scores,
        "features_seconds": features_seconds, "train_seconds": train_seconds, "decode_seconds": decode_seconds,
        "history": history.history, "parameters": model.count_params(),
    }
    write_report(config.out, report)
    return report
