"""Training runs of the applications: output folders, checkpoints, ``--resume``, Ctrl-C and non-finite losses.

``checkpointed_fit`` is ``model.fit`` with a ``BackupAndRestore`` checkpoint in the output folder after every
epoch (and every ``checkpoint_every`` steps), the run's config stored in it, Ctrl-C turned into
checkpoint-and-stop (``TrainingInterrupted``, exit status 130 in the CLI), and a non-finite loss reported with
the way out. ``saved_config`` reads the config of an unfinished run back for ``--resume``; ``check_out_dir``
refuses to start over on an unfinished run or on a finished model unless told to overwrite it.

>>> import tempfile
>>> import numpy as np
>>> from dataclasses import dataclass
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> @dataclass
... class DemoConfig:
...     epochs: int = 2
>>> out = tempfile.mkdtemp()
>>> model = Sequential([Dense(1, input_shape=(2,))])
>>> model.compile(optimizer="adam", loss="mse")
>>> history = checkpointed_fit(model, out, "demo", DemoConfig(), x=np.ones((4, 2)), y=np.zeros((4, 1)),
...                            epochs=2, verbose=0)
>>> len(history.history["loss"]), saved_config(out, "demo", DemoConfig).epochs
(2, 2)
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from rnnkit.errors import ConfigError, DataError, NonFiniteError, RnnkitError

MODEL_NAME = "model.rnnkit"
RESUME_OVERRIDES = ("epochs", "verbose", "checkpoint_every", "minutes")  # may change on --resume


def checkpoint_path(out: str) -> str:
    """Where a run in ``out`` keeps its checkpoint."""
    from rnnkit.callbacks.backup_and_restore import CHECKPOINT_NAME

    return os.path.join(out, CHECKPOINT_NAME)


def train_command(task: str) -> str:
    """The command that trains for ``task`` (``rnnkit train`` is the seed program's own task)."""
    return "rnnkit train" if task == "train" else f"rnnkit {task} train"


def resume_hint(task: str, out: str) -> str:
    """The command that continues the run in ``out``."""
    return f"{train_command(task)} --resume {out}"


def check_out_dir(out: str, task: str, overwrite: bool = False, refuse_finished: bool = True) -> None:
    """Refuse to start a new run in ``out`` when it holds an unfinished run (continue it with ``--resume``),
    or, with ``refuse_finished``, a finished model, unless ``overwrite``. Creates ``out``."""
    from rnnkit.models.checkpoint import read_metadata

    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"--out {out} is a file, not a folder; give a folder for the model, report and plots")
    path = checkpoint_path(out)
    if os.path.isfile(path) and not overwrite:
        try:
            saved = read_metadata(path)
            epochs = saved["metadata"]["config"]["epochs"]
            unfinished = saved["epoch"] < epochs
        except (RnnkitError, KeyError, TypeError, AttributeError):
            unfinished = False  # an unreadable checkpoint holds no work to lose
        if unfinished:
            raise ConfigError(f"{out} holds an unfinished run (stopped in epoch {saved['epoch'] + 1} of {epochs}); "
                              f"continue it with: {resume_hint(task, out)}  (or use another --out, or --overwrite)")
    if refuse_finished and os.path.isfile(os.path.join(out, MODEL_NAME)) and not overwrite:
        raise ConfigError(f"{out} already holds a trained model ({os.path.join(out, MODEL_NAME)}); use another "
                          "--out, or --overwrite to replace it")
    try:
        os.makedirs(out, exist_ok=True)
    except (NotADirectoryError, FileExistsError):
        raise ConfigError(f"--out {out}: a part of this path is a file, not a folder; give a folder for the "
                          "model, report and plots") from None
    except PermissionError:
        raise ConfigError(f"--out {out}: no permission to create this folder; give a folder you can write "
                          "to") from None
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot create this folder ({error.strerror or error})") from None


