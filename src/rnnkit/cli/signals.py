"""Ctrl-C during ``rnnkit train``: finish the current step, write a checkpoint, stop with status 130.

While training runs, SIGINT only sets a flag. After the current training step, the ``InterruptToCheckpoint``
callback writes the checkpoint (through the run's ``BackupAndRestore``) and raises ``TrainingInterrupted``,
which ``rnnkit`` reports as one line. A Ctrl-C on the last step of an epoch waits for the epoch's end
(validation), whose checkpoint is written anyway. A second Ctrl-C stops at once (the previous checkpoint,
written atomically, stays valid).

>>> error = TrainingInterrupted("runs/a", epoch=2, step=17)
>>> str(error)
'interrupted at epoch 2 step 17; checkpoint saved to runs/a (resume with: rnnkit train --resume runs/a)'
"""
from __future__ import annotations

import signal
import threading

from rnnkit.callbacks.base import Callback


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after saving a checkpoint; ``epoch`` is 1-based, ``step`` counts the steps
    done in that epoch (0: at the end of the previous epoch)."""

    def __init__(self, out: str, epoch: int, step: int, resume_command: str | None = None):
        self.out, self.epoch, self.step = out, epoch, step
        where = f"at epoch {epoch} step {step}" if step else f"after epoch {epoch - 1}"
        resume_command = resume_command or f"rnnkit train --resume {out}"
        super().__init__(f"interrupted {where}; checkpoint saved to {out} (resume with: {resume_command})")

    def __str__(self) -> str:
        return self.args[0]


class InterruptToCheckpoint(Callback):
    """A callback and context manager: inside ``with``, SIGINT requests a checkpoint-and-stop after the step.

    Args:
        backup: the run's ``BackupAndRestore``, which writes the checkpoint.
        resume_command: the command the message offers to continue the run (default ``rnnkit train --resume``).
    """

    def __init__(self, backup, resume_command: str | None = None):
        super().__init__()
        self.backup = backup
        self.resume_command = resume_command
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _stop(self) -> None:
        progress = self.model._fit_progress
        raise TrainingInterrupted(self.backup.backup_dir, progress.epoch + 1, progress.step, self.resume_command)

    def on_train_batch_end(self, batch, logs=None):
        progress = self.model._fit_progress
        if self.requested and (progress.step < progress.steps or not progress.steps):  # last step: on_epoch_end saves
            self.backup.save()
            self._stop()

    def on_epoch_end(self, epoch, logs=None):
        if self.requested:  # BackupAndRestore (earlier in the list) has just written the epoch's checkpoint
            self._stop()
