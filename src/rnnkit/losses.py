"""Loss functions and loss objects with Keras names.

Functions return one value per sample (per time step for sequences), reducing only the class/feature axis:

    categorical_crossentropy(t, p)         = -sum_c t_c log p_c
    sparse_categorical_crossentropy(i, p)  = -log p_i
    binary_crossentropy(t, p)              = -mean_c [t_c log p_c + (1 - t_c) log(1 - p_c)]
    mean_squared_error(t, p)               = mean_c (p_c - t_c)^2
    mean_absolute_error(t, p)              = mean_c |p_c - t_c|
    ctc(labels, logits)                    = CTC negative log-likelihood (``rnnkit.ops.ctc_loss``)

With ``from_logits=False`` the predictions are probabilities. If they come straight from ``softmax`` /
``sigmoid`` (the output carries ``_softmax_logits`` / ``_sigmoid_logits``), the fused cross-entropy on the
logits is used: exact and stable even for saturated outputs, as Keras does. Otherwise, as Keras, categorical
probabilities are first normalised to sum to 1 over the class axis, and every probability is clipped to
``[eps, 1 - eps]`` (``eps = 1e-7``) before the logarithm.

Loss objects (``CategoricalCrossentropy()`` ...) are called as ``loss(y_true, y_pred, sample_weight=None)``
and return a scalar Tensor: Keras' ``"sum_over_batch_size"`` reduction, the sum of the (weighted) per-sample
values divided by their number. A ``_keras_mask`` on ``y_pred`` (variable-length sequences) weights each valid
step by ``total / valid`` and each masked step by 0, so the result is the mean over the valid steps.

>>> import numpy as np
>>> from rnnkit import Tensor, losses
>>> y_pred = Tensor([[0.9, 0.1], [0.2, 0.8]], requires_grad=True)
>>> loss = losses.get("categorical_crossentropy")
>>> value = loss(np.array([[1.0, 0.0], [0.0, 1.0]]), y_pred)
>>> round(value.item(), 5), round(float(-(np.log(0.9) + np.log(0.8)) / 2), 5)
(0.16425, 0.16425)
>>> value.backward()
>>> np.round(y_pred.grad, 4)  # d/dp of the normalised, clipped form
array([[-0.0556,  0.5   ],
       [ 0.5   , -0.125 ]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor
from rnnkit.errors import ConfigError, DataError, ShapeError
from rnnkit.ops import losses as fused
from rnnkit.ops.elementwise import clip, log, mul
from rnnkit.ops.reductions import mean, sum_

EPSILON = 1e-7  # Keras' backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


# ------------------------------------------------------------------------------------------ helpers
def _prediction(y_pred) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(y_pred)


def _target(y_true, y_pred: Tensor, dtype=None) -> np.ndarray:
    """``y_true`` as an array of ``y_pred``'s float dtype (or ``dtype``), its rank matched to ``y_pred`` as
    Keras does: a missing or extra trailing axis of size 1 is added or dropped."""
    target = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    target = target.astype(dtype or y_pred.dtype, copy=False)
    if target.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        target = target[..., None]  # (B,) -> (B, 1)
    elif target.ndim == y_pred.ndim + 1 and target.shape[-1] == 1:
        target = target[..., 0]  # (B, 1) -> (B,)
    if target.shape != y_pred.shape:
        raise ShapeError(f"y_true has shape {target.shape}; expected y_pred's shape {y_pred.shape}")
    return target


def _class_ids(y_true, y_pred: Tensor) -> np.ndarray:
    """Integer class ids of shape ``y_pred.shape[:-1]`` (a trailing axis of size 1 is dropped)."""
    ids = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if ids.ndim == y_pred.ndim and ids.shape[-1] == 1:
        ids = ids[..., 0]  # (B, 1) -> (B,)
    if ids.shape != y_pred.shape[:-1]:
        raise ShapeError(
            f"sparse labels have shape {ids.shape}; expected y_pred's shape without its class axis, "
            f"{y_pred.shape[:-1]} (y_pred has shape {y_pred.shape})"
        )
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
            raise DataError("sparse labels must be whole numbers (class ids); got non-integer values")
    elif ids.dtype.kind not in "iub":
        raise DataError(f"sparse labels must be integer class ids; got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    classes = y_pred.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= classes):
        raise DataError(f"class ids must lie in [0, {classes - 1}] for {classes} classes; got range "
                        f"[{ids.min()}, {ids.max()}]")
    return ids


def _clipped_log(p: Tensor) -> Tensor:
    return log(clip(p, EPSILON, 1.0 - EPSILON))


def _probability_cross_entropy(target: np.ndarray, probs: Tensor) -> Tensor:
    """Keras' categorical cross-entropy on probabilities: normalise, clip, ``-sum t log p`` over the last axis."""
    normalised = probs / sum_(probs, axis=-1, keepdims=True)
    return -sum_(mul(Tensor(target, dtype=probs.dtype), _clipped_log(normalised)), axis=-1)


