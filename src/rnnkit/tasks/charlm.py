"""Character language model: ``Embedding -> LSTM/GRU (stateful) -> Dense(softmax)`` trained on one text file
with truncated back-propagation through parallel streams, reported beside the unigram baseline.

The last ``val_fraction`` of the characters is the validation text; the vocabulary is the training part's
characters, after ``""`` (padding, index 0) and ``"[UNK]"`` (index 1), as ``TextVectorization`` numbers them.
The validation loss is measured over the whole validation text read in order (``stream_evaluate``), in nats per
character (``val_bpc`` = bits per character = nats / ln 2). ``minutes`` stops training cleanly after that much
training time (validation is not counted); the run then evaluates, samples and saves as usual.

>>> import tempfile, os
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "tiny.txt")
>>> _ = open(path, "w").write("the cat sat on the mat. " * 40)
>>> config = CharLMConfig(text=path, out=os.path.join(folder, "run"), units=16, embedding=8, seq_len=20,
...                       batch_size=4, epochs=3, lr=0.02, verbose=0)
>>> report = train(config, print_fn=lambda *args, **kwargs: None)
>>> sorted(os.listdir(config.out))[:3], report["val_loss"] < report["baseline_loss"]
(['checkpoint.rnnkit', 'curves.png', 'model.rnnkit'], True)
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from rnnkit.callbacks.base import Callback
from rnnkit.cli.config_flags import check_all, positive
from rnnkit.errors import ConfigError, DataError

TASK = "charlm"
SPECIAL = ["", "[UNK]"]  # index 0: padding (never seen), 1: characters outside the vocabulary
CELLS = ("lstm", "gru")
LN2 = math.log(2.0)
VAL_RECORD = "val_history.json"  # the validation loss of each epoch, kept for --resume


@dataclass
class CharLMConfig:
    text: str = field(default="", metadata={"help": "the training text (a UTF-8 file); its last --val-fraction is "
                                                    "the validation text", "metavar": "FILE"})
    out: str = field(default="charlm-out", metadata={"help": "folder for model.rnnkit, report.json, curves.png",
                                                     "metavar": "DIR"})
    units: int = field(default=256, metadata={"help": "hidden units of each recurrent layer"})
    layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    cell: str = field(default="lstm", metadata={"help": "recurrent cell", "choices": CELLS})
    embedding: int = field(default=64, metadata={"help": "size of the character embedding"})
    seq_len: int = field(default=100, metadata={"help": "characters per training window (how far gradients "
                                                        "flow back; states carry on across windows)"})
    batch_size: int = field(default=64, metadata={"help": "parallel streams of the text (rows per batch)"})
    epochs: int = field(default=10, metadata={"help": "passes over the training text"})
    minutes: float | None = field(default=None, metadata={"help": "stop training cleanly after this many minutes "
                                                                   "(then evaluate, sample and save as usual)"})
    lr: float = field(default=2e-3, metadata={"help": "Adam learning rate"})
    clipnorm: float | None = field(default=5.0, metadata={"help": "clip each gradient to this L2 norm"})
    seed: int = field(default=1234, metadata={"help": "seeds the weights and the report's sample"})
    val_fraction: float = field(default=0.1, metadata={"help": "the last fraction of the characters held out for "
                                                               "validation"})
    prime: str = field(default="\n", metadata={"help": "the text the report's sample starts from"})
    verbose: int = field(default=0, metadata={"help": "0: one line per epoch, 1: also a progress bar, 2: also "
                                                      "fit's own epoch lines", "choices": (0, 1, 2)})
    checkpoint_every: int = field(default=0, metadata={"help": "also checkpoint every N training steps (0: after "
                                                               "every epoch only)"})

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first value outside its range."""
        check_all([
            (bool(self.text), "--text is required: the training text file"),
            (bool(self.out), "--out must name a folder"),
            positive("units", self.units), positive("layers", self.layers), positive("embedding", self.embedding),
            positive("seq_len", self.seq_len), positive("batch_size", self.batch_size),
            positive("epochs", self.epochs), positive("lr", self.lr),
            (self.cell in CELLS, f"--cell must be one of {CELLS}; got {self.cell!r}"),
            (self.minutes is None or positive("minutes", self.minutes)[0],
             f"--minutes must be positive; got {self.minutes}"),
            (self.clipnorm is None or positive("clipnorm", self.clipnorm)[0],
             f"--clipnorm must be positive; got {self.clipnorm}"),
            (0.0 < self.val_fraction < 1.0, f"--val-fraction must be in (0, 1); got {self.val_fraction}"),
            (0 <= self.seed < 2**63, f"--seed must be an integer in [0, 2**63); got {self.seed}"),
            (bool(self.prime), "--prime must not be empty"),
            positive("checkpoint_every", self.checkpoint_every, allow_zero=True),
        ])


