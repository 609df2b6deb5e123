"""ProgressBar: what ``fit(verbose=...)`` / ``evaluate`` / ``predict`` print.

* ``verbose=1`` on a terminal: one ``tqdm`` bar per epoch with the running loss and metrics and an ETA;
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
        verbose: 0 silent, 1 a bar on a terminal (else one line per epoch), 2 one line per epoch.
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

    def _open_bar(self, description: str, total) -> None:
        from tqdm import tqdm

        stream = self._stream()
        try:
            size = os.get_terminal_size(stream.fileno())
            sized = size.columns > 0 and size.lines > 0
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            sized = False
        # a terminal that reports no size (a pseudo-terminal under `script`, some IDEs) gets a fixed one:
        # tqdm would otherwise hide the bar as if it were outside a 0-line screen
        width = {"dynamic_ncols": True} if sized else {"ncols": 120, "nrows": 24}
        if total is not None:
            width["bar_format"] = "{l_bar}{bar:20}{r_bar}"  # a short bar leaves room for the logs
        self._bar = tqdm(total=total, desc=description, file=stream, unit="step", leave=True, **width)

    def _close_bar(self, logs) -> None:
        if self._bar is not None:
            text = format_logs(logs)
            if text:
                self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None

    def _advance(self, logs) -> None:
        if self._bar is not None:
            text = format_logs(logs)
            if text:
                self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1)

    def _line(self, head: str, logs) -> None:
        text = format_logs(logs)
        elapsed = time.perf_counter() - self._start
        line = f"{head} - {elapsed:.1f}s" + (f" - {text}" if text else "")
        stream = self._stream()
        stream.write(line + "\n")
        stream.flush()

    # ------------------------------------------------------------------------------ fit
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self.verbose:
            return
        self._start = time.perf_counter()
        self._head = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        if self._use_bar():
            self._open_bar(self._head, self.params.get("steps"))

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
