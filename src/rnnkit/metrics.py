"""Stateful metrics with Keras names: accumulate over batches, read with ``result()``, clear with ``reset_state()``.

Each metric turns a batch into one value per sample (per time step for sequences) and keeps a weighted
running mean of them:

    total += sum(w * value),   count += sum(w),   result = total / count        (0 before any update)

    Accuracy                    value = [y_pred == y_true]                  (elementwise)
    CategoricalAccuracy         value = [argmax(y_pred) == argmax(y_true)]
    SparseCategoricalAccuracy   value = [argmax(y_pred) == y_true]
    BinaryAccuracy              value = mean over the last axis of [(y_pred > threshold) == y_true]
    MeanSquaredError            value = mean over the last axis of (y_pred - y_true)^2
    MeanAbsoluteError           value = mean over the last axis of |y_pred - y_true|
    Mean                        value = the value given (``update_state(value, sample_weight)``)

``get("accuracy", loss=..., y_true_shape=..., y_pred_shape=...)`` picks the accuracy that fits the loss and
the data, as Keras' ``compile(metrics=["accuracy"])`` does, while the metric keeps the name ``"accuracy"``.

>>> import numpy as np
>>> from rnnkit import metrics
>>> acc = metrics.get("accuracy", loss="sparse_categorical_crossentropy")
>>> type(acc).__name__, acc.name
('SparseCategoricalAccuracy', 'accuracy')
>>> acc.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
>>> acc.update_state(np.array([1]), np.array([[0.3, 0.7]]))
>>> round(acc.result(), 4)
0.6667
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError


def _array(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _match_rank(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Add or drop a trailing axis of size 1 on ``y_true`` so its rank equals ``y_pred``'s (as Keras)."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true[..., None]  # (B,) -> (B, 1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0]  # (B, 1) -> (B,)
    return y_true


class Metric:
    """Base of stateful metrics: a weighted running mean of per-sample values from ``values(y_true, y_pred)``.

    Args:
        name: the key under which the metric appears in training logs.

    ``direction`` is ``"up"`` when larger is better (accuracies), ``"down"`` otherwise; ``EarlyStopping`` and
    ``ModelCheckpoint`` with ``mode="auto"`` use it.
    """

    default_name = "metric"
    direction = "down"

    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset_state()

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch. ``sample_weight`` (optional) has the values' leading shape, e.g. ``(B,)`` or ``(B, T)``."""
        self._accumulate(self.values(_array(y_true), _array(y_pred)), sample_weight)

    def _accumulate(self, values, sample_weight) -> None:
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self._total += float(values.sum())
            self._count += values.size
            return
        weights = np.asarray(_array(sample_weight), dtype=np.float64)
        if weights.ndim > values.ndim or weights.shape != values.shape[: weights.ndim]:
            raise ShapeError(f"sample_weight of shape {weights.shape} does not fit values of shape {values.shape}")
        weights = np.broadcast_to(weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim)), values.shape)
        self._total += float((values * weights).sum())  # (B,) weights -> (B, 1, ...) broadcast
        self._count += float(weights.sum())

    def result(self) -> float:
        """The weighted mean so far, a Python float (0.0 before any update)."""
        return self._total / self._count if self._count else 0.0

    def reset_state(self) -> None:
        """Forget every batch seen."""
        self._total, self._count = 0.0, 0.0

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Running (weighted) mean of the values given, e.g. the loss of every batch weighted by its size.

    >>> m = Mean(name="loss")
    >>> m.update_state(1.0, sample_weight=3)
    >>> m.update_state(2.0, sample_weight=1)
    >>> m.result()
    1.25
    """

    default_name = "mean"

    def update_state(self, values, sample_weight=None) -> None:
        self._accumulate(_array(values), sample_weight)


class Accuracy(Metric):
    """How often ``y_pred`` equals ``y_true`` exactly (Keras ``Accuracy``).

    >>> m = Accuracy()
    >>> m.update_state(np.array([1, 2, 3, 4]), np.array([0, 2, 3, 4]))
    >>> m.result()
    0.75
    """

    default_name = "accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        y_true = _match_rank(y_true, y_pred)
        return y_true == y_pred


class CategoricalAccuracy(Metric):
    """How often the arg-max of ``y_pred`` is the arg-max of the one-hot ``y_true`` (Keras ``CategoricalAccuracy``).

    >>> m = CategoricalAccuracy()
    >>> m.update_state(np.array([[0, 1], [1, 0]]), np.array([[0.3, 0.7], [0.4, 0.6]]))
    >>> m.result()
    0.5
    """

    default_name = "categorical_accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        if y_true.shape != y_pred.shape:
            raise ShapeError(f"y_true has shape {y_true.shape}; expected one-hot of y_pred's shape {y_pred.shape}")
        return np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)


class SparseCategoricalAccuracy(Metric):
    """How often the arg-max of ``y_pred`` equals the integer label ``y_true`` (Keras ``SparseCategoricalAccuracy``).

    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(np.array([[1], [1]]), np.array([[0.3, 0.7], [0.6, 0.4]]))
    >>> m.result()
    0.5
    """

    default_name = "sparse_categorical_accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]  # (B, 1) -> (B,)
        if y_true.shape != y_pred.shape[:-1]:
            raise ShapeError(
                f"sparse labels have shape {y_true.shape}; expected y_pred's shape without its class axis, "
                f"{y_pred.shape[:-1]}"
            )
        return y_true == np.argmax(y_pred, axis=-1)


class BinaryAccuracy(Metric):
    """How often ``y_pred > threshold`` matches the 0/1 label ``y_true`` (Keras ``BinaryAccuracy``).

    Args:
        threshold: decision threshold on ``y_pred``. Default 0.5.

    >>> m = BinaryAccuracy()
    >>> m.update_state(np.array([[1], [1], [0], [0]]), np.array([[0.98], [0.4], [0.1], [0.6]]))
    >>> m.result()
    0.5
    """

    default_name = "binary_accuracy"
    direction = "up"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = float(threshold)

    def values(self, y_true, y_pred):
        y_true = _match_rank(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            raise ShapeError(f"y_true has shape {y_true.shape}; expected y_pred's shape {y_pred.shape}")
        return np.mean((y_pred > self.threshold) == y_true, axis=-1)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class MeanSquaredError(Metric):
    """Mean of ``(y_pred - y_true)^2`` (Keras metric ``MeanSquaredError``).

    >>> m = MeanSquaredError()
    >>> m.update_state(np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]]))
    >>> m.result()
    2.5
    """

    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        y_true = _match_rank(y_true, y_pred)
        return np.mean(np.square(y_pred - y_true, dtype=np.float64), axis=-1)


class MeanAbsoluteError(Metric):
    """Mean of ``|y_pred - y_true|`` (Keras metric ``MeanAbsoluteError``).

    >>> m = MeanAbsoluteError()
    >>> m.update_state(np.array([[0.0, 1.0]]), np.array([[1.0, -3.0]]))
    >>> m.result()
    2.5
    """

    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        y_true = _match_rank(y_true, y_pred)
        return np.mean(np.abs(np.subtract(y_pred, y_true, dtype=np.float64)), axis=-1)


_BY_NAME = {
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_CLASSES = {cls.__name__: cls for cls in (Mean, Accuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                          BinaryAccuracy, MeanSquaredError, MeanAbsoluteError)}
_SPARSE_LOSSES = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
_BINARY_LOSSES = {"binary_crossentropy", "BinaryCrossentropy"}
_CATEGORICAL_LOSSES = {"categorical_crossentropy", "CategoricalCrossentropy"}


def _loss_kind(loss) -> str | None:
    """``"sparse"``, ``"binary"``, ``"categorical"`` or None for a loss name, object or function."""
    names = set()
    if isinstance(loss, str):
        names.add(loss)
    elif loss is not None:
        names.update({type(loss).__name__, getattr(loss, "__name__", ""), getattr(loss, "default_name", "")})
        fn = getattr(loss, "fn", None)  # losses.LossFunctionWrapper
        if fn is not None:
            names.add(getattr(fn, "__name__", ""))
    for kind, known in (("sparse", _SPARSE_LOSSES), ("binary", _BINARY_LOSSES), ("categorical", _CATEGORICAL_LOSSES)):
        if names & known:
            return kind
    return None


def _accuracy_for(loss, y_true_shape, y_pred_shape) -> type:
    """Keras' choice of accuracy for ``metrics=["accuracy"]``."""
    kind = _loss_kind(loss)
    if kind == "sparse":
        return SparseCategoricalAccuracy
    if kind == "binary":
        return BinaryAccuracy
    if kind == "categorical":
        return CategoricalAccuracy
    true = tuple(y_true_shape) if y_true_shape is not None else None
    pred = tuple(y_pred_shape) if y_pred_shape is not None else None
    if pred is not None and pred[-1:] == (1,):
        return BinaryAccuracy
    if true is not None and pred is not None and (len(true) < len(pred) or (true[-1:] == (1,) and pred[-1] > 1)):
        return SparseCategoricalAccuracy
    if true is not None and pred is None:
        if true[-1:] == (1,):
            return BinaryAccuracy
        if len(true) == 1:  # (B,) labels: no class axis
            return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, loss=None, y_true_shape=None, y_pred_shape=None) -> Metric:
    """Resolve a metric: an instance, a class name, or a Keras name (``"accuracy"``/``"acc"``, ``"mae"``,
    ``"mse"``, ``"categorical_accuracy"``, ...). A name becomes the metric's ``name`` (its key in the logs).

    ``"accuracy"`` becomes sparse categorical accuracy for a sparse categorical loss (or labels without a class
    axis), binary accuracy for binary cross-entropy (or a last axis of size 1), else categorical accuracy.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy_for(loss, y_true_shape, y_pred_shape)(name=key)
        if key in _BY_NAME:
            return _BY_NAME[key](name=key)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ConfigError(f"unknown metric {identifier!r}; expected one of {sorted(_BY_NAME) + ['accuracy', 'acc']}")
    raise ConfigError(f"cannot interpret {identifier!r} as a metric; expected a name or a Metric instance")
