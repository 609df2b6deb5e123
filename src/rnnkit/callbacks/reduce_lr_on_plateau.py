"""ReduceLROnPlateau: multiply the learning rate by ``factor`` when a metric stops improving (Keras' rules).

At each epoch's end: during a cooldown the counter of bad epochs stays at 0; a value better than the best by
more than ``min_delta`` becomes the best; otherwise, outside a cooldown, the count of bad epochs grows and at
``patience`` the rate becomes ``max(lr * factor, min_lr)`` (only while it is above ``min_lr``), then the
cooldown starts. The current rate is added to the logs as ``learning_rate``.

>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> model = Sequential([Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
>>> reduce.set_model(model); reduce.on_train_begin()
>>> for epoch, value in enumerate([1.0, 0.9, 0.95, 0.97]):
...     reduce.on_epoch_end(epoch, {"val_loss": value})
>>> round(model.optimizer.learning_rate, 6)
0.0025
"""
from __future__ import annotations

import warnings

from rnnkit.callbacks.base import Callback, resolve_mode
from rnnkit.errors import ConfigError


class ReduceLROnPlateau(Callback):
    """Keras' ``ReduceLROnPlateau``.

    Args:
        monitor: the log to watch (default ``"val_loss"``).
        factor: new rate = rate * factor; must be below 1 (default 0.1).
        patience: epochs without improvement before a reduction (default 10).
        verbose: 1 prints each reduction.
        mode: ``"auto"`` (from the name), ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: the rate never goes below this (default 0).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ConfigError(f"ReduceLROnPlateau does not support a factor >= 1.0; got factor={factor}")
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"ReduceLROnPlateau mode {mode!r} is unknown, fallback to auto mode.", stacklevel=2)
            mode = "auto"
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode, self.min_delta, self.cooldown, self.min_lr = mode, abs(min_delta), cooldown, min_lr
        self._direction = None
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _improved(self, current) -> bool:
        if self.best is None:
            return True
        if self._direction == "min":
            return current + self.min_delta < self.best
        return current - self.min_delta > self.best

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            self._direction = resolve_mode(self.monitor, self.mode, self.model)
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        current = float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        rate = float(optimizer.learning_rate)
        if rate > self.min_lr:
            new_rate = max(rate * self.factor, self.min_lr)
            optimizer.learning_rate = new_rate
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_rate}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0
