"""TerminateOnNaN: stop training as soon as a batch's loss is NaN or infinite.

>>> class Model:
...     stop_training = False
>>> cb = TerminateOnNaN()
>>> cb.set_model(Model())
>>> cb.on_train_batch_end(3, {"loss": float("nan")})
Batch 3: invalid loss, terminating training
>>> cb.model.stop_training
True
"""
from __future__ import annotations

import math

from rnnkit.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Keras' ``TerminateOnNaN``: sets ``model.stop_training = True`` when ``logs["loss"]`` is not finite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True
