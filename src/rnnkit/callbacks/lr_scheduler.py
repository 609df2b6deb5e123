"""LearningRateScheduler: set the optimizer's learning rate at the start of every epoch.

``schedule(epoch, lr) -> new_lr`` receives the 0-based epoch and the current learning rate (a one-argument
``schedule(epoch)`` also works, as Keras allows). The rate in use is added to the epoch's logs as
``"learning_rate"``.

>>> from rnnkit.optimizers import SGD
>>> class Model:
...     optimizer = SGD(learning_rate=0.1)
>>> cb = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
>>> cb.set_model(Model())
>>> logs = {}
>>> for epoch in range(4):
...     cb.on_epoch_begin(epoch)
>>> cb.on_epoch_end(3, logs)
>>> logs
{'learning_rate': 0.025}
"""
from __future__ import annotations

import inspect
import numbers

from rnnkit.callbacks.base import Callback
from rnnkit.errors import ConfigError


def _takes_one_argument(fn) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1


class LearningRateScheduler(Callback):
    """Keras' ``LearningRateScheduler``.

    Args:
        schedule: ``schedule(epoch, lr) -> float`` (or ``schedule(epoch)``), epoch 0-based.
        verbose: 1 prints the new rate at each epoch. Default 0.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"schedule must be a function schedule(epoch, lr); got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._one_argument = _takes_one_argument(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        new_lr = self.schedule(epoch) if self._one_argument else self.schedule(epoch, lr)
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real):
            raise ConfigError(f"the schedule must return a number; got {new_lr!r} at epoch {epoch}")
        optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
