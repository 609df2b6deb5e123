"""compile / fit / evaluate / predict and the ``*_on_batch`` steps: Keras' training loops for every Model.

One training step is::

    y_pred = model(x_batch, training=True)
    loss   = sum_k  w_k * loss_k(y_k, y_pred_k)          (one output: just loss(y, y_pred))
    grads  = d loss / d trainable_weights                 (loss.backward())
    optimizer.apply(grads, trainable_weights)

The data are prepared once per call (float inputs cast to the model's dtype, lengths checked); a batch is
then one fancy-indexing copy of the shuffled indices (a view when ``shuffle=False``). The logged ``loss`` is
the mean of the batch losses weighted by batch size, as Keras' loss tracker; metrics are updated from the
prediction arrays the step already has. Every step checks the loss and the gradients for NaN and infinity (one
sum per gradient) and stops before a non-finite update (``NonFiniteError`` names the epoch, step and parameter).

>>> import numpy as np
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> from rnnkit.optimizers import SGD
>>> from rnnkit.random import set_random_seed
>>> set_random_seed(0)
>>> x = np.linspace(-1, 1, 64).reshape(64, 1); y = 3 * x
>>> model = Sequential([Dense(1, input_shape=(1,))])
>>> model.compile(optimizer=SGD(learning_rate=0.2), loss="mse")
>>> history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
>>> history.history["loss"][-1] < history.history["loss"][0]
True
>>> model.evaluate(x, y, verbose=0) < 0.1
True
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from rnnkit import losses as losses_module
from rnnkit import metrics as metrics_module
from rnnkit import optimizers as optimizers_module
from rnnkit.autograd import Tensor, no_grad
from rnnkit.distribution import state as distribution_state
from rnnkit.errors import ConfigError, NonFiniteError, ShapeError
from rnnkit.layers.base import string_array
from rnnkit.models.data_adapters import (RAN_OUT_WARNING, ArrayFeed, BatchFeed, check_feed_arguments,
                                         describe, is_batch_data)
from rnnkit.models.progress import FitProgress, first_nonfinite, nonfinite_error, set_metric_states

_IGNORED_COMPILE_ARGS = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss", "weighted_metrics")


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, float):
        raise ConfigError(f"verbose must be 'auto', 0, 1 or 2; got {verbose!r}")
    return int(verbose)


def _batch_size(batch_size) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


def _from_dataset(x, y, batch_size, caller: str):
    """``(x, y, batch_size, dataset)`` with a ``TimeseriesDataset`` given as ``x`` turned into its arrays (all its
    windows, in its order) and its batch size; other ``x`` pass through (``dataset`` None). As in Keras, ``y``
    and ``batch_size`` come from the dataset and must not be given beside it."""
    from rnnkit.utils.timeseries import TimeseriesDataset

    if not isinstance(x, TimeseriesDataset):
        return x, y, batch_size, None
    if y is not None:
        raise ConfigError(f"{caller}: `y` must not be given when `x` is a dataset (its batches hold the targets)")
    if batch_size is not None:
        raise ConfigError(f"{caller}: `batch_size` must not be given when `x` is a dataset (it is batched already); "
                          f"got batch_size={batch_size!r}")
    if x.batch_size is None:
        raise ConfigError(f"{caller}: the dataset yields single windows (batch_size=None); make it with a batch_size")
    arrays = x.arrays()
    if isinstance(arrays, tuple):
        return arrays[0], arrays[1], x.batch_size, x
    return arrays, None, x.batch_size, x


def _check_validation_freq(freq) -> None:
    if isinstance(freq, bool):
        raise ConfigError(f"validation_freq must be a positive integer or a list of epochs; got {freq!r}")
    if isinstance(freq, (int, np.integer)):
        if freq < 1:
            raise ConfigError(f"validation_freq must be a positive integer or a list of epochs; got {freq!r}")
        return
    try:
        items = list(freq)
    except TypeError:
        raise ConfigError(f"validation_freq must be a positive integer or a list of epochs; got {freq!r}") from None
    if not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in items):
        raise ConfigError(f"validation_freq must be a positive integer or a list of epochs; got {freq!r}")


def _should_validate(epoch: int, freq) -> bool:
    """Keras' rule: an int validates every ``freq`` epochs; a list names the (1-based) epochs to validate."""
    if isinstance(freq, (int, np.integer)):
        return (epoch + 1) % int(freq) == 0
    return epoch + 1 in freq


