"""TensorBoard: training logs as TensorBoard event files, with Keras' folders and tag names.

Written through ``tensorboardX`` (extra ``rnnkit[tensorboard]``), read by ``tensorboard --logdir LOG_DIR``:

- ``LOG_DIR/train``: ``epoch_<name>`` per epoch (step = epoch, 0-based) for the training logs and
  ``epoch_learning_rate``; with ``update_freq="batch"`` or an integer N, also ``batch_<name>`` every N
  training batches (step = batches since the start of ``fit``, from 1); every ``histogram_freq`` epochs the
  histogram of each weight (``<model name>/<weight name>/histogram``, as Keras' weight paths), of its gradient
  on the epoch's last training batch (``.../gradient``, an rnnkit addition), the weights as images with ``write_images`` (scaled to
  [0, 1]), and, given ``gradient_flow_data=(x, y)`` and matplotlib, the gradient-flow plot of
  ``rnnkit.diagnostics`` as the image ``gradient_flow``.
- ``LOG_DIR/validation``: ``epoch_<name>`` for the ``val_<name>`` logs, and ``evaluation_<name>_vs_iterations``
  at the end of each validation pass (step = optimizer updates so far).
- ``write_graph=True``: the model's config as the text summary ``keras`` at step 0 (what Keras 3 writes; no
  graph).

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> model = Sequential([Dense(1, input_shape=(2,))])
>>> model.compile(optimizer="sgd", loss="mse")
>>> logs = tempfile.mkdtemp()
>>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[TensorBoard(logs)])
>>> sorted(os.listdir(logs))
['train']
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from rnnkit.callbacks.base import Callback
from rnnkit.errors import ConfigError


def _writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ModuleNotFoundError("TensorBoard needs the tensorboardX package; install it with: "
                                  "pip install 'rnnkit[tensorboard]'", name="tensorboardX") from None
    return SummaryWriter


def _as_image(weight: np.ndarray) -> np.ndarray | None:
    """A weight as a ``(H, W)`` image in [0, 1] (Keras' layout: a bias is one row, a kernel wider than tall),
    or None for shapes Keras does not draw either."""
    w = np.squeeze(np.asarray(weight, dtype=np.float64))
    if w.ndim == 1:
        w = w[None, :]  # (1, n)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
    else:
        return None
    low, high = float(w.min()), float(w.max())
    return (w - low) / (high - low) if high > low else np.zeros_like(w)


class TensorBoard(Callback):
    """Keras' ``TensorBoard`` callback (event files through tensorboardX).

    Args:
        log_dir: the folder of the event files (default ``"logs"``); ``train/`` and ``validation/`` inside.
        histogram_freq: every how many epochs to write weight and gradient histograms (0: never).
        write_graph: write the model's config as a text summary (Keras 3 writes no graph either).
        write_images: also write the weights as images at the histogram epochs.
        write_steps_per_second: also write ``epoch_steps_per_second`` / ``batch_steps_per_second``.
        update_freq: ``"epoch"`` (scalars once per epoch), ``"batch"`` or an integer N (also every N batches).
        gradient_flow_data: optional ``(x, y)`` batch: at the histogram epochs, the image of
            ``rnnkit.diagnostics.gradient_flow`` on it (needs matplotlib).
        profile_batch, embeddings_freq, embeddings_metadata: accepted as Keras' defaults only (0, 0, None).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None, gradient_flow_data=None):
        super().__init__()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ConfigError(f"update_freq must be 'epoch', 'batch' or a positive integer; got {update_freq!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ConfigError(f"histogram_freq must be an integer >= 0; got {histogram_freq!r}")
        if profile_batch or embeddings_freq or embeddings_metadata is not None:
            raise ConfigError("TensorBoard: profiling and embeddings are not supported; expected profile_batch=0, "
                              "embeddings_freq=0, embeddings_metadata=None")
        _writer_class()  # fail now, not after the first epoch, when tensorboardX is missing
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self.gradient_flow_data = gradient_flow_data
        self._writers = {}
        self._global_train_batch = 0
        self._epoch_start_iterations = 0

    # ---------------------------------------------------------------------------------------- writers
    def _writer(self, split: str):
        """The event writer of ``train`` or ``validation``, created on first use (no empty folders)."""
        if split not in self._writers:
            self._writers[split] = _writer_class()(os.path.join(self.log_dir, split))
        return self._writers[split]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ----------------------------------------------------------------------------------------- events
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            self._write_config()

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._epoch_start = time.perf_counter()
        self._epoch_start_iterations = int(getattr(self.model.optimizer, "iterations", 0))

    def on_train_batch_begin(self, batch, logs=None):
        import time

        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        import time

        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer, step = self._writer("train"), self._global_train_batch
        if self.write_steps_per_second:
            writer.add_scalar("batch_steps_per_second", 1.0 / max(time.perf_counter() - self._batch_start, 1e-9),
                              step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not logs:
            return
        writer = self._writer("validation")
        for name, value in logs.items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), int(optimizer.iterations))

    def on_epoch_end(self, epoch, logs=None):
        import time

        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["learning_rate"] = float(optimizer.learning_rate)
            if self.write_steps_per_second:
                steps = int(optimizer.iterations) - self._epoch_start_iterations
                train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_start, 1e-9)
        for split, values in (("train", train), ("validation", validation)):
            if values and logs:  # no logs: nothing written, as Keras
                writer = self._writer(split)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
                writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)

    # -------------------------------------------------------------------------------------- pictures
    def _write_config(self):
        try:
            text = json.dumps(self.model.get_config(), default=str)
        except Exception:  # a subclassed model with arguments JSON cannot describe: no text, as Keras
            return
        self._writer("train").add_text("keras", text, 0)

    def _write_weights(self, epoch: int):
        writer = self._writer("train")
        for i, weight in enumerate(self.model.weights):
            name = f"{self.model.name}/{getattr(weight, 'name', f'weight_{i}')}".replace(":", "_")  # Keras' path
            writer.add_histogram(f"{name}/histogram", np.asarray(weight.data, dtype=np.float64), epoch)
            if weight.grad is not None:
                writer.add_histogram(f"{name}/gradient", np.asarray(weight.grad, dtype=np.float64), epoch)
            if self.write_images:
                image = _as_image(weight.data)
                if image is not None:
                    writer.add_image(f"{name}/image", image, epoch, dataformats="HW")
        if self.gradient_flow_data is not None:
            self._write_gradient_flow(writer, epoch)
        writer.flush()

    def _write_gradient_flow(self, writer, epoch: int):
        from rnnkit.diagnostics import gradient_flow, plot_gradient_flow
        from rnnkit.tasks.report import pyplot

        if pyplot() is None:
            return  # matplotlib is optional: no picture
        saved = [None if w.grad is None else w.grad.copy() for w in self.model.trainable_weights]
        x, y = self.gradient_flow_data
        flow = gradient_flow(self.model, x, y)
        for w, grad in zip(self.model.trainable_weights, saved):
            w.grad = grad  # the training gradients stay as fit left them
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "gradient-flow.png")
            plot_gradient_flow(flow, path, title=f"Gradient flow, epoch {epoch + 1}")
            import matplotlib.image

            image = matplotlib.image.imread(path)[..., :3]  # (H, W, 3) floats in [0, 1]
        writer.add_image("gradient_flow", image, epoch, dataformats="HWC")
