"""Where ``fit`` stands: the live position a checkpoint saves and a resumed ``fit`` continues from.

``fit`` keeps one ``FitProgress`` on the model (``model._fit_progress``) and updates it after every step and
epoch; ``BackupAndRestore`` reads it to write a checkpoint and, in ``on_train_begin``, moves it to the saved
point. A resumed epoch reuses the saved data order and skips the steps already done, so the run continues
exactly as if it had never stopped.

After step ``s`` of epoch ``e`` (0-based) the progress says ``epoch=e, step=s+1``: the next step to run. After
epoch ``e`` ends it says ``epoch=e+1, step=0`` (the next epoch draws a fresh order from ``rng``).

>>> import numpy as np
>>> p = FitProgress(epochs=2, steps=3, samples=5, batch_size=2, shuffle=True, rng=np.random.default_rng(0))
>>> p.begin_epoch(0, np.arange(5), 0)
>>> p.end_step(0, loss_sum=1.5, seen=2, metric_objects=[])
>>> p.epoch, p.step, p.loss_sum / p.seen
(0, 1, 0.75)
>>> first_nonfinite([np.ones(2), np.array([1.0, np.inf])], ["a", "b"])
('b', 'infinite')
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rnnkit.errors import NonFiniteError


@dataclasses.dataclass
class FitProgress:
    """The position of a ``fit`` call, and everything besides weights that a resumed run needs."""

    epochs: int  # fit's ``epochs``
    steps: int  # training steps per epoch (0: unknown, a generator without steps_per_epoch)
    samples: int  # training samples (batches of a PyDataset; 0 for a generator)
    batch_size: int  # 0 when the data come in batches
    shuffle: bool
    rng: np.random.Generator  # draws each epoch's data order
    epoch: int = 0  # current (or next) epoch, 0-based
    step: int = 0  # next step to run within ``epoch``
    order: np.ndarray | None = None  # this epoch's sample order (None without shuffling)
    loss_sum: float = 0.0  # sum of batch loss * batch rows so far in this epoch
    seen: int = 0  # rows so far in this epoch
    metric_states: list | None = None  # [[total, count], ...] per metric so far in this epoch
    epoch_logs: list = dataclasses.field(default_factory=list)  # [(epoch, logs), ...] of finished epochs
    global_step: int = 0  # steps done since the run began (all epochs)
    position: int = 0  # batches read from the current pass of a PyDataset (differs from step with steps_per_epoch)

    def begin_epoch(self, epoch: int, order, first_step: int) -> None:
        self.epoch, self.order, self.step = epoch, order, first_step
        if first_step == 0:
            self.loss_sum, self.seen, self.metric_states = 0.0, 0, None

    def end_step(self, step: int, loss_sum: float, seen: int, metric_objects) -> None:
        self.step, self.loss_sum, self.seen = step + 1, float(loss_sum), int(seen)
        self.metric_states = metric_states(metric_objects)
        self.global_step += 1

    def end_epoch(self, epoch: int, logs: dict) -> None:
        self.epoch_logs.append((epoch, {k: float(v) for k, v in logs.items()}))
        self.epoch, self.step, self.order = epoch + 1, 0, None
        self.loss_sum, self.seen, self.metric_states = 0.0, 0, None


def metric_states(metric_objects) -> list:
    """``[[total, count], ...]``: the running state of each metric (Python floats, exact in JSON)."""
    return [[float(m._total), float(m._count)] for m in metric_objects or []]


def set_metric_states(metric_objects, states) -> None:
    """Restore what ``metric_states`` returned (nothing when ``states`` is None)."""
    if states is None:
        return
    for m, (total, count) in zip(metric_objects, states):
        m._total, m._count = float(total), float(count)


def first_nonfinite(arrays, names):
    """``(name, "NaN" | "infinite")`` of the first array holding a NaN or infinity, else None.

    One fast sum per array; the exact element test runs only when a sum is not finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for array, name in zip(arrays, names):
            if array is None:
                continue
            array = array if isinstance(array, np.ndarray) else np.asarray(getattr(array, "data", array))
            if math.isfinite(array.sum()):
                continue
            if np.isnan(array).any():
                return getattr(name, "name", name), "NaN"
            if np.isinf(array).any():
                return getattr(name, "name", name), "infinite"
    return None


def nonfinite_error(message: str, epoch=None, step=None, parameter=None, reason=None) -> NonFiniteError:
    """A ``NonFiniteError`` carrying ``epoch`` and ``step`` (1-based), the ``parameter`` name and a short
    ``reason`` (what went non-finite) as attributes."""
    error = NonFiniteError(message)
    error.epoch, error.step, error.parameter, error.reason = epoch, step, parameter, reason or message
    return error
