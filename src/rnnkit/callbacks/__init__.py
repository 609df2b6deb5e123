"""Callbacks for ``fit``: History, EarlyStopping, ModelCheckpoint, BackupAndRestore, LearningRateScheduler, TerminateOnNaN,
CSVLogger, ReduceLROnPlateau, TensorBoard and the progress display, with Keras names and semantics (see
``callbacks.base`` for the order of events).

>>> from rnnkit import callbacks
>>> stopper = callbacks.EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True)
>>> isinstance(stopper, callbacks.Callback)
True
"""
from rnnkit.callbacks.backup_and_restore import BackupAndRestore
from rnnkit.callbacks.base import Callback, CallbackList, resolve_mode
from rnnkit.callbacks.early_stopping import EarlyStopping
from rnnkit.callbacks.history import History
from rnnkit.callbacks.lr_scheduler import LearningRateScheduler
from rnnkit.callbacks.model_checkpoint import ModelCheckpoint
from rnnkit.callbacks.progress import ProgressBar
from rnnkit.callbacks.terminate_on_nan import TerminateOnNaN
from rnnkit.callbacks.csv_logger import CSVLogger
from rnnkit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from rnnkit.callbacks.tensorboard import TensorBoard

ProgbarLogger = ProgressBar  # Keras' name for the progress callback

__all__ = [
    "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "TerminateOnNaN", "ProgressBar", "ProgbarLogger", "resolve_mode", "BackupAndRestore",
    "CSVLogger", "ReduceLROnPlateau", "TensorBoard",
]
