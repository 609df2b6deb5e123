"""CSVLogger: one CSV row per epoch with the epoch's logs, as Keras' ``CSVLogger`` writes it.

The file is the same, byte for byte, as Keras' on the same sequence of logs: an ``epoch`` column then the log
names sorted (and ``val_<name>`` columns, empty of values ``NA``, when the first epoch has no validation
logs), Excel's CSV dialect (``\\r\\n`` line ends) with ``separator`` between fields, one-dimensional arrays
written as ``"[a, b]"``. With ``append=True`` rows go after an existing file's, and no second header is
written under a non-empty first line.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
>>> logger = CSVLogger(path)
>>> logger.on_train_begin()
>>> logger.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
>>> logger.on_train_end()
>>> open(path, newline="").read()
'epoch,accuracy,loss,val_accuracy,val_loss\\r\\n0,0.75,0.5,NA,NA\\r\\n'
"""
from __future__ import annotations

import csv
import os

import numpy as np

from rnnkit.callbacks.base import Callback


def _cell(value):
    """A log value as the CSV cell Keras writes: text as is, a sequence (not a 0-d array) as ``"[a, b]"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value
    try:
        items = list(iter(value))
    except TypeError:
        return value
    return '"[' + ", ".join(str(item) for item in items) + ']"'


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file (Keras ``CSVLogger``).

    Args:
        filename: path of the CSV file.
        separator: the field separator (default ``","``).
        append: add to an existing file (continuing a run) instead of overwriting it (default False).
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as existing:
                self.append_header = existing.readline() == ""  # an empty file still gets its header
        self._close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]  # columns for validation that may come later
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None

    def _close(self):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
