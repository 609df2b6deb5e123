"""Callback and CallbackList: the event hooks ``fit`` / ``evaluate`` / ``predict`` call, as in Keras.

Events, in the order ``fit`` sends them::

    on_train_begin
      on_epoch_begin(epoch)                       epoch counts from 0
        on_train_batch_begin(batch) / on_train_batch_end(batch, logs)     logs: running loss and metrics
        on_test_begin / on_test_batch_* / on_test_end                     validation, if any
      on_epoch_end(epoch, logs)                   logs: loss, metrics, val_loss, val_metrics
    on_train_end

``evaluate`` sends ``on_test_*`` and ``predict`` ``on_predict_*``. A callback sees the model as ``self.model``
(set by ``set_model``) and ``fit``'s settings as ``self.params`` (``{"epochs", "steps", "verbose"}``); it can
stop training by setting ``self.model.stop_training = True``.

>>> class Count(Callback):
...     def on_train_batch_end(self, batch, logs=None):
...         self.seen = batch + 1
>>> callbacks = CallbackList([Count()], model=None, epochs=1)
>>> callbacks.on_train_batch_end(4, {"loss": 0.3})
>>> callbacks[0].seen, callbacks[0].params
(5, {'epochs': 1})
"""
from __future__ import annotations


class Callback:
    """Base class of callbacks: every hook does nothing; override the ones you need."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts."""

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends (also after an early stop)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch ``epoch`` with the epoch's training and validation logs."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (0-based within the epoch); calls ``on_batch_begin``."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training batch ``batch`` with the running means of loss and metrics; calls
        ``on_batch_end``."""
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None):
        """Called when ``evaluate`` (or validation inside ``fit``) starts."""

    def on_test_end(self, logs=None):
        """Called when ``evaluate`` (or validation inside ``fit``) ends, with its logs."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before evaluation batch ``batch``."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after evaluation batch ``batch``."""

    def on_predict_begin(self, logs=None):
        """Called when ``predict`` starts."""

    def on_predict_end(self, logs=None):
        """Called when ``predict`` ends."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before prediction batch ``batch``."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after prediction batch ``batch``."""

    # Keras' older names for the training-batch hooks
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` (Keras 2 name)."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` (Keras 2 name)."""


_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class CallbackList:
    """A list of callbacks that forwards every event to each of them, in order.

    Args:
        callbacks: callbacks to hold (a list, or None).
        add_history: append a ``History`` callback if none is present (``fit`` does).
        add_progbar: append a ``ProgressBar(verbose=params["verbose"])`` if none is present and verbose > 0.
        model: the model every callback sees.
        **params: ``fit``'s settings (``epochs``, ``steps``, ``verbose``) every callback sees as ``params``.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        self.callbacks = list(callbacks or [])
        if add_history:
            from rnnkit.callbacks.history import History

            if not any(isinstance(c, History) for c in self.callbacks):
                self.callbacks.append(History())
        from rnnkit.distribution.state import is_chief

        if add_progbar and params.get("verbose", 1) and is_chief():  # under a distribution rank 0 reports
            from rnnkit.callbacks.progress import ProgressBar

            if not any(isinstance(c, ProgressBar) for c in self.callbacks):
                self.callbacks.append(ProgressBar(verbose=params.get("verbose", 1)))
        self.model = None
        self.params = {}
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        callback.set_model(self.model)
        callback.set_params(self.params)
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        self.model = model
        for c in self.callbacks:
            c.set_model(model)

    def set_params(self, params: dict) -> None:
        self.params = dict(params)
        for c in self.callbacks:
            c.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def __getitem__(self, index):
        return self.callbacks[index]



def _forwarder(name: str):
    def forward(self, *args, **kwargs):
        for c in self.callbacks:
            getattr(c, name)(*args, **kwargs)

    forward.__name__ = name
    forward.__doc__ = f"Call ``{name}`` on every callback."
    return forward


for _name in _HOOKS:
    setattr(CallbackList, _name, _forwarder(_name))


def resolve_mode(monitor: str, mode: str, model=None) -> str:
    """``"min"`` or ``"max"``: whether a smaller or larger ``monitor`` value is better.

    ``mode="auto"`` decides from the name: losses and errors are minimised; accuracies (names with ``acc``)
    and metrics of the model whose ``direction`` is ``"up"`` are maximised.
    """
    from rnnkit.errors import ConfigError

    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ConfigError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "min"
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == name and getattr(metric, "direction", None) in ("up", "down"):
            return "max" if metric.direction == "up" else "min"
    if "acc" in name or "auc" in name:
        return "max"
    if name in ("mse", "mae", "mean_squared_error", "mean_absolute_error") or "error" in name:
        return "min"
    raise ConfigError(
        f"cannot tell whether monitor={monitor!r} should be minimised or maximised; pass mode='min' or mode='max'"
    )
