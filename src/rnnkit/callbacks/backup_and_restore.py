"""BackupAndRestore: keep a checkpoint of the whole training state, and resume from it after a crash.

Keras' ``BackupAndRestore``: at the start of ``fit``, if ``backup_dir`` holds a checkpoint, the model's
weights, the optimizer state, every random state (shuffling, dropout, ``rnnkit.random``) and the position in
training are restored, and ``fit`` continues from there: the rest of an interrupted epoch uses the saved data
order and skips the steps already done, so the final weights equal those of a run that never stopped (same
machine, same thread count). A checkpoint is written after every epoch, and every ``save_freq`` training steps
when ``save_freq`` is an integer. Writes are atomic: a crash while writing leaves the previous checkpoint.

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> from rnnkit.random import set_random_seed
>>> def train(epochs):
...     set_random_seed(0)
...     model = Sequential([Dense(1, input_shape=(2,))])
...     model.compile(optimizer="adam", loss="mse")
...     model.fit(np.ones((8, 2)), np.zeros((8, 1)), batch_size=4, epochs=epochs, verbose=0,
...               callbacks=[BackupAndRestore(folder, delete_checkpoint=False)])
...     return model.get_weights()[0]
>>> folder = tempfile.mkdtemp()
>>> _ = train(2)                  # stops after 2 epochs, checkpoint kept
>>> resumed = train(3)            # restores epoch 2's state and trains one more epoch
>>> folder = tempfile.mkdtemp()
>>> bool(np.array_equal(resumed, train(3)))
True
"""
from __future__ import annotations

import os

from rnnkit.callbacks.base import Callback
from rnnkit.errors import ConfigError

CHECKPOINT_NAME = "checkpoint.rnnkit"


class BackupAndRestore(Callback):
    """Keras' ``BackupAndRestore``, resuming inside an epoch as well.

    Args:
        backup_dir: folder of the checkpoint file ``checkpoint.rnnkit`` (created when needed).
        save_freq: ``"epoch"`` (after every epoch) or a number of training steps between checkpoints (also
            after every epoch); ``False`` saves only when ``save()`` is called. Default ``"epoch"``.
        delete_checkpoint: delete the checkpoint when ``fit`` finishes normally. Default True, as Keras.
        metadata: JSON-able data stored in the checkpoint (``rnnkit.models.checkpoint.read_metadata``).

    Attributes:
        restored: whether the last ``fit`` started from a checkpoint.
        path: the checkpoint file.
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True, metadata=None):
        super().__init__()
        if save_freq not in ("epoch", False) and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                                      and save_freq > 0):
            raise ConfigError(f"save_freq must be 'epoch', False or a positive number of steps; got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.path = os.path.join(self.backup_dir, CHECKPOINT_NAME)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self.metadata = metadata
        self.restored = False

    def _progress(self):
        progress = getattr(self.model, "_fit_progress", None)
        if progress is None:
            raise ConfigError("BackupAndRestore works inside model.fit() only")
        return progress

    def on_train_begin(self, logs=None):
        from rnnkit.models.checkpoint import restore_checkpoint

        self.restored = os.path.exists(self.path)
        if self.restored:
            restore_checkpoint(self.path, self.model, self._progress())

    def save(self) -> None:
        """Write the checkpoint now, at the current position of ``fit``."""
        from rnnkit.distribution.state import is_chief
        from rnnkit.models.checkpoint import save_checkpoint

        if not is_chief():  # under a distribution only rank 0 writes; every rank restores from the same file
            return
        save_checkpoint(self.path, self.model, self._progress(), self.metadata)

    def on_train_batch_end(self, batch, logs=None):
        if isinstance(self.save_freq, bool) or not isinstance(self.save_freq, int):
            return
        progress = self._progress()
        # the last step of an epoch is saved by on_epoch_end, right after validation
        if progress.global_step % self.save_freq == 0 and (progress.step < progress.steps or not progress.steps):
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq is not False:
            self.save()

    def on_train_end(self, logs=None):
        from rnnkit.distribution.state import is_chief

        if self.delete_checkpoint and is_chief():
            from rnnkit.models.checkpoint import remove_checkpoint

            remove_checkpoint(self.path)
