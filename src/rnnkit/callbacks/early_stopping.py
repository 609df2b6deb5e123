"""EarlyStopping: stop training when a monitored value has stopped improving (Keras 3 semantics).

At the end of each epoch from ``start_from_epoch`` on, with ``current = logs[monitor]``:

* ``current`` improves on ``best`` if ``current < best - min_delta`` (mode ``min``; ``>``/``+`` for ``max``);
  the first value seen always counts as an improvement;
* on improvement ``best = current`` (and the weights are kept when ``restore_best_weights``); the wait
  counter restarts if ``current`` also beats ``baseline`` (when one is given);
* otherwise ``wait += 1``; once ``wait >= patience`` (and not in the first epoch) training stops.

>>> class Model:
...     stop_training = False
...     def get_weights(self): return []
...     def set_weights(self, weights): pass
>>> stopper = EarlyStopping(monitor="loss", patience=1)
>>> stopper.set_model(Model())
>>> stopper.on_train_begin()
>>> for epoch, loss in enumerate([0.5, 0.4, 0.45]):
...     stopper.on_epoch_end(epoch, {"loss": loss})
>>> stopper.model.stop_training, stopper.stopped_epoch, stopper.best
(True, 2, 0.4)
"""
from __future__ import annotations

import warnings

from rnnkit.callbacks.base import Callback, resolve_mode
from rnnkit.errors import ConfigError


class EarlyStopping(Callback):
    """Keras' ``EarlyStopping``.

    Args:
        monitor: the log key to watch. Default ``"val_loss"``.
        min_delta: smallest change that counts as an improvement (its sign is ignored). Default 0.
        patience: epochs without improvement before stopping. Default 0.
        verbose: 1 prints a line when stopping and when restoring weights. Default 0.
        mode: ``"auto"``, ``"min"`` or ``"max"``. Default ``"auto"`` (see ``resolve_mode``).
        baseline: the wait counter only restarts on values that also beat this. Default None.
        restore_best_weights: at the end of training, set the weights of the best epoch back on the model
            (via ``model.get_weights`` / ``model.set_weights``). Default False.
        start_from_epoch: epochs to ignore at the start (warm-up). Default 0.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
        if patience < 0 or start_from_epoch < 0:
            raise ConfigError(f"patience and start_from_epoch must be >= 0; got {patience}, {start_from_epoch}")
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.min_delta, self.patience = abs(min_delta), patience
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._direction = None
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            self._direction = resolve_mode(self.monitor, self.mode, self.model)
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"EarlyStopping is conditioned on {self.monitor!r}, which is not in the logs; available keys: "
                f"{sorted(logs)}",
                stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # so far the current weights are the best
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
