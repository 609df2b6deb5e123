"""ProgressBar: what ``fit(verbose=...)`` / ``evaluate`` / ``predict`` print.

* ``verbose=1`` on a terminal: a line redrawn in place during each epoch (step count, bar, ETA and as many
  running metrics as fit), never wider than the terminal; when the epoch ends it is replaced by the epoch's
  complete line (loss, every metric, every ``val_`` metric), continued on further lines if the terminal is
  narrow. After ``--resume`` (``BackupAndRestore``) the count starts at the resumed step;
* ``verbose=1`` when the output is not a terminal (a log file, a notebook capture, CI), or ``verbose=2``:
  exactly one line per epoch, as Keras::

      Epoch 3/10 - 2.1s - loss: 0.4321 - accuracy: 0.8765 - val_loss: 0.5012 - val_accuracy: 0.8400

Values print with 4 decimals, or in scientific notation when smaller than 1e-3 (as Keras' progress bar).
Training keys come first, in the order of the logs, then the ``val_`` keys in the order of their training keys,
then ``learning_rate`` (added by ``LearningRateScheduler``).

>>> import io
>>> out = io.StringIO()
>>> bar = ProgressBar(verbose=2, file=out)
>>> bar.set_params({"epochs": 2, "steps": 10, "verbose": 2})
>>> bar.on_train_begin()
>>> bar.on_epoch_begin(0)
>>> bar.on_epoch_end(0, {"val_loss": 0.5, "loss": 0.43214, "accuracy": 0.0001})
>>> line = out.getvalue()
>>> line.startswith("Epoch 1/2 - ") and line.endswith("s - loss: 0.4321 - accuracy: 1.0000e-04 - val_loss: 0.5000\\n")
True
"""
from __future__ import annotations

import io
import numbers
import os
import shutil
import sys
import time

from rnnkit.callbacks.base import Callback

_HIDDEN_KEYS = ("batch", "size")
_LAST_KEYS = ("learning_rate",)  # settings rather than results: printed after the validation keys