def saved_config(out: str, task: str, config_class):
    """The config (an instance of the dataclass ``config_class``) of the unfinished run in ``out``."""
    from rnnkit.models.checkpoint import read_metadata

    path = checkpoint_path(out)
    if not os.path.isfile(path):
        raise DataError(f"no checkpoint to resume in {out} (expected {path}, written by '{train_command(task)} "
                        f"--out {out}')")
    metadata = read_metadata(path).get("metadata")
    saved = metadata.get("config") if isinstance(metadata, dict) else None
    names = {field.name for field in dataclasses.fields(config_class)}
    if not isinstance(saved, dict) or metadata.get("task") != task or set(saved) - names:
        raise DataError(f"{path} holds no '{train_command(task)}' configuration (written by another command?)")
    try:
        return config_class(**saved)
    except TypeError as error:
        raise DataError(f"{path}: the saved configuration does not fit this rnnkit: {error}") from None


def resume_config(out: str, task: str, config_class, given: dict, overrides=RESUME_OVERRIDES):
    """The saved config of the run in ``out`` with the flags in ``overrides`` taken from ``given`` (the flags
    present on the command line); any other flag with a value different from the saved one is an error."""
    return apply_resume_flags(saved_config(out, task, config_class), out, given, overrides)


def apply_resume_flags(config, out: str, given: dict, overrides=RESUME_OVERRIDES):
    """``config`` (saved by the run in ``out``) with the flags in ``overrides`` taken from ``given``; any other
    flag in ``given`` with a value different from the saved one is a ``ConfigError``."""
    given = dict(given)
    if "out" in given and os.path.abspath(given.pop("out")) != os.path.abspath(out):
        raise ConfigError(f"--resume {out} writes into {out}; drop --out or give the same folder")
    conflicts = [f"--{k.replace('_', '-')} {v} (saved: {getattr(config, k)})" for k, v in given.items()
                 if k not in overrides and hasattr(config, k) and v != getattr(config, k)]
    if conflicts:
        allowed = ", ".join("--" + k.replace("_", "-") for k in overrides if hasattr(config, k))
        raise ConfigError(f"--resume continues the saved run with its own settings; these flags conflict with "
                          f"them: {', '.join(conflicts)}. Only {allowed} may change")
    for key in overrides:
        if key in given and hasattr(config, key):
            setattr(config, key, given[key])
    if hasattr(config, "out"):
        config.out = out
    return config


def checkpointed_fit(model, out: str, task: str, config, resume: bool = False, checkpoint_every: int = 0,
                     callbacks=(), **fit_kwargs):
    """``model.fit(**fit_kwargs)`` with a checkpoint in ``out`` that ``--resume`` continues from.

    ``config`` (a dataclass) is stored in the checkpoint with ``task``. Without ``resume`` an old checkpoint is
    removed first. Ctrl-C saves a checkpoint and raises ``TrainingInterrupted``; a non-finite loss raises
    ``NonFiniteError`` saying where, what to try, and which checkpoint is kept."""
    from rnnkit.callbacks import BackupAndRestore
    from rnnkit.cli.signals import InterruptToCheckpoint
    from rnnkit.models.checkpoint import remove_checkpoint

    os.makedirs(out, exist_ok=True)
    backup = BackupAndRestore(out, save_freq=checkpoint_every or "epoch", delete_checkpoint=False,
                              metadata={"task": task, "config": dataclasses.asdict(config)})
    if not resume:
        remove_checkpoint(backup.path)
    interrupt = InterruptToCheckpoint(backup, resume_hint(task, out))
    try:
        # overflow is detected and reported by fit itself (NonFiniteError): no NumPy warnings on top of it
        with interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return model.fit(callbacks=[backup, interrupt, *callbacks], **fit_kwargs)
    except NonFiniteError as error:
        kept = (f"the last good checkpoint is kept in {backup.path} (resume with: {resume_hint(task, out)})"
                if os.path.exists(backup.path) else "no checkpoint had been written yet")
        epochs = fit_kwargs.get("epochs", getattr(config, "epochs", "?"))
        where = "" if getattr(error, "epoch", None) is None else f" at epoch {error.epoch}/{epochs}, step {error.step}"
        reason = getattr(error, "reason", None) or str(error)
        lr = getattr(config, "lr", None)
        now = "" if lr is None else f" (now {lr:g})"
        raise NonFiniteError(f"training stopped{where}: {reason}. Try --clipnorm 1.0 or a lower --lr{now}; "
                             f"{kept}") from None
