"""OCR of single text lines: a CRNN (convolution blocks -> image columns as time steps -> bidirectional LSTM ->
Dense -> CTC) trained on lines rendered on the fly from random strings (:mod:`rnnkit.tasks.ocr_render`).

The network maps a ``(height, W, 1)`` image (ink high) to ``W / 4`` steps of logits over the blank (class 0)
and the alphabet (classes 1..); greedy CTC decoding reads the text. Every epoch trains on ``steps x batch_size``
fresh lines (their seed is the run's seed and the epoch, so a resumed run sees the same lines); the held-out
test lines come from another seed. The model file carries the alphabet and the image size (``task.json``).

>>> import tempfile
>>> config = OCRConfig(out=tempfile.mkdtemp(), alphabet="01", epochs=1, steps=2, batch_size=4, test_lines=4,
...                    min_length=1, max_length=3, width=48, units=8, filters=4, verbose=0, fonts=None)
>>> report = train(config)
>>> sorted(k for k in report if k.startswith("test_"))
['test_cer', 'test_line_accuracy', 'test_lines']
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np

from rnnkit.callbacks import Callback
from rnnkit.cli.config_flags import check_all, positive
from rnnkit.errors import ConfigError, DataError

TASK = "ocr"
DEFAULT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,:;!?'-()"
TEST_SEED_OFFSET = 1_000_003  # held-out lines: another stream than every training epoch's
POOLING = 4  # the CRNN halves the width twice: W / 4 time steps


@dataclass
class OCRConfig:
    out: str = field(default="runs/ocr", metadata={"help": "output folder (model.rnnkit, report.json, plots)",
                                                    "metavar": "DIR"})
    alphabet: str = field(default=DEFAULT_ALPHABET, metadata={"help": "characters to read (space allowed)"})
    fonts: str | None = field(default=None, metadata={
        "help": "folder of .ttf/.otf fonts to render with (default: Debian's DejaVu, Liberation and FreeFont "
                "when installed, else Pillow's built-in font)", "metavar": "DIR"})
    height: int = field(default=32, metadata={"help": "image height the lines are scaled to (pixels)"})
    width: int = field(default=192, metadata={"help": "image width of training lines (pixels, multiple of 4)"})
    min_length: int = field(default=4, metadata={"help": "fewest characters in a random line"})
    max_length: int = field(default=12, metadata={"help": "most characters in a random line"})
    filters: int = field(default=16, metadata={"help": "filters of the first Conv2D (then 2x and 4x)"})
    units: int = field(default=96, metadata={"help": "LSTM units in each direction"})
    epochs: int = field(default=10, metadata={"help": "training epochs"})
    steps: int = field(default=100, metadata={"help": "batches per epoch, each of fresh lines"})
    batch_size: int = field(default=32, metadata={"help": "lines per batch"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    clipnorm: float | None = field(default=5.0, metadata={"help": "clip each gradient to this norm"})
    test_lines: int = field(default=500, metadata={"help": "held-out lines (another seed) for test_cer"})
    seed: int = field(default=0, metadata={"help": "random seed (weights and lines)"})
    verbose: int = field(default=1, metadata={"help": "0 silent, 1 progress bar, 2 one line per epoch",
                                              "choices": (0, 1, 2)})
    checkpoint_every: int = field(default=0, metadata={"help": "also checkpoint every N steps (0: per epoch)"})

    def validate(self) -> None:
        check_all([
            positive("height", self.height), positive("width", self.width), positive("min_length", self.min_length),
            positive("max_length", self.max_length), positive("filters", self.filters),
            positive("units", self.units), positive("epochs", self.epochs), positive("steps", self.steps),
            positive("batch_size", self.batch_size), positive("lr", self.lr),
            positive("test_lines", self.test_lines), positive("checkpoint_every", self.checkpoint_every, True),
        ])
        if self.clipnorm is not None:
            check_all([positive("clipnorm", self.clipnorm)])
        check_alphabet(self.alphabet)
        if self.height % POOLING or self.width % POOLING:
            raise ConfigError(f"--height and --width must be multiples of {POOLING} (the CRNN pools them by "
                              f"{POOLING}); got {self.height} and {self.width}")
        if self.min_length > self.max_length:
            raise ConfigError(f"--min-length {self.min_length} is above --max-length {self.max_length}")
        steps = self.width // POOLING
        if 2 * self.max_length + 1 > steps:
            raise ConfigError(f"--max-length {self.max_length} is too long for --width {self.width}: the CRNN has "
                              f"{steps} time steps, and CTC needs up to 2 x length + 1; use at most "
                              f"{(steps - 1) // 2} characters or a wider image")


def check_alphabet(alphabet: str) -> None:
    if not alphabet or not alphabet.strip():
        raise ConfigError("--alphabet needs at least one character other than space")
    duplicates = sorted({c for c in alphabet if alphabet.count(c) > 1})
    if duplicates:
        raise ConfigError(f"--alphabet lists {''.join(duplicates)!r} more than once")
    odd = [c for c in alphabet if not c.isprintable()]
    if odd:
        raise ConfigError(f"--alphabet may hold printable characters only; got {odd!r}")


# ------------------------------------------------------------------------------------------ data
def encode(texts, alphabet: str) -> np.ndarray:
    """``(N, max length)`` int64 class ids (character ``alphabet[i]`` -> ``i + 1``), padded with 0 (the blank),
    as ``rnnkit.losses.CTC`` reads them."""
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    labels = np.zeros((len(texts), max((len(t) for t in texts), default=0) or 1), np.int64)
    for row, text in enumerate(texts):
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise DataError(f"the text {text!r} has characters outside the alphabet: {''.join(unknown)!r}")
        labels[row, : len(text)] = [index[c] for c in text]
    return labels


def decode(logits: np.ndarray, alphabet: str, strategy: str = "greedy", beam_width: int = 10) -> list:
    """The texts read from ``logits (N, T, C)`` by CTC decoding."""
    from rnnkit.ops.ctc_decode import ctc_decode

    paths, _ = ctc_decode(logits, np.full(len(logits), logits.shape[1]), strategy=strategy, beam_width=beam_width)
    return ["".join(alphabet[c - 1] for c in row if c > 0) for row in paths[0]]


def load_data(config: OCRConfig, n: int, seed, fonts: list):
    """``(images (n, H, W, 1), labels (n, S), texts)`` of ``n`` random lines from ``seed``."""
    from rnnkit.tasks.ocr_render import render_lines

    images, texts = render_lines(n, config.alphabet, fonts, seed, config.height, config.width, config.min_length,
                                 config.max_length)
    labels = np.zeros((n, config.max_length), np.int64)
    encoded = encode(texts, config.alphabet)
    labels[:, : encoded.shape[1]] = encoded
    return images, labels, texts


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(predicted: list, truth: list) -> dict:
    """Character error rate (edit distance / reference characters) and exact-line accuracy."""
    errors = sum(edit_distance(p, t) for p, t in zip(predicted, truth))
    chars = sum(len(t) for t in truth)
    return {"cer": errors / max(chars, 1), "line_accuracy": float(np.mean([p == t for p, t in zip(predicted, truth)]))}


# ------------------------------------------------------------------------------------------ model
def build_model(config: OCRConfig, num_classes: int):
    """The CRNN: three Conv2D blocks (the last with batch norm) pool the image by 4 in width and 8 in height;
    its columns become ``W / 4`` time steps for a bidirectional LSTM and a Dense layer of ``num_classes``
    logits (class 0 = blank). The width is free: any image of ``config.height`` rows can be read."""
    from rnnkit.layers import (LSTM, BatchNormalization, Bidirectional, Conv2D, Dense, MaxPooling2D, Permute,
                               Reshape)
    from rnnkit.models import Sequential

    f, rows = config.filters, config.height // 8
    return Sequential([
        Conv2D(f, 3, padding="same", activation="relu", input_shape=(config.height, None, 1)),
        MaxPooling2D(2),                                            # (H/2, W/2, f)
        Conv2D(2 * f, 3, padding="same", activation="relu"),
        MaxPooling2D(2),                                            # (H/4, W/4, 2f)
        Conv2D(4 * f, 3, padding="same", activation="relu"),
        BatchNormalization(momentum=0.9),  # moving statistics that forget their start within a few hundred steps
        MaxPooling2D((2, 1)),                                       # (H/8, W/4, 4f)
        Permute((2, 1, 3)),                                         # (W/4, H/8, 4f): columns first
        Reshape((-1, rows * 4 * f)),                                # (W/4, H/8 * 4f): one vector per column
        Dense(2 * config.units, activation="relu"),
        Bidirectional(LSTM(config.units, return_sequences=True)),  # (W/4, 2 units)
        Dense(num_classes),                                         # (W/4, classes) logits
    ])


def compile_model(model, config: OCRConfig) -> None:
    from rnnkit.optimizers import Adam

    kwargs = {} if config.clipnorm is None else {"clipnorm": config.clipnorm}
    model.compile(optimizer=Adam(learning_rate=config.lr, **kwargs), loss="ctc")


class FreshLines(Callback):
    """A callback that renders new training lines into the fit arrays at the start of every epoch (in place:
    fit indexes the same arrays batch by batch), from the seed ``(seed, epoch)``."""

    def __init__(self, config: OCRConfig, fonts: list, images: np.ndarray, labels: np.ndarray):
        super().__init__()
        self.config, self.fonts, self.images, self.labels = config, fonts, images, labels

    def on_epoch_begin(self, epoch, logs=None):
        images, labels, _ = load_data(self.config, len(self.images), (self.config.seed, epoch), self.fonts)
        self.images[...] = images
        self.labels[...] = labels


def predict_texts(model, images: np.ndarray, alphabet: str, batch_size: int = 64) -> list:
    logits = model.predict(images, batch_size=batch_size, verbose=0)  # (N, T, C)
    return decode(logits, alphabet)


# ------------------------------------------------------------------------------------------ training
def train(config: OCRConfig, resume: bool = False, overwrite: bool = False) -> dict:
    """Train the CRNN, evaluate it on held-out lines, write the model, report and plots; returns the report."""
    from rnnkit.random import set_random_seed
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.ocr_render import choose_fonts
    from rnnkit.tasks.report import plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, check_out_dir, checkpointed_fit

    config.validate()
    if not resume:
        check_out_dir(config.out, TASK, overwrite=overwrite)
    fonts = choose_fonts(config.fonts)
    set_random_seed(config.seed)
    model = build_model(config, len(config.alphabet) + 1)
    compile_model(model, config)
    n = config.steps * config.batch_size
    images = np.zeros((n, config.height, config.width, 1), np.float32)
    labels = np.zeros((n, config.max_length), np.int64)
    labels[:, 0] = 1  # placeholders until the first epoch renders its lines
    fresh = FreshLines(config, fonts, images, labels)
    started = time.perf_counter()
    history = checkpointed_fit(model, config.out, TASK, config, resume=resume,
                               checkpoint_every=config.checkpoint_every, callbacks=[fresh], x=images, y=labels,
                               epochs=config.epochs, batch_size=config.batch_size, verbose=config.verbose,
                               shuffle=False)
    seconds = time.perf_counter() - started
    test_images, _, test_texts = load_data(config, config.test_lines, config.seed + TEST_SEED_OFFSET, fonts)
    predicted = predict_texts(model, test_images, config.alphabet)
    metrics = score(predicted, test_texts)
    save_task_model(os.path.join(config.out, MODEL_NAME), model, TASK, model_info(config))
    report = {
        "task": TASK,
        "config": dataclasses.asdict(config),
        "fonts": [os.path.basename(f) if f else "Pillow built-in" for f in fonts],
        "parameters": model.count_params(),
        "train_lines": n * config.epochs,
        "train_seconds": seconds,
        "test_lines": config.test_lines,
        "test_cer": metrics["cer"],
        "test_line_accuracy": metrics["line_accuracy"],
        "examples": [{"truth": t, "read": p} for t, p in zip(test_texts[:10], predicted[:10])],
        "history": history.history,
    }
    write_report(config.out, report)
    plot_history(history.history, os.path.join(config.out, "curves.png"),
                 f"CRNN + CTC, {n} fresh lines per epoch")
    plot_examples(test_images[:10], test_texts[:10], predicted[:10], os.path.join(config.out, "examples.png"))
    return report


def model_info(config: OCRConfig) -> dict:
    return {"alphabet": config.alphabet, "height": config.height, "width": config.width}


def plot_examples(images: np.ndarray, truth: list, predicted: list, path: str) -> bool:
    """Test lines, each titled with its text and what the model read (red when they differ)."""
    from rnnkit.tasks.report import figure

    rows = len(images)
    with figure(path, nrows=rows, figsize=(6, 0.9 * rows + 0.5), squeeze=False) as drawing:
        if drawing is None:
            return False
        _, axes = drawing
        for ax, image, t, p in zip(axes[:, 0], images, truth, predicted):
            ax.imshow(1.0 - image[:, :, 0], cmap="gray", vmin=0, vmax=1, aspect="auto")
            ax.set_title(f"truth: {t!r}   read: {p!r}", fontsize=9, color="black" if t == p else "red")
            ax.axis("off")
    return True


# ------------------------------------------------------------------------------------------ inference
def load(path: str):
    """``(model, info)`` of a model written by ``rnnkit ocr train``."""
    from rnnkit.tasks.artifacts import load_task_model

    model, info = load_task_model(path, TASK)
    for key in ("alphabet", "height", "width"):
        if key not in info:
            raise DataError(f"{path}: task.json has no {key!r}; was it written by 'rnnkit ocr train'?")
    return model, info


def read_image(path: str):
    """A picture file as a PIL image; DataError naming the file for anything Pillow cannot open."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise DataError(f"cannot read {path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except UnidentifiedImageError:
        raise DataError(f"cannot read {path}: not an image Pillow can open (expected a PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"cannot read {path}: the image is damaged or truncated ({error})") from None


def line_input(picture, info: dict) -> np.ndarray:
    """A picture as the model's ``(1, height, W, 1)`` input: scaled to the model's height, at least its training
    width, the width rounded up to a multiple of 4 (a longer line keeps its aspect: the CRNN reads any width)."""
    from rnnkit.tasks.ocr_render import to_model_input

    height = int(info["height"])
    size = picture.size if hasattr(picture, "size") and not isinstance(picture, np.ndarray) else None
    natural = int(round(size[0] * height / max(size[1], 1))) if size else int(info["width"])
    width = max(int(info["width"]), -(-natural // POOLING) * POOLING)
    return to_model_input(picture, height, width)[None]


def read(model_path: str, image_paths, strategy: str = "greedy", beam_width: int = 10) -> list:
    """The text of each line image (any height; scaled to the model's)."""
    model, info = load(model_path)
    texts = []
    for path in image_paths:
        logits = model.predict(line_input(read_image(path), info), verbose=0)  # (1, T, C)
        texts.append(decode(logits, info["alphabet"], strategy, beam_width)[0])
    return texts