# ---------------------------------------------------------------------------------------- functions
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Tensor:
    """Per-sample cross-entropy with one-hot (or probability) targets, shape ``y_pred.shape[:-1]``.

    ``label_smoothing = s`` replaces the targets by ``t (1 - s) + s / C`` for ``C`` classes.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> categorical_crossentropy(np.eye(2), Tensor([[0.0, 0.0], [0.0, np.log(3.0)]]), from_logits=True).numpy()
    array([0.6931472 , 0.28768212], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    target = _target(y_true, y_pred)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    logits = y_pred if from_logits else getattr(y_pred, "_softmax_logits", None)
    if logits is not None:
        return fused.softmax_cross_entropy(logits, target)
    return _probability_cross_entropy(target, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False) -> Tensor:
    """Per-sample cross-entropy with integer class ids ``y_true`` (shape ``y_pred.shape[:-1]``, or with a
    trailing axis of size 1).

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> sparse_categorical_crossentropy(np.array([1, 0]), Tensor([[0.25, 0.75], [0.5, 0.5]])).numpy()
    array([0.2876821, 0.6931472], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    ids = _class_ids(y_true, y_pred)
    logits = y_pred if from_logits else getattr(y_pred, "_softmax_logits", None)
    if logits is not None:
        return fused.softmax_cross_entropy(logits, ids)
    one_hot = np.zeros(y_pred.shape, dtype=y_pred.dtype)
    np.put_along_axis(one_hot, ids[..., None], 1.0, axis=-1)  # (..., 1) ids -> (..., C) one-hot
    return _probability_cross_entropy(one_hot, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Tensor:
    """Per-sample binary cross-entropy, averaged over the last axis, shape ``y_pred.shape[:-1]``.

    ``label_smoothing = s`` replaces the targets by ``t (1 - s) + s / 2``.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> binary_crossentropy(np.array([[1.0], [0.0]]), Tensor([[0.75], [0.5]])).numpy()
    array([0.2876821, 0.6931472], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    target = _target(y_true, y_pred)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else getattr(y_pred, "_sigmoid_logits", None)
    if logits is not None:
        return mean(fused.binary_cross_entropy(logits, target, from_logits=True), axis=-1)
    return mean(fused.binary_cross_entropy(y_pred, target), axis=-1)


def mean_squared_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean((y_pred - y_true)^2)`` over the last axis.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> mean_squared_error(np.array([[0.0, 1.0]]), Tensor([[1.0, 3.0]])).numpy()
    array([2.5], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    return fused.mean_squared_error(y_pred, _target(y_true, y_pred))


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """Per-sample ``mean(|y_pred - y_true|)`` over the last axis.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> mean_absolute_error(np.array([[0.0, 1.0]]), Tensor([[1.0, -3.0]])).numpy()
    array([2.5], dtype=float32)
    """
    y_pred = _prediction(y_pred)
    return fused.mean_absolute_error(y_pred, _target(y_true, y_pred))


def ctc(y_true, y_pred) -> Tensor:
    """Per-sample CTC loss as Keras' ``keras.losses.ctc``: ``y_true (B, S)`` integer labels padded with 0 (the
    blank), ``y_pred (B, T, C)`` logits; each target's length is its number of non-zero labels and every
    output uses all ``T`` steps.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> value = ctc(np.array([[1, 0]]), Tensor(np.zeros((1, 2, 2))))  # "1" in 2 steps over {blank, 1}
    >>> round(float(np.exp(-value.numpy()[0])), 4)  # alignments "1 1", "0 1", "1 0": 3 of 4
    0.75
    """
    from rnnkit.ops.ctc import ctc_loss

    y_pred = _prediction(y_pred)
    labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if labels.ndim != 2:
        raise ShapeError("Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
                         f"integer format. Received: y_true.shape={labels.shape}")
    if y_pred.ndim != 3:
        raise ShapeError("Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={y_pred.shape}")
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    label_length = (labels != 0).sum(axis=-1)  # (B,), as Keras: padding and blank are both 0
    return ctc_loss(labels, y_pred, label_length, np.full(batch, steps), mask_index=0)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ------------------------------------------------------------------------------------------ reduction
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none", None)


def reduce_weighted(values: Tensor, sample_weight=None, mask=None, reduction="sum_over_batch_size") -> Tensor:
    """Keras' ``reduce_weighted_values``: weight per-sample ``values``, then sum (``"sum"``), or sum and divide
    by the number of values (``"sum_over_batch_size"`` / ``"mean"``), or leave them (``"none"``).

    ``sample_weight`` of shape ``(B,)`` weights whole samples (also of sequence losses ``(B, T)``); a boolean
    ``mask`` of ``values``' shape becomes weights ``total / valid`` on valid entries and 0 elsewhere.
    """
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduction!r}; expected one of {list(_REDUCTIONS)}")
    weights = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != values.shape:
            raise ShapeError(f"mask of shape {mask.shape} does not match the per-sample loss shape {values.shape}")
        valid = int(mask.sum())
        scale = mask.size / valid if (valid and reduction in ("sum_over_batch_size", "mean")) else 1.0
        weights = mask.astype(values.dtype) * scale
    if sample_weight is not None:
        sw = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight,
                        dtype=values.dtype)
        if sw.ndim == values.ndim + 1 and sw.shape[-1] == 1:
            sw = sw[..., 0]  # (B, 1) -> (B,)
        if sw.ndim and sw.shape != values.shape[: sw.ndim]:
            raise ShapeError(
                f"sample_weight of shape {sw.shape} does not match the per-sample loss shape {values.shape}"
            )
        sw = sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim))  # (B,) -> (B, 1, ...) to broadcast
        weights = sw if weights is None else weights * sw
    if weights is not None:
        values = mul(values, Tensor(np.broadcast_to(weights, values.shape), dtype=values.dtype))
    if reduction in ("none", None) or values.ndim == 0:
        return values
    if reduction == "sum" or values.size == 0:
        return sum_(values)
    return mean(values)  # sum / size in one op


# ------------------------------------------------------------------------------------------ objects
class Loss:
    """Base of loss objects: ``loss(y_true, y_pred, sample_weight=None)`` -> scalar Tensor.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values.

    Args:
        name: the loss's name (default: the Keras snake-case name).
        reduction: ``"sum_over_batch_size"`` (default), ``"mean"`` (the same), ``"sum"`` or ``"none"``.
    """

    default_name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ConfigError(f"unknown reduction {reduction!r}; expected one of {list(_REDUCTIONS)}")
        self.name = name or self.default_name
        self.reduction = reduction

    def call(self, y_true, y_pred) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        y_pred = _prediction(y_pred)
        values = self.call(y_true, y_pred)
        mask = getattr(y_pred, "_keras_mask", None)
        if mask is not None and np.shape(mask) != values.shape:
            mask = None  # a (batch, time) mask applies only to a per-time-step loss
        return reduce_weighted(values, sample_weight, mask, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_config().items()
                 if not (k == "name" and v == self.default_name) and not (k == "reduction" and v ==
                                                                          "sum_over_batch_size")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items() if v)})"


class _SmoothedCrossentropy(Loss):
    """A cross-entropy with ``from_logits`` and ``label_smoothing``, computed by the subclass's ``function``."""

    function = None

    def __init__(self, from_logits=False, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= label_smoothing <= 1:
            raise ConfigError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy with one-hot targets (Keras ``CategoricalCrossentropy``).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities. Default False.
        label_smoothing: ``s`` in ``[0, 1]``: targets become ``t (1 - s) + s / C``. Default 0.0.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> loss = CategoricalCrossentropy(from_logits=True)
    >>> round(loss(np.eye(2), Tensor([[0.0, 0.0], [0.0, 0.0]])).item(), 6)
    0.693147
    """

    default_name = "categorical_crossentropy"

    function = staticmethod(categorical_crossentropy)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class ids as targets (Keras ``SparseCategoricalCrossentropy``).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities. Default False.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> loss = SparseCategoricalCrossentropy()
    >>> round(loss(np.array([0, 1]), Tensor([[0.5, 0.5], [0.5, 0.5]])).item(), 6)
    0.693147
    """

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy, averaged over the last axis (Keras ``BinaryCrossentropy``).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities. Default False.
        label_smoothing: ``s`` in ``[0, 1]``: targets become ``t (1 - s) + s / 2``. Default 0.0.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> round(BinaryCrossentropy(from_logits=True)(np.array([[1.0]]), Tensor([[0.0]])).item(), 6)
    0.693147
    """

    default_name = "binary_crossentropy"

    function = staticmethod(binary_crossentropy)


class MeanSquaredError(Loss):
    """Mean of squared errors (Keras ``MeanSquaredError``).

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> MeanSquaredError()(np.array([[0.0], [0.0]]), Tensor([[1.0], [3.0]])).item()
    5.0
    """

    default_name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors (Keras ``MeanAbsoluteError``).

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> MeanAbsoluteError()(np.array([[0.0], [0.0]]), Tensor([[1.0], [-3.0]])).item()
    2.0
    """

    default_name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class CTC(Loss):
    """Connectionist temporal classification loss (Keras ``CTC``): ``y_true (B, S)`` integer labels padded with
    0, ``y_pred (B, T, C)`` logits whose class 0 is the blank. See :func:`ctc`.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> loss = CTC()(np.array([[1, 0], [1, 1]]), Tensor(np.zeros((2, 3, 2))))  # "1": 6/8, "1 1": 1/8 of paths
    >>> round(loss.item(), 4), round(float(-(np.log(6 / 8) + np.log(1 / 8)) / 2), 4)
    (1.1836, 1.1836)
    """

    default_name = "ctc"

    def call(self, y_true, y_pred):
        return ctc(y_true, y_pred)


class LossFunctionWrapper(Loss):
    """A loss object around a function ``fn(y_true, y_pred) -> per-sample Tensor`` (Keras'
    ``LossFunctionWrapper``), reduced like the built-in losses.

    >>> import numpy as np
    >>> from rnnkit import Tensor
    >>> def squared(t, p):
    ...     return (p - t) * (p - t)
    >>> LossFunctionWrapper(squared)(np.array([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **fn_kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn, self.fn_kwargs = fn, fn_kwargs

    def call(self, y_true, y_pred):
        return as_tensor(self.fn(y_true, y_pred, **self.fn_kwargs))

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


# ------------------------------------------------------------------------------------------ registry
_CLASSES = {cls.__name__: cls for cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                          BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError, CTC)}
_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "ctc": CTC,
}
_BY_FUNCTION = {
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    ctc: CTC,
}


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}`` for a built-in loss object."""
    if type(loss).__name__ not in _CLASSES:
        raise ConfigError(f"only built-in losses can be serialized; got {loss!r}")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def get(identifier) -> Loss:
    """Resolve a loss to a loss object: a Keras name (``"mse"``, ``"categorical_crossentropy"``, ...), a class
    name, a ``serialize`` dict, a loss object, one of this module's functions, or any callable
    ``fn(y_true, y_pred)`` returning per-sample values.

    A name keeps the spelling it was given (``get("mse").name == "mse"``), as Keras' logs do.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ConfigError(f"unknown loss {identifier!r}; expected one of {sorted(_BY_NAME)} or a callable")
        return cls(name=identifier.lower()) if identifier.lower() in _BY_NAME else cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ConfigError(
                f"unknown loss class {identifier.get('class_name')!r}; expected one of {sorted(_CLASSES)}"
            )
        return cls.from_config(dict(identifier.get("config", {})))
    if identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ConfigError(f"cannot interpret {identifier!r} as a loss; expected a name in {sorted(_BY_NAME)}, "
                      "a Loss or a callable")