# ---------------------------------------------------------------------------------------------------- data
def read_text(path: str) -> str:
    """The UTF-8 text of ``path``; ``DataError`` for a missing, empty, binary or single-character file."""
    from rnnkit.tasks.files import read_utf8

    text = read_utf8(path, "a UTF-8 text file", missing=f"no text file at {path}")
    if not text:
        raise DataError(f"{path} is empty; a language model needs a text to learn from")
    distinct = set(text)
    if len(distinct) < 2:
        raise DataError(f"{path} holds only one distinct character ({text[0]!r}); a language model needs at least "
                        "two")
    return text


def build_vocabulary(text: str) -> list:
    """``["", "[UNK]"]`` then the distinct characters of ``text`` in code-point order."""
    return SPECIAL + sorted(set(text))


def encode(text: str, vocabulary: list) -> tuple:
    """``(ids, unknown)``: one int64 id per character (``[UNK]`` = 1 for characters outside ``vocabulary``)
    and how many such characters there were."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)  # one code point each
    chars = vocabulary[len(SPECIAL):]
    table = np.array([ord(c) for c in chars], dtype=np.int64)  # sorted: the vocabulary is in code-point order
    if len(table) == 0 or np.any(np.diff(table) <= 0):
        raise DataError("the vocabulary must list distinct single characters in code-point order after "
                        f"{SPECIAL}")
    position = np.minimum(np.searchsorted(table, codes), len(table) - 1)
    known = table[position] == codes
    ids = np.where(known, position + len(SPECIAL), 1)
    return ids, int((~known).sum())


def load_data(config: CharLMConfig) -> dict:
    """The text split into training and validation ids, with the vocabulary; ``ConfigError`` when the text is
    too short for the batch and window sizes."""
    text = read_text(config.text)
    n_val = int(len(text) * config.val_fraction)
    n_train = len(text) - n_val
    if config.seq_len >= len(text):
        raise ConfigError(f"--seq-len {config.seq_len} is longer than the text ({len(text)} characters in "
                          f"{config.text}); use a shorter --seq-len")
    if n_val < 2:
        raise ConfigError(f"--val-fraction {config.val_fraction} of {len(text)} characters leaves {n_val} for "
                          "validation; at least 2 are needed")
    if (n_train - 1) // config.batch_size < config.seq_len:
        raise ConfigError(f"the training text ({n_train} characters) is too short for {config.batch_size} streams "
                          f"of --seq-len {config.seq_len} (at least {config.batch_size * config.seq_len + 1} "
                          "characters): lower --batch-size or --seq-len")
    train_text, val_text = text[:n_train], text[n_train:]
    vocabulary = build_vocabulary(train_text)
    train_ids, _ = encode(train_text, vocabulary)
    val_ids, val_unknown = encode(val_text, vocabulary)
    return {"vocabulary": vocabulary, "train_ids": train_ids, "val_ids": val_ids, "val_unknown": val_unknown}


# --------------------------------------------------------------------------------------------------- model
def build_model(config: CharLMConfig, vocabulary_size: int):
    """``Embedding -> (LSTM|GRU, stateful, return_sequences) x layers -> Dense(softmax)``, built for batches of
    ``batch_size`` windows, compiled with Adam and the clip norm."""
    from rnnkit.initializers import RandomNormal
    from rnnkit.layers import GRU, LSTM, Dense, Embedding
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam
    from rnnkit.random import set_random_seed

    set_random_seed(config.seed)
    cell = {"lstm": LSTM, "gru": GRU}[config.cell]
    # N(0, 1) embeddings (PyTorch's default) instead of Keras' U(-0.05, 0.05): inputs of unit scale reach the
    # gates at once, and the loss falls much faster in the first hundred steps (measured on tinyshakespeare,
    # steps 50-60: 2.28 against 3.13 nats per character)
    layers = [Embedding(vocabulary_size, config.embedding, embeddings_initializer=RandomNormal(stddev=1.0),
                        name="embedding")]
    layers += [cell(config.units, return_sequences=True, stateful=True, name=f"{config.cell}_{i + 1}")
               for i in range(config.layers)]
    layers.append(Dense(vocabulary_size, activation="softmax", name="next_char"))
    model = Sequential(layers, name="charlm")
    model(np.zeros((config.batch_size, config.seq_len), dtype=np.int64))  # builds for the training batch size
    model.reset_states()
    model.compile(optimizer=Adam(learning_rate=config.lr, clipnorm=config.clipnorm),
                  loss="sparse_categorical_crossentropy")
    return model


# ------------------------------------------------------------------------------------------------ baseline
def unigram_loss(train_ids: np.ndarray, ids: np.ndarray, vocabulary_size: int) -> float:
    """Nats per character of predicting ``ids`` with the training characters' frequencies (add-one smoothed
    over the vocabulary except padding), the baseline every model must beat."""
    counts = np.bincount(train_ids, minlength=vocabulary_size).astype(np.float64)[1:] + 1.0  # no padding slot
    log_p = np.log(counts / counts.sum())
    return float(-log_p[ids[1:] - 1].mean())  # the first character is not predicted by the model either


# -------------------------------------------------------------------------------------------------- training
class CharLMMonitor(Callback):
    """Validation over the whole validation text after every epoch (``val_loss``, ``val_bpc`` in the logs, one
    printed line), the training time and characters per second, and the ``minutes`` budget: after each step,
    training stops cleanly once the training time (validation excluded) reaches it."""

    def __init__(self, val_ids, chars_per_step: int, minutes=None, epochs=None, print_fn=print, record=None):
        super().__init__()
        self.val_ids, self.chars_per_step = val_ids, chars_per_step
        self.record = record  # a JSON file keeping {epoch: val_loss} across --resume (checkpoints keep fit's logs)
        self.val_losses = _read_record(record)
        self.budget = None if minutes is None else 60.0 * float(minutes)
        self.epochs, self.print_fn = epochs, print_fn
        self.train_seconds, self.steps, self.stopped_by_time = 0.0, 0, False
        self._mark = None

    def on_train_begin(self, logs=None):
        self._mark = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._mark = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.train_seconds += now - self._mark
        self._mark = now
        self.steps += 1
        if self.budget is not None and self.train_seconds >= self.budget:
            self.stopped_by_time = True
            self.model.stop_training = True

    @property
    def chars_per_second(self) -> float:
        return self.steps * self.chars_per_step / self.train_seconds if self.train_seconds else 0.0

    def on_epoch_end(self, epoch, logs=None):
        from rnnkit.text import stream_evaluate

        val_loss, _ = stream_evaluate(self.model, self.val_ids)
        if logs is not None:
            logs["val_loss"] = val_loss
        self.val_losses[epoch] = val_loss
        if self.record is not None:
            from rnnkit.fileio import atomic_write_text

            atomic_write_text(self.record, json.dumps({str(k): v for k, v in self.val_losses.items()}))
        stop = " (time budget reached)" if self.stopped_by_time else ""
        self.print_fn(f"epoch {epoch + 1}/{self.epochs}: loss={(logs or {}).get('loss', float('nan')):.4f} "
                      f"val_loss={val_loss:.4f} val_bpc={val_loss / LN2:.4f} "
                      f"({self.chars_per_second:,.0f} chars/s, {self.train_seconds:.0f} s of training){stop}",
                      flush=True)
        self._mark = time.perf_counter()


def _read_record(path) -> dict:
    if path is None or not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return {int(k): float(v) for k, v in json.load(f).items()}
    except (ValueError, TypeError, AttributeError, OSError):
        return {}  # a damaged record only costs the curve of earlier epochs


def train(config: CharLMConfig, resume: bool = False, overwrite: bool = False, print_fn=print) -> dict:
    """Train, evaluate, sample and save (``model.rnnkit``, ``report.json``, ``curves.png`` in ``config.out``);
    returns the report. Prints one line per epoch and, last, the headline ``val_loss=... val_bpc=...``."""
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.report import headline, plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, check_out_dir, checkpointed_fit
    from rnnkit.text import ResetStatesEachEpoch, sample_text, stream_batches, stream_evaluate

    config.validate()
    if not resume:
        check_out_dir(config.out, TASK, overwrite=overwrite)
    data = load_data(config)
    vocabulary = data["vocabulary"]
    x, y = stream_batches(data["train_ids"], config.batch_size, config.seq_len)
    model = build_model(config, len(vocabulary))
    record = os.path.join(config.out, VAL_RECORD)
    if not resume and os.path.exists(record):
        os.remove(record)
    monitor = CharLMMonitor(data["val_ids"], config.batch_size * config.seq_len, config.minutes, config.epochs,
                            print_fn, record)
    history = checkpointed_fit(model, config.out, TASK, config, resume=resume,
                               checkpoint_every=config.checkpoint_every,
                               callbacks=[ResetStatesEachEpoch(), monitor], x=x, y=y,
                               batch_size=config.batch_size, epochs=config.epochs, shuffle=False,
                               verbose=config.verbose)
    curves = {"loss": list(history.history.get("loss", [])),
              "val_loss": [monitor.val_losses.get(epoch, float("nan")) for epoch in history.epoch]}
    val_loss, predicted = stream_evaluate(model, data["val_ids"])
    baseline = unigram_loss(data["train_ids"], data["val_ids"], len(vocabulary))
    sample = sample_text(model, vocabulary, config.prime, 300, temperature=0.8, seed=config.seed)
    info = {"vocabulary": vocabulary, "seq_len": config.seq_len, "cell": config.cell}
    save_task_model(os.path.join(config.out, MODEL_NAME), model, TASK, info)
    report = {
        "task": TASK, "config": asdict(config),
        "vocabulary_size": len(vocabulary), "train_characters": int(len(data["train_ids"])),
        "val_characters": int(len(data["val_ids"])), "val_unknown_characters": data["val_unknown"],
        "val_loss": val_loss, "val_bpc": val_loss / LN2, "val_predicted_characters": predicted,
        "baseline": "unigram (training character frequencies, add-one smoothed)",
        "baseline_loss": baseline, "baseline_bpc": baseline / LN2,
        "epochs_run": len(curves["loss"]), "training_seconds": monitor.train_seconds,
        "training_steps": monitor.steps, "characters_per_second": monitor.chars_per_second,
        "stopped_by": "minutes" if monitor.stopped_by_time else "epochs",
        "history": curves, "sample_prime": config.prime, "sample_temperature": 0.8, "sample": sample,
    }
    write_report(config.out, report)
    plot_history(curves, os.path.join(config.out, "curves.png"),
                 f"char {config.cell.upper()} {config.units}x{config.layers} on {os.path.basename(config.text)}")
    print_fn(config.prime + sample)
    print_fn(headline({"val_loss": val_loss, "val_bpc": val_loss / LN2}))
    return report


# ------------------------------------------------------------------------------------------------- inference
def load(path: str):
    """``(model, vocabulary)`` of a ``model.rnnkit`` written by ``rnnkit charlm train``."""
    from rnnkit.tasks.artifacts import load_task_model

    model, info = load_task_model(path, TASK)
    vocabulary = info.get("vocabulary")
    if not isinstance(vocabulary, list) or not all(isinstance(c, str) for c in vocabulary) or len(vocabulary) < 3:
        raise DataError(f"{path}: task.json holds no character vocabulary")
    return model, vocabulary


def sample(path: str, prime: str, length: int, temperature: float = 1.0, top_k=None, seed=None) -> str:
    """``length`` characters generated after ``prime`` by the model in ``path``."""
    from rnnkit.text import sample_text

    model, vocabulary = load(path)
    return sample_text(model, vocabulary, prime, length, temperature=temperature, top_k=top_k, seed=seed)


def evaluate(path: str, text_path: str, batch_size: int = 1) -> dict:
    """The loss of the model in ``path`` over the whole text file read in order: ``{"loss", "bpc",
    "characters", "unknown"}`` (characters outside the vocabulary count as ``[UNK]``)."""
    from rnnkit.text import stream_evaluate

    model, vocabulary = load(path)
    text = read_text(text_path)
    ids, unknown = encode(text, vocabulary)
    loss, predicted = stream_evaluate(model, ids, batch_size=batch_size)
    return {"loss": loss, "bpc": loss / LN2, "characters": len(text), "predicted": predicted, "unknown": unknown}
