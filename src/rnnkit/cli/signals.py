"""Ctrl-C during training: finish the current step, write a checkpoint, stop with status 130.

While training runs, SIGINT only sets a flag. After the current training step, the ``InterruptToCheckpoint``
callback writes the checkpoint (through the run's ``BackupAndRestore``) and raises ``TrainingInterrupted``,
which ``rnnkit`` reports as one line. A Ctrl-C on the last step of an epoch waits for the epoch's end
(validation), whose checkpoint is written anyway.

Pressing Ctrl-C again: while a checkpoint is being written, the write finishes first (and the run stops
after it, as asked); otherwise the run stops at once with ``InterruptedAgain``, whose message says plainly
which checkpoint the folder holds (read back from the file, which is written atomically), or that none was
written.

>>> error = TrainingInterrupted("runs/a", epoch=2, step=17)
>>> str(error)
'interrupted at epoch 2 step 17; checkpoint saved to runs/a (resume with: rnnkit train --resume runs/a)'
>>> str(InterruptedAgain("runs/a", None, "rnnkit train --resume runs/a"))
'interrupted again before a checkpoint was written: no checkpoint in runs/a, nothing to resume'
"""
from __future__ import annotations

import os
import signal
import threading

from rnnkit.callbacks.base import Callback


def _where(epoch: int, step: int) -> str:
    """``epoch`` 1-based, ``step`` the steps done in it (0: at the end of the previous epoch)."""
    return f"at epoch {epoch} step {step}" if step else f"after epoch {epoch - 1}"


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after saving a checkpoint; ``epoch`` is 1-based, ``step`` counts the steps
    done in that epoch (0: at the end of the previous epoch)."""

    def __init__(self, out: str, epoch: int, step: int, resume_command: str | None = None):
        self.out, self.epoch, self.step = out, epoch, step
        resume_command = resume_command or f"rnnkit train --resume {out}"
        super().__init__(f"interrupted {_where(epoch, step)}; checkpoint saved to {out} (resume with: "
                         f"{resume_command})")

    def __str__(self) -> str:
        return self.args[0]


class InterruptedAgain(KeyboardInterrupt):
    """A second Ctrl-C stopped training before the requested checkpoint was written. ``saved`` is the
    ``(epoch, step)`` of the checkpoint the folder holds (as ``TrainingInterrupted`` counts), or None."""

    def __init__(self, out: str, saved, resume_command: str):
        self.out, self.saved = out, saved
        if saved is None:
            text = f"no checkpoint in {out}, nothing to resume"
        else:
            text = (f"the checkpoint in {out} is the one {_where(*saved)} (resume with: {resume_command})")
        super().__init__(f"interrupted again before a checkpoint was written: {text}")

    def __str__(self) -> str:
        return self.args[0]


def saved_position(path: str):
    """``(epoch, step)`` of the checkpoint at ``path`` as ``TrainingInterrupted`` counts them, or None."""
    from rnnkit.errors import RnnkitError
    from rnnkit.models.checkpoint import read_metadata

    if not os.path.isfile(path):
        return None
    try:
        state = read_metadata(path)
    except (RnnkitError, OSError, KeyError):
        return None
    epoch, step = int(state["epoch"]), int(state["step"])
    return (epoch + 1, step) if step else (epoch + 1, 0)


class InterruptToCheckpoint(Callback):
    """A callback and context manager: inside ``with``, SIGINT requests a checkpoint-and-stop after the step.

    Args:
        backup: the run's ``BackupAndRestore``, which writes the checkpoint.
        resume_command: the command the message offers to continue the run (default ``rnnkit train --resume``).
    """

    def __init__(self, backup, resume_command: str | None = None):
        super().__init__()
        self.backup = backup
        self.resume_command = resume_command or f"rnnkit train --resume {backup.backup_dir}"
        self.requested = False
        self.saving = False
        self._previous = None
        write = backup.save

        def save_uninterrupted():  # every checkpoint the run writes, Ctrl-C or not, is marked as in progress
            self.saving = True
            try:
                write()
            finally:
                self.saving = False

        backup.save = save_uninterrupted

    def _handle(self, signum, frame) -> None:
        if not self.requested or self.saving:  # first Ctrl-C, or one during a write: the write completes
            self.requested = True
            return
        raise InterruptedAgain(self.backup.backup_dir, saved_position(self.backup.path), self.resume_command)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            # After a Ctrl-C the command is ending (status 130): a further press while it unwinds is ignored, so
            # that it cannot end the process by the default handler (status -2) before the message is printed.
            signal.signal(signal.SIGINT, signal.SIG_IGN if self.requested else self._previous)
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