def format_value(value) -> str:
    """``0.4321`` for ordinary values, ``1.2346e-04`` below 1e-3 in magnitude (and 0 as ``0.0000e+00``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_logs(logs) -> str:
    """``"loss: 0.4321 - accuracy: 0.8765 - val_loss: ..."``: training keys first, then ``val_`` keys (in the
    order of their training keys)."""
    logs = {k: v for k, v in (logs or {}).items() if k not in _HIDDEN_KEYS}
    train = [k for k in logs if not k.startswith("val_") and k not in _LAST_KEYS]
    val = [f"val_{k}" for k in train if f"val_{k}" in logs]  # in the order of their training keys
    ordered = train + val + [k for k in logs if k.startswith("val_") and k not in val]
    ordered += [k for k in _LAST_KEYS if k in logs]
    return " - ".join(f"{k}: {format_value(logs[k])}" for k in ordered)


class ProgressBar(Callback):
    """Progress display used by ``fit``, ``evaluate`` and ``predict`` when ``verbose > 0``.

    Args:
        verbose: 0 silent, 1 a live line on a terminal (else one line per epoch), 2 one line per epoch.
        file: where to write (default: ``sys.stdout`` at the time training starts).
    """

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose = verbose
        self.file = file
        self._in_fit = False
        self._bar = None
        self._start = 0.0

    # ------------------------------------------------------------------------------ helpers
    def _stream(self):
        return self.file if self.file is not None else sys.stdout

    def _use_bar(self) -> bool:
        if self.verbose != 1:
            return False
        isatty = getattr(self._stream(), "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def _open_bar(self, description: str, total, initial: int = 0) -> None:
        self._bar = LiveLine(self._stream(), description, total, initial)
        self._bar.update(initial, None, force=True)

    def _close_bar(self, logs) -> None:
        if self._bar is not None:
            self._bar.finish(logs, time.perf_counter() - self._start)
            self._bar = None

    def _advance(self, logs) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.n + 1, logs)

    def _line(self, head: str, logs) -> None:
        text = format_logs(logs)
        elapsed = time.perf_counter() - self._start
        line = f"{head} - {elapsed:.1f}s" + (f" - {text}" if text else "")
        stream = self._stream()
        stream.write(line + "\n")
        stream.flush()

    def _resumed_step(self, epoch: int) -> int:
        """The step a resumed epoch starts at (``fit`` skips the steps a checkpoint already holds)."""
        progress = getattr(self.model, "_fit_progress", None) if self.model is not None else None
        if progress is not None and getattr(progress, "epoch", None) == epoch:
            return int(getattr(progress, "step", 0) or 0)
        return 0

    # ------------------------------------------------------------------------------ fit
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self.verbose:
            return
        self._start = time.perf_counter()
        self._head = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        if self._use_bar():
            self._open_bar(self._head, self.params.get("steps"), self._resumed_step(epoch))

    def on_train_batch_end(self, batch, logs=None):
        self._advance(logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.verbose:
            return
        if self._bar is not None:
            self._close_bar(logs)
        else:
            self._line(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", logs)

    def on_train_end(self, logs=None):
        self._close_bar(None)
        self._in_fit = False

    # ------------------------------------------------------------------------------ evaluate / predict
    def _begin_alone(self, description: str) -> None:
        if self._in_fit or not self.verbose:
            return
        self._start = time.perf_counter()
        if self._use_bar():
            self._open_bar(description, self.params.get("steps"))

    def _end_alone(self, description: str, logs) -> None:
        if self._in_fit or not self.verbose:
            return
        if self._bar is not None:
            self._close_bar(logs)
        else:
            self._line(description, logs)

    def on_test_begin(self, logs=None):
        self._begin_alone("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._advance(logs)

    def on_test_end(self, logs=None):
        self._end_alone("Evaluate", logs)

    def on_predict_begin(self, logs=None):
        self._begin_alone("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        self._advance(None)

    def on_predict_end(self, logs=None):
        self._end_alone("Predict", None)


class LiveLine:
    """One line redrawn in place on a terminal (``\\r``), never wider than the terminal, then a final line.

    ``width`` (columns) is read at every redraw: ``$COLUMNS`` when set, else the size of the terminal behind
    ``stream``, else 80. A line is kept one column short of the width, since writing into the last column makes
    some terminals wrap. The final line (``finish``) holds every metric: when it is wider than the terminal it
    continues on further lines, broken between metrics, each within the width.

    >>> import io
    >>> out = io.StringIO()
    >>> line = LiveLine(out, "Epoch 1/2", total=4, columns=40)
    >>> line.update(4, {"loss": 0.5, "accuracy": 0.25}, force=True)
    >>> line.finish({"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125}, elapsed=1.25)
    >>> print(out.getvalue().split("\\r")[-1].rstrip())
    Epoch 1/2 4/4 - 1.2s - loss: 0.5000
      - accuracy: 0.2500 - val_loss: 0.7500
      - val_accuracy: 0.1250
    """

    INTERVAL = 0.05  # seconds between redraws (Keras' Progbar redraws at most every 0.05 s)
    BAR = 20  # bar width when the terminal has room (Keras' default)

    def __init__(self, stream, description: str, total=None, initial: int = 0, columns: int | None = None):
        self.stream, self.description, self.total = stream, description, total
        self.n = self.initial = int(initial)
        self.columns = columns
        self._start = time.perf_counter()
        self._last_draw = -1.0
        self._drawn = 0  # characters of the line now on the screen

    def width(self) -> int:
        """Columns available to a line (one less than the terminal's)."""
        return max(terminal_columns(self.stream) if self.columns is None else self.columns, 2) - 1

    def _timing(self) -> str:
        done = self.n - self.initial
        elapsed = time.perf_counter() - self._start
        if done <= 0 or elapsed <= 0:
            return ""
        if self.total is not None and self.n < self.total:
            return f"ETA {_duration(elapsed / done * (self.total - self.n))}"
        return f"{_duration(elapsed)}"

    def render(self, logs) -> str:
        """The live line: as many whole metrics as fit, then a shorter bar, then less."""
        width = self.width()
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}/Unknown"  # Keras' word
        items = _items(logs)
        timing = self._timing()
        for bar in (self.BAR, 10, 0):
            head = f"{self.description} {count}"
            if bar and self.total:
                filled = min(bar, bar * self.n // max(self.total, 1))
                head += " [" + "=" * filled + (">" if filled < bar else "") + "." * max(bar - filled - 1, 0) + "]"
            if timing:
                head += " " + timing
            if len(head) > width:
                continue
            line = head
            for item in items:
                if len(line) + 3 + len(item) > width:
                    break
                line += " - " + item
            if line != head or not items or bar == 0:
                return line
        return f"{self.description} {count}"[:width]

    def _write(self, text: str) -> None:
        pad = " " * max(self._drawn - len(text), 0)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._drawn = len(text)

    def update(self, n: int, logs=None, force: bool = False) -> None:
        self.n = int(n)
        now = time.perf_counter()
        if force or now - self._last_draw >= self.INTERVAL or (self.total is not None and self.n >= self.total):
            self._last_draw = now
            self._write(self.render(logs))

    def finish(self, logs=None, elapsed: float | None = None) -> None:
        """Replace the live line with the complete result, wrapped between metrics to the width."""
        elapsed = time.perf_counter() - self._start if elapsed is None else elapsed
        count = f" {self.n}/{self.total if self.total is not None else 'Unknown'}"
        lines = wrap_items(f"{self.description}{count} - {elapsed:.1f}s", _items(logs), self.width())
        self._write(lines[0])
        self.stream.write("".join("\n" + line for line in lines[1:]) + "\n")
        self.stream.flush()
        self._drawn = 0


def wrap_items(head: str, items, width: int) -> list:
    """``head - item - item ...`` broken into lines of at most ``width`` columns, between items (a
    continuation line starts with ``"  - "``); an item too long for a line is broken after its ``name:``, and
    a name too long for a line is continued on the next, so that nothing is lost.

    >>> wrap_items("Epoch 1/1", ["loss: 0.5000", "a_very_long_metric_name: 0.2500"], 24)
    ['Epoch 1/1 - loss: 0.5000', '  - a_very_long_metric_n', '    ame:', '    0.2500']
    """
    width = max(width, 8)
    lines, line = [], head
    for item in items:
        if len(line) + 3 + len(item) <= width:
            line += " - " + item
            continue
        lines.append(line)
        line = "  - " + item
        if len(line) > width:
            name, _, value = item.partition(": ")
            pieces = [("  - " + name + ":")] + (["    " + value] if value else [])
            for piece in pieces[:-1]:
                while len(piece) > width:
                    lines.append(piece[:width])
                    piece = "    " + piece[width:]
                lines.append(piece)
            line = pieces[-1]
            while len(line) > width:
                lines.append(line[:width])
                line = "    " + line[width:]
    lines.append(line)
    # a head wider than the terminal (a long description) is continued the same way
    out = []
    for text in lines:
        while len(text) > width:
            out.append(text[:width])
            text = "    " + text[width:]
        out.append(text)
    return out


def terminal_columns(stream) -> int:
    """The terminal's width: ``$COLUMNS`` when set (as ``shutil.get_terminal_size``), else the size of the
    terminal ``stream`` writes to, else ``shutil.get_terminal_size``'s (80 when nothing is known)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns


def _items(logs) -> list:
    text = format_logs(logs)
    return text.split(" - ") if text else []


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
