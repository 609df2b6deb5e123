"""History: records every epoch's logs; ``fit`` returns it and sets ``model.history``.

>>> h = History()
>>> h.on_train_begin()
>>> h.on_epoch_end(0, {"loss": 0.9, "accuracy": 0.5})
>>> h.on_epoch_end(1, {"loss": 0.7, "accuracy": 0.6})
>>> h.history, h.epoch
({'loss': [0.9, 0.7], 'accuracy': [0.5, 0.6]}, [0, 1])
"""
from __future__ import annotations

from rnnkit.callbacks.base import Callback


class History(Callback):
    """Keras' ``History``: ``history`` maps each log key to its list of per-epoch values; ``epoch`` lists the
    (0-based) epochs seen. Values accumulate over successive ``fit`` calls, as in Keras."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