def _array_steps(n: int, batch_size: int, steps) -> int:
    """The batches ``evaluate`` / ``predict`` run over ``n`` samples: all, or ``steps`` (Keras' warning when
    ``steps`` asks for more than there are)."""
    total = -(-n // batch_size)
    if steps is None:
        return total
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps must be None or a positive integer; got {steps!r}")
    if steps > total:
        warnings.warn(RAN_OUT_WARNING, stacklevel=3)
    return min(int(steps), total)


def _array_batches(xs, is_list, ys, sw, batch_size, order=None, first=0, steps=None):
    """``(step, xs, is_list, ys, sample_weight)`` for the batches of arrays, in ``order`` (None: as stored),
    from step ``first``; ``steps`` caps the number of batches."""
    total = -(-len(xs[0]) // batch_size)
    for step in range(first, total if steps is None else min(int(steps), total)):
        index = slice(step * batch_size, (step + 1) * batch_size)
        if order is not None:
            index = order[index]
        yield step, [a[index] for a in xs], is_list, [a[index] for a in ys], None if sw is None else sw[index]


class Trainer:
    """The training half of ``Model`` (a mixin): compile, fit, evaluate, predict and the per-batch steps.

    >>> from rnnkit.layers import Dense
    >>> from rnnkit.models import Sequential
    >>> model = Sequential([Dense(1, input_shape=(2,))])
    >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    >>> loss, mae = model.evaluate(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    >>> loss, mae, model.metrics_names
    (0.0, 0.0, ['loss', 'mae'])
    """

    def _init_training_state(self) -> None:
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self.compiled = False
        self._loss_objects = None
        self._loss_weights = None
        self._metric_identifiers = []
        self._metric_objects = None
        self._training_cache = None

    # ------------------------------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs) -> None:
        """Choose the optimizer, the loss and the metrics (names, objects or config dicts), as Keras.

        ``loss`` may be a list (one per output) for a model with several outputs; a single loss applies to every
        output, weighted by ``loss_weights`` (default 1 each).
        """
        unknown = sorted(set(kwargs) - set(_IGNORED_COMPILE_ARGS))
        if unknown:
            raise ConfigError(f"compile() got unexpected keyword argument(s) {unknown}")
        self.optimizer = optimizers_module.get(optimizer)
        if loss is None:
            self._loss_objects = None
        elif isinstance(loss, (list, tuple)):
            self._loss_objects = [losses_module.get(item) for item in loss]
        else:
            self._loss_objects = losses_module.get(loss)
        self.loss = loss
        self._loss_weights = None if loss_weights is None else [float(w) for w in loss_weights]
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        self._metric_identifiers = list(metrics)
        for identifier in self._metric_identifiers:
            if isinstance(identifier, str):
                metrics_module.get(identifier)  # unknown names fail now, not in fit
        self._metric_objects = None
        self._training_cache = None
        self.compiled = True

    @property
    def metrics(self) -> list:
        """The compiled metric objects (resolved on the first batch, as Keras' ``"accuracy"`` needs the data)."""
        return list(self._metric_objects or [])

    @property
    def metrics_names(self) -> list:
        return ["loss"] + [m.name for m in self.metrics]

    def _require_compiled(self, method: str) -> None:
        if not self.compiled or self.optimizer is None:
            raise ConfigError(f"call model.compile(optimizer=..., loss=...) before model.{method}()")
        if self._loss_objects is None:
            raise ConfigError(f"model.{method}() needs a loss: compile(loss=...) was called without one")

    # --------------------------------------------------------------------------------------- data prep
    def _prepare_x(self, x) -> tuple:
        """``(list of arrays, is_list)`` with float arrays cast once to the model's input dtypes."""
        if x is None:
            raise ConfigError("x is None; pass the input arrays")
        placeholders = getattr(self, "_input_list", None)
        expected = len(placeholders) if placeholders else (1 if hasattr(self, "pop") else None)
        is_list = isinstance(x, (list, tuple))
        if is_list and (expected or 1) == 1 and not all(isinstance(a, (np.ndarray, Tensor)) for a in x):
            is_list = False  # nested Python lists: one array, as Keras reads them
        if is_list and expected == 1 and len(x) == 1:
            x, is_list = x[0], False
        arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in (x if is_list else [x])]
        dtypes = [p.dtype for p in placeholders] if placeholders and len(placeholders) == len(arrays) else None
        for i, a in enumerate(arrays):
            if a.dtype.kind in "US" or (a.dtype.kind == "O" and a.size and isinstance(a.flat[0], (str, bytes))):
                arrays[i] = string_array(a) if a.dtype.kind != "U" else a  # texts (TextVectorization first)
                continue
            target = dtypes[i] if dtypes is not None else np.dtype(self.dtype)
            if a.dtype.kind in "fO" and target.kind == "f" and a.dtype != target:
                arrays[i] = a.astype(target)
            elif a.dtype.kind in "biu" and target.kind == "f" and dtypes is not None:
                arrays[i] = a.astype(target)  # bool / integers to a functional model's float Input, as Keras
            elif a.dtype.kind in "fO" and target.kind != "f" and a.dtype.kind == "O":
                arrays[i] = a.astype(np.float64)
            if arrays[i].ndim == 0:
                raise ShapeError(f"inputs need a batch axis; got a scalar for input {i}")
        return arrays, is_list

    def _prepare_y(self, y) -> list:
        if y is None:
            raise ConfigError("y is None; fit() and evaluate() need targets")
        several = isinstance(y, (list, tuple)) and all(isinstance(a, (np.ndarray, Tensor)) for a in y)
        items = y if several else [y]  # a plain Python list of labels is one array
        arrays = []
        for a in items:
            a = np.asarray(a.data if isinstance(a, Tensor) else a)
            if a.dtype.kind == "f" and a.dtype != np.dtype(self.dtype):
                a = a.astype(self.dtype)
            if a.ndim == 0:
                raise ShapeError("y needs a batch axis; got a scalar")
            arrays.append(a)
        return arrays

    def _prepare_labelled(self, x, y, sample_weight, caller: str):
        """Inputs, targets and sample weights as arrays, checked to have one length: ``(xs, is_list, ys, sw, n)``."""
        xs, is_list = self._prepare_x(x)
        ys = self._prepare_y(y)
        sw = None if sample_weight is None else np.asarray(sample_weight)
        return xs, is_list, ys, sw, self._check_lengths(xs, ys, sw, caller)

    @staticmethod
    def _check_lengths(xs: list, ys: list, sw, where: str) -> int:
        n = len(xs[0])
        for i, a in enumerate(xs[1:], start=1):
            if len(a) != n:
                raise ShapeError(f"{where}: input 0 has {n} samples but input {i} has {len(a)}; every input needs "
                                 "the same number of samples (first axis)")
        for a in ys:
            if len(a) != n:
                raise ShapeError(f"{where}: x has {n} samples but y has {len(a)}; x and y must have the same "
                                 "length (first axis)")
        if sw is not None and len(sw) != n:
            raise ShapeError(f"{where}: x has {n} samples but sample_weight has {len(sw)}")
        return n

    def _model_input(self, xs: list, is_list: bool):
        return xs if is_list else xs[0]

    # --------------------------------------------------------------------------------------- one step
    def _outputs_list(self, out) -> list:
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _compute_loss(self, ys: list, outs: list, sample_weight=None) -> Tensor:
        loss_objects = self._loss_objects
        if not isinstance(loss_objects, list):
            loss_objects = [loss_objects] * len(outs)
        if len(loss_objects) != len(outs) or len(ys) != len(outs):
            raise ConfigError(
                f"the model has {len(outs)} output(s); got {len(ys)} target array(s) and {len(loss_objects)} "
                "loss(es). Pass one y per output (a list) and one loss, or one loss per output"
            )
        total = None
        for k, (fn, y, out) in enumerate(zip(loss_objects, ys, outs)):
            try:
                value = fn(y, out, sample_weight)
            except ShapeError as error:
                hint = ""
                name = getattr(fn, "name", type(fn).__name__)
                if "sparse" in name and y.ndim == out.ndim:
                    hint = " (one-hot targets need 'categorical_crossentropy')"
                elif "categorical" in name and "sparse" not in name and y.ndim < out.ndim:
                    hint = (" (integer class labels need 'sparse_categorical_crossentropy', or one-hot encode them "
                            "with rnnkit.utils.to_categorical)")
                raise ShapeError(
                    f"y of shape {y.shape} does not fit output {k} of shape {out.shape} for loss {name!r}: "
                    f"{error}{hint}"
                ) from None
            if self._loss_weights is not None:
                value = value * self._loss_weights[k]
            total = value if total is None else total + value
        return total

    def _trainable_list(self) -> list:
        cache = self._training_cache
        if cache is None:
            cache = self.trainable_weights
            if self.optimizer is not None:
                self.optimizer.build(cache)  # slot order = trainable_weights order (what save/load relies on)
            self._training_cache = cache
        return cache

    def _resolve_metrics(self, ys: list, outs: list) -> list:
        if self._metric_objects is None:
            if self._metric_identifiers and len(outs) > 1:
                raise ConfigError("metrics are supported for models with one output only; compile(metrics=None)")
            loss = self.loss[0] if isinstance(self.loss, (list, tuple)) else self.loss
            self._metric_objects = [
                metrics_module.get(m, loss=loss, y_true_shape=ys[0].shape, y_pred_shape=outs[0].shape)
                for m in self._metric_identifiers
            ]
        return self._metric_objects

    def _update_metrics(self, metric_objects, ys, outs) -> None:
        if not metric_objects:
            return
        strategy = distribution_state.current()
        if strategy is not None:  # distribution hook: this rank's rows, then (total, count) summed over ranks
            from rnnkit.distribution.steps import update_metrics

            return update_metrics(strategy, metric_objects, ys, outs, self._update_metric_states)
        self._update_metric_states(metric_objects, ys, outs)

    def _update_metric_states(self, metric_objects, ys, outs) -> None:
        out = outs[0]
        mask = out._keras_mask
        for m in metric_objects:
            m.update_state(ys[0], out.data, sample_weight=mask)

    def _train_step(self, x, ys: list, sw=None, where: str = "") -> tuple:
        """One update; returns ``(loss value, outputs)``. A non-finite loss skips the update; a non-finite
        gradient raises ``NonFiniteError`` (naming ``where`` and the first such parameter) before any weight
        changes."""
        strategy = distribution_state.current()
        if strategy is not None:  # distribution hook: this rank's slice, gradients all-reduced before the update
            from rnnkit.distribution.steps import train_step

            return train_step(strategy, self, x, ys, sw, where)
        out = self(x, training=True)
        outs = self._outputs_list(out)
        loss = self._compute_loss(ys, outs, sw)
        value = float(loss.data)
        if not math.isfinite(value):
            return value, outs
        weights = self._trainable_list()
        if weights and loss.requires_grad:
            for w in weights:
                w.grad = None
            loss.backward()
            grads = [w.grad for w in weights]
            bad = first_nonfinite(grads, weights)
            if bad is not None:
                reason = f"parameter {bad[0]!r} has {bad[1]} gradient values (the loss was {value:.6g})"
                raise nonfinite_error(f"non-finite gradient {where or 'in train_on_batch()'}: {reason}; the weights "
                                      "were not updated. Clip the gradients (clipnorm=...) or lower the learning "
                                      "rate", parameter=bad[0], reason=reason)
            self.optimizer.apply(grads, weights)
        return value, outs

    # ---------------------------------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, sample_weight=None, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the ``History`` (also ``model.history``).

        Args (Keras' names and defaults): ``batch_size`` 32; ``verbose`` ``"auto"`` (= 1: a bar, or a line per
        epoch when not on a terminal), 0 (silent), 2 (a line per epoch); ``validation_split``: the last fraction
        of the samples (before shuffling) is held out; ``validation_data``: ``(x_val, y_val)`` or batches as
        below; ``shuffle``: reshuffle every epoch with a generator from ``rnnkit.random``; ``initial_epoch``:
        the epoch to start at; ``validation_freq``: validate every that many epochs (an int), or after the
        epochs listed (1-based).
        ``x`` (and ``validation_data``) may be a ``timeseries_dataset_from_array`` dataset: its windows, its batch
        size, its order (reshuffled every epoch only if the dataset is shuffled); ``y`` and ``batch_size`` are
        then not given.

        ``x`` (and ``validation_data``) may also be batches, read as Keras reads them (``data_adapters``): a
        Python generator or iterator, an iterable of ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` batches,
        or an ``rnnkit.utils.PyDataset``; ``steps_per_epoch`` / ``validation_steps`` then say how many batches
        make an epoch (default: one pass). A generator that runs out gives Keras' warning and ends the epoch;
        training stops there, since a generator cannot be read twice. With arrays, ``steps_per_epoch`` makes
        epochs of that many batches carrying the pass on (batch size ``ceil(samples / steps)`` if not given).

        The position of the run is kept in ``model._fit_progress`` (``FitProgress``): with
        ``callbacks=[BackupAndRestore(dir)]`` a crashed run continues from its last checkpoint, inside an epoch
        too, and ends with the same weights as an uninterrupted one. A non-finite loss or gradient raises
        ``NonFiniteError`` (attributes ``epoch``, ``step``, ``parameter``) before the weights change, unless a
        ``TerminateOnNaN`` callback asks to stop quietly instead.
        """
        from rnnkit.callbacks import CallbackList, TerminateOnNaN
        from rnnkit.random import generator

        self._require_compiled("fit")
        verbose = _verbosity(verbose)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ConfigError(f"epochs must be a non-negative integer; got {epochs!r}")
        _check_validation_freq(validation_freq)
        feed = None
        rng = generator()
        if is_batch_data(x):
            check_feed_arguments(x, y, sample_weight, batch_size, "fit()")
            if validation_split:
                raise ConfigError(f"fit(): `validation_split` is only supported for arrays; x is a {describe(x)}. "
                                  "Pass validation_data instead")
            feed = BatchFeed(x, steps_per_epoch, shuffle, rng=rng, caller="fit()", steps_name="steps_per_epoch",
                             warn_shuffle=True)
            xs = is_list = ys = sw = None
            batch_size, n, steps = 0, feed.num_batches or 0, feed.steps
        else:
            auto_batch = batch_size is None and steps_per_epoch is not None  # Keras: ceil(samples / steps)
            x, y, batch_size, dataset = _from_dataset(x, y, batch_size, "fit()")
            if dataset is not None:
                shuffle = dataset.shuffle  # a dataset's own order, reshuffled every epoch only if it was shuffled
            batch_size = _batch_size(batch_size)
            xs, is_list, ys, sw, n = self._prepare_labelled(x, y, sample_weight, "fit()")
        val = None
        if validation_data is not None:
            val = self._validation_source(validation_data, validation_steps, validation_batch_size or
                                          (batch_size or None))
        elif validation_split and feed is None:
            if not 0.0 < float(validation_split) < 1.0:
                raise ConfigError(f"validation_split must be in [0, 1); got {validation_split!r}")
            split = math.floor(n * (1.0 - float(validation_split)))
            if split == 0 or split == n:
                raise ConfigError(
                    f"validation_split={validation_split} of {n} samples leaves an empty training or validation set"
                )
            val = ("arrays", [a[split:] for a in xs], is_list, [a[split:] for a in ys],
                   None if sw is None else sw[split:], _batch_size(validation_batch_size or batch_size),
                   validation_steps)
            xs, ys, sw = [a[:split] for a in xs], [a[:split] for a in ys], None if sw is None else sw[:split]
            n = split
        if feed is None:
            if n == 0:
                raise ShapeError("fit() got no samples (x has length 0)")
            steps = -(-n // batch_size)
            if steps_per_epoch is not None:  # Keras' rules: epochs of steps_per_epoch batches, passes carried on
                if auto_batch and not isinstance(steps_per_epoch, bool) and isinstance(steps_per_epoch, int) \
                        and steps_per_epoch > 0:
                    batch_size = -(-n // steps_per_epoch)
                feed = ArrayFeed(xs, is_list, ys, sw, batch_size, steps_per_epoch, shuffle, rng)
                steps = feed.steps
        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose > 0, model=self,
                                     verbose=verbose, epochs=int(epochs), steps=steps)
        tolerate_nan = any(isinstance(c, TerminateOnNaN) for c in callback_list)
        self._training_cache = None
        self.stop_training = False
        progress = FitProgress(epoch=int(initial_epoch), epochs=int(epochs), steps=steps or 0, samples=n,
                               batch_size=batch_size, shuffle=bool(shuffle if feed is None else feed.shuffle),
                               rng=rng)
        self._fit_progress = progress
        if feed is not None:
            if self._metric_objects is None:
                feed.peek()  # Keras reads one batch to build the compiled metrics on a fresh model
            feed.reset()
        epoch_logs = {}
        callback_list.on_train_begin()  # BackupAndRestore may move progress to a saved point here
        if feed is not None and (progress.step > 0 or progress.position > 0):
            feed.restore(progress.order, progress.position)
        history = next(c for c in callback_list if type(c).__name__ == "History")
        for done_epoch, logs in progress.epoch_logs:
            history.epoch.append(done_epoch)
            for key, value in logs.items():
                history.history.setdefault(key, []).append(value)
            epoch_logs = dict(logs)
        for epoch in range(progress.epoch, int(epochs)):
            if progress.epoch == epoch and progress.step > 0:  # resume inside this epoch
                order, first = progress.order, progress.step
                loss_sum, seen, saved_metrics = progress.loss_sum, progress.seen, progress.metric_states
            else:
                order = progress.rng.permutation(n) if shuffle and feed is None else None
                first, loss_sum, seen, saved_metrics = 0, 0.0, 0, None
            if feed is None:
                progress.begin_epoch(epoch, order, first)
                batches = _array_batches(xs, is_list, ys, sw, batch_size, order, first)
            else:
                progress.begin_epoch(epoch, progress.order, first)
                batches = self._feed_batches(feed.epoch(first), "fit()", need_y=True)
            metric_objects = None
            callback_list.on_epoch_begin(epoch)
            for step, xb, b_list, yb, swb in batches:
                callback_list.on_train_batch_begin(step)
                where = f"at epoch {epoch + 1}/{epochs}, batch {step + 1}/{progress.steps or '?'}"
                try:
                    value, outs = self._train_step(self._model_input(xb, b_list), yb, swb, where)
                except NonFiniteError as error:
                    error.epoch, error.step = epoch + 1, step + 1
                    if not tolerate_nan:
                        raise
                    print(f"Batch {step}: {error}; terminating training")
                    self.stop_training = True
                    break
                if metric_objects is None:
                    metric_objects = self._resolve_metrics(yb, outs)
                    for m in metric_objects:
                        m.reset_state()
                    set_metric_states(metric_objects, saved_metrics)
                if not math.isfinite(value) and not tolerate_nan:
                    bad = first_nonfinite([w.data for w in self.trainable_weights], self.trainable_weights)
                    reason = f"the loss became {value}" + ("" if bad is None else
                                                              f" (weight {bad[0]!r} already holds {bad[1]} values)")
                    raise nonfinite_error(
                        f"{reason} {where}; lower the learning rate, clip the gradients (clipnorm=...), check the "
                        "data for NaN or infinite values, or pass callbacks=[TerminateOnNaN()] to stop instead of "
                        "raising", epoch=epoch + 1, step=step + 1, parameter=None if bad is None else bad[0],
                        reason=reason)
                rows = len(yb[0])
                loss_sum += value * rows
                seen += rows
                self._update_metrics(metric_objects, yb, outs)
                progress.end_step(step, loss_sum, seen, metric_objects)
                if feed is not None:
                    progress.order, progress.position = feed.order, feed.position
                logs = {"loss": loss_sum / seen}
                for m in metric_objects:
                    logs[m.name] = m.result()
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if feed is not None and seen == 0 and not progress.epoch_logs and not self.stop_training:
                raise ShapeError(f"fit(): the {feed.kind} gave no batches; it must yield at least one batch")
            epoch_logs = {"loss": loss_sum / seen if seen else float("nan")}
            for m in metric_objects or []:
                epoch_logs[m.name] = m.result()
            if val is not None and math.isfinite(epoch_logs["loss"]) and _should_validate(epoch, validation_freq):
                val_logs = self._test_batches(self._validation_batches(val), callback_list)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            progress.end_epoch(epoch, epoch_logs)
            if feed is not None:
                progress.order, progress.position = feed.order, feed.position
                if feed.exhausted:  # a generator cannot be read again: Keras' "interrupting training"
                    self.stop_training = True
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callback_list.on_train_end(epoch_logs)
        self.history = history
        return history

    # --------------------------------------------------------------------------------------- batches
    def _feed_batches(self, epoch_batches, caller: str, need_y: bool):
        """``(step, xs, is_list, ys, sample_weight)`` for each batch of a ``BatchFeed`` epoch, prepared as arrays
        are (cast to the model's dtypes, lengths checked)."""
        for step, (bx, by, bsw) in epoch_batches:
            where = f"{caller} batch {step}"
            if by is None and need_y:
                raise ConfigError(f"{where} holds no targets: a batch must be (x, y) or (x, y, sample_weight) for "
                                  f"{caller.rstrip('()')}; got (x,)")
            if not need_y:
                xb, b_list = self._prepare_x(bx)
                self._check_lengths(xb, [], None, where)
                yield step, xb, b_list, [], None
                continue
            xb, b_list, yb, swb, _ = self._prepare_labelled(bx, by, bsw, where)
            yield step, xb, b_list, yb, swb

    def _validation_source(self, validation_data, validation_steps, batch_size):
        if is_batch_data(validation_data):
            return ("feed", BatchFeed(validation_data, validation_steps, caller="fit(validation_data)",
                                      steps_name="validation_steps", cache=True))
        vx_, vy_, v_batch, v_dataset = _from_dataset(validation_data, None, None, "fit(validation_data)")
        if v_dataset is not None:
            validation_data, batch_size = (vx_, vy_), v_batch if batch_size is None else batch_size
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise ConfigError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), a "
                              "generator, an iterable of batches or a PyDataset; got "
                              f"{type(validation_data).__name__}")
        vx, v_list = self._prepare_x(validation_data[0])
        vy = self._prepare_y(validation_data[1])
        vsw = None if len(validation_data) < 3 or validation_data[2] is None else np.asarray(validation_data[2])
        self._check_lengths(vx, vy, vsw, "fit(validation_data)")
        return ("arrays", vx, v_list, vy, vsw, _batch_size(batch_size), validation_steps)

    def _validation_batches(self, val):
        if val[0] == "feed":
            feed = val[1]
            feed.reset()  # Keras' evaluate() resets its (cached) iterator before every validation
            return self._feed_batches(feed.epoch(), "fit(validation_data)", need_y=True)
        _, vx, v_list, vy, vsw, v_batch, v_steps = val
        return _array_batches(vx, v_list, vy, vsw, v_batch, steps=v_steps)

    # ----------------------------------------------------------------------------------------- evaluate
    def _test_loop(self, xs, is_list, ys, sw, batch_size, callback_list) -> dict:
        return self._test_batches(_array_batches(xs, is_list, ys, sw, batch_size), callback_list)

    def _test_batches(self, batches, callback_list) -> dict:
        callback_list.on_test_begin()
        loss_sum, seen = 0.0, 0
        metric_objects = None
        logs = {}
        with no_grad():
            for step, xb, b_list, yb, swb in batches:
                callback_list.on_test_batch_begin(step)
                value, outs = self._test_step(self._model_input(xb, b_list), yb, swb)
                if metric_objects is None:
                    metric_objects = self._resolve_metrics(yb, outs)
                    for m in metric_objects:
                        m.reset_state()
                loss_sum += value * len(yb[0])
                seen += len(yb[0])
                self._update_metrics(metric_objects, yb, outs)
                logs = {"loss": loss_sum / seen}
                for m in metric_objects:
                    logs[m.name] = m.result()
                callback_list.on_test_batch_end(step, logs)
        callback_list.on_test_end(logs)
        return logs

    def _test_step(self, x, ys: list, sw=None) -> tuple:
        """``(loss value, outputs)`` of one batch without gradients."""
        strategy = distribution_state.current()
        if strategy is not None:  # distribution hook: this rank's slice, the loss summed over ranks
            from rnnkit.distribution.steps import test_step

            return test_step(strategy, self, x, ys, sw)
        outs = self._outputs_list(self(x, training=False))
        return float(self._compute_loss(ys, outs, sw).data), outs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (and metrics) over ``(x, y)``: ``[loss, *metrics]``, or the loss alone without metrics
        (a dict with ``return_dict=True``). ``x`` may be batches (a generator, iterable or PyDataset, see
        ``fit``); ``steps`` limits the number of batches."""
        from rnnkit.callbacks import CallbackList

        self._require_compiled("evaluate")
        verbose = _verbosity(verbose)
        if is_batch_data(x):
            check_feed_arguments(x, y, sample_weight, batch_size, "evaluate()")
            feed = BatchFeed(x, steps, caller="evaluate()")
            if self._metric_objects is None:
                feed.peek()
            feed.reset()
            batches, total = self._feed_batches(feed.epoch(), "evaluate()", need_y=True), feed.steps
        else:
            x, y, batch_size, _ = _from_dataset(x, y, batch_size, "evaluate()")
            batch_size = _batch_size(batch_size)
            xs, is_list, ys, sw, n = self._prepare_labelled(x, y, sample_weight, "evaluate()")
            if n == 0:
                raise ShapeError("evaluate() got no samples (x has length 0)")
            total = _array_steps(n, batch_size, steps)
            batches = _array_batches(xs, is_list, ys, sw, batch_size, steps=total)
        callback_list = CallbackList(callbacks, add_progbar=verbose > 0, model=self, verbose=verbose, steps=total)
        logs = self._test_batches(batches, callback_list)
        if not logs:
            raise ShapeError("evaluate() got no batches: the data yielded none")
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------------------------------ predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for ``x``, batch by batch without recording gradients: an array (a list of
        arrays for several outputs). ``x`` may be batches (a generator, iterable or PyDataset, see ``fit``;
        targets in them are ignored): the outputs of all batches are concatenated. ``steps`` limits the number
        of batches."""
        from rnnkit.callbacks import CallbackList

        verbose = _verbosity(verbose)
        if is_batch_data(x):
            check_feed_arguments(x, None, None, batch_size, "predict()")
            feed = BatchFeed(x, steps, caller="predict()")
            batches, total = self._feed_batches(feed.epoch(), "predict()", need_y=False), feed.steps
        else:
            x, _, batch_size, _ = _from_dataset(x, None, batch_size, "predict()")
            batch_size = _batch_size(batch_size)
            xs, is_list = self._prepare_x(x)
            n = self._check_lengths(xs, [], None, "predict()")
            total = _array_steps(n, batch_size, steps)
            batches = _array_batches(xs, is_list, [], None, batch_size, steps=total)
        callback_list = CallbackList(callbacks, add_progbar=verbose > 0, model=self, verbose=verbose, steps=total)
        callback_list.on_predict_begin()
        chunks = []
        out = None
        with no_grad():
            for step, xb, b_list, _, _ in batches:
                callback_list.on_predict_batch_begin(step)
                out = self._predict_step(self._model_input(xb, b_list))
                chunks.append([o.data for o in self._outputs_list(out)])
                callback_list.on_predict_batch_end(step, {"outputs": chunks[-1]})
        callback_list.on_predict_end()
        if not chunks:
            raise ShapeError("predict() got no samples (x has length 0)")
        results = [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]
        return results[0] if len(results) == 1 and not isinstance(out, (list, tuple)) else results

    def _predict_step(self, x):
        """The model's output(s) for one batch (under ``no_grad``)."""
        strategy = distribution_state.current()
        if strategy is not None:  # distribution hook: each rank computes its slice, all gathered
            from rnnkit.distribution.steps import predict_step

            return predict_step(strategy, self, x)
        return self(x, training=False)

    # ----------------------------------------------------------------------------------------- on batch
    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One training step on one batch; returns its loss (``[loss, *metrics]`` with metrics)."""
        self._require_compiled("train_on_batch")
        xs, is_list, ys, sw, _ = self._prepare_labelled(x, y, sample_weight, "train_on_batch()")
        value, outs = self._train_step(self._model_input(xs, is_list), ys, sw)
        if not math.isfinite(value):
            raise NonFiniteError(f"train_on_batch(): the loss became {value}; the weights were not updated")
        return self._batch_result(value, ys, outs, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch, without updating the weights."""
        self._require_compiled("test_on_batch")
        xs, is_list, ys, sw, _ = self._prepare_labelled(x, y, sample_weight, "test_on_batch()")
        with no_grad():
            outs = self._outputs_list(self(self._model_input(xs, is_list), training=False))
            value = float(self._compute_loss(ys, outs, sw).data)
        return self._batch_result(value, ys, outs, return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch (arrays), without recording gradients."""
        xs, is_list = self._prepare_x(x)
        with no_grad():
            out = self(self._model_input(xs, is_list), training=False)
        if isinstance(out, (list, tuple)):
            return [o.data for o in out]
        return out.data

    def _batch_result(self, value, ys, outs, return_dict):
        metric_objects = self._resolve_metrics(ys, outs)
        if not metric_objects and not return_dict:
            return value
        for m in metric_objects:
            m.reset_state()
        self._update_metrics(metric_objects, ys, outs)
        logs = {"loss": value, **{m.name: m.result() for m in metric_objects}}
        return logs if return_dict else list(logs.values())
