"""ModelCheckpoint: save the model (or its weights) every epoch or every ``save_freq`` batches.

The file name is ``filepath.format(epoch=epoch + 1, **logs)`` (plus ``batch=batch + 1`` for batch-level
saves), e.g. ``"ckpt/m-{epoch:02d}-{val_loss:.2f}.rnnkit"``; missing folders are created. With
``save_best_only`` a file is written only when ``logs[monitor]`` beats the best value so far.

>>> class Model:
...     saved = []
...     def save(self, path): self.saved.append(path)
>>> cb = ModelCheckpoint("m-{epoch:02d}-{loss:.2f}.rnnkit", monitor="loss", save_best_only=True)
>>> cb.set_model(Model())
>>> for epoch, loss in enumerate([0.5, 0.7, 0.25]):
...     cb.on_epoch_end(epoch, {"loss": loss})
>>> cb.model.saved
['m-01-0.50.rnnkit', 'm-03-0.25.rnnkit']
"""
from __future__ import annotations

import math
import os
import warnings

from rnnkit.callbacks.base import Callback, resolve_mode
from rnnkit.distribution.state import is_chief
from rnnkit.errors import ConfigError


def _check_extension(filepath: str, save_weights_only: bool) -> None:
    """Keras' rules for HDF5 and ``.keras`` names: weights alone go to ``.weights.h5`` (Keras' HDF5 weights), never
    to another ``.h5`` name or a ``.keras`` one; a whole model never to ``.h5`` (Keras' legacy format, which
    rnnkit does not write). Any other name holds rnnkit's own format."""
    if save_weights_only and (filepath.endswith(".keras") or (filepath.endswith((".h5", ".hdf5"))
                                                              and not filepath.endswith(".weights.h5"))):
        raise ConfigError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end "
                          f"in `.weights.h5` (Keras weights format). Received: filepath={filepath}")
    if not save_weights_only and filepath.endswith((".h5", ".hdf5")):
        raise ConfigError(f"ModelCheckpoint cannot save whole models to {filepath}: legacy HDF5 model files (.h5) "
                          "are not supported; use a name ending in `.keras` (Keras model format) or `.rnnkit`, or "
                          "save_weights_only=True with `.weights.h5`")


class ModelCheckpoint(Callback):
    """Keras' ``ModelCheckpoint``.

    Args:
        filepath: file name pattern with ``{epoch}`` and log keys (``str.format`` syntax).
        monitor: the log key compared with ``save_best_only``. Default ``"val_loss"``.
        verbose: 1 prints a line per save (or skipped save). Default 0.
        save_best_only: only save when ``monitor`` improves. Default False.
        save_weights_only: call ``model.save_weights(path)`` instead of ``model.save(path)``. Default False.
        mode: ``"auto"``, ``"min"`` or ``"max"`` for ``monitor``. Default ``"auto"``.
        save_freq: ``"epoch"`` or a number of training batches between saves. Default ``"epoch"``.
        initial_value_threshold: the best value to beat at the start (``save_best_only``). Default None.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ConfigError(f"save_freq must be 'epoch' or a positive number of batches; got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        _check_extension(self.filepath, save_weights_only)
        self.monitor, self.verbose, self.mode = monitor, verbose, mode
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._direction = None
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # a batch number not above the last one means a new epoch began
        self._batches_since_save += batch + 1 if batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def file_path(self, epoch: int, batch, logs: dict) -> str:
        """The file name for a save at ``epoch`` (0-based) and ``batch`` (0-based, or None)."""
        fields = dict(logs, epoch=epoch + 1)
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigError(
                f"cannot format the checkpoint file name {self.filepath!r} with epoch and the log keys "
                f"{sorted(logs)}: {error!r}"
            ) from None

    def _is_improvement(self, current: float) -> bool:
        if self._direction is None:
            self._direction = resolve_mode(self.monitor, self.mode, self.model)
        if self.best is None:
            return True
        return current < self.best if self._direction == "min" else current > self.best

    def _save(self, epoch: int, batch, logs: dict) -> None:
        path = self.file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint can save the best model only with {self.monitor!r} in the logs; "
                              f"available keys: {sorted(logs)}", stacklevel=2)
                return
            current = float(current)
            if math.isnan(current) or not self._is_improvement(current):
                if self.verbose > 0 and is_chief():
                    best = "none" if self.best is None else f"{self.best:.5f}"
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            if self.verbose > 0 and is_chief():
                best = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose > 0 and is_chief():
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if not is_chief():  # under a distribution only rank 0 writes (every rank tracks `best` alike)
            return
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
