"""gradient_check: compare a model's back-propagated gradients with central finite differences, in float64.

What rnnkit's own tests do for every op, offered to anyone who writes a layer: the model is copied, the copy
cast to float64 (weights, layer dtypes, inputs), the loss back-propagated once, and for a random subset of the
entries of every trainable weight the derivative is measured as ``(L(w + eps) - L(w - eps)) / (2 eps)``. The
result is a table, one row per weight, of the relative error over the checked entries ``||analytic - numeric||
/ max(||analytic||, ||numeric||)`` (the measure rnnkit's own tests use: entries whose gradient is tiny next to
the weight's other entries do not blow it up with finite-difference noise) and the largest absolute
difference; a correct backward pass gives about 1e-7 or less, a wrong one 1e-2 or more. The model itself is
not changed.

>>> import numpy as np
>>> from rnnkit.layers import Dense, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([LSTM(3, name="lstm"), Dense(2, activation="softmax")])
>>> model.compile(optimizer="adam", loss="categorical_crossentropy")
>>> x, y = np.random.default_rng(0).normal(size=(4, 5, 2)), np.eye(2)[[0, 1, 1, 0]]
>>> report = gradient_check(model, x, y, samples=4)
>>> report.passed, len(report.rows), report.rows[0].weight
(True, 5, 'lstm/lstm_cell/kernel')
>>> print(report)                                                    # doctest: +ELLIPSIS
weight                         shape      checked  max |grad|  max |diff|  rel. error  ok
lstm/lstm_cell/kernel          (2, 12)          4 ...
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from rnnkit.autograd import Tensor, no_grad
from rnnkit.errors import ConfigError


@dataclass
class GradientCheckRow:
    """One weight: its name, shape, how many entries were checked, the largest analytic gradient among them,
    the largest absolute difference, the relative error ``||analytic - numeric|| / max(||analytic||,
    ||numeric||)`` over the checked entries, and whether that is within the tolerance."""

    weight: str
    shape: tuple
    checked: int
    max_grad: float
    max_abs_error: float
    relative_error: float
    ok: bool


@dataclass
class GradientCheck:
    """The table of :func:`gradient_check`: ``rows`` (one :class:`GradientCheckRow` per trainable weight),
    ``tolerance``, ``passed`` (every row within it); ``print(check)`` shows the table."""

    rows: list = field(default_factory=list)
    tolerance: float = 1e-5
    loss: float = float("nan")

    @property
    def passed(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list:
        return [row for row in self.rows if not row.ok]

    def __str__(self) -> str:
        width = max([len("weight")] + [len(r.weight) for r in self.rows]) + 2
        lines = [f"{'weight':{width - 1}s}{'shape':11s}{'checked':>7s}  {'max |grad|':>10s}  {'max |diff|':>10s}  "
                 f"{'rel. error':>10s}  ok"]
        for r in self.rows:
            lines.append(f"{r.weight:{width - 1}s}{str(r.shape):11s}{r.checked:7d}  {r.max_grad:10.3g}  "
                         f"{r.max_abs_error:10.3g}  {r.relative_error:10.3g}  {'yes' if r.ok else 'NO'}")
        lines.append(f"{'passed' if self.passed else 'FAILED'}: tolerance {self.tolerance:g} on the relative error")
        return "\n".join(lines)


def _all_layers(model) -> list:
    found, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        found.append(layer)
        stack.extend(layer.__dict__.get("_layers", []))
        cell = layer.__dict__.get("cell")
        if cell is not None:
            stack.append(cell)
    return found


def _cast_tensors(value, seen: set) -> None:
    """Every float Tensor in ``value`` (a Tensor, or a list / tuple / dict of them) cast to float64 in place."""
    if isinstance(value, Tensor):
        if id(value) not in seen and value.dtype.kind == "f":
            seen.add(id(value))
            value.data = value.data.astype(np.float64)
            value.grad = None
    elif isinstance(value, (list, tuple)):
        for item in value:
            _cast_tensors(item, seen)
    elif isinstance(value, dict):
        for item in value.values():
            _cast_tensors(item, seen)


def float64_copy(model):
    """A deep copy of ``model`` computing in float64: every layer's dtype, every float Tensor it holds (weights,
    states, buffers), and float inputs of a functional model. Custom layers need nothing special, as long as
    they create their constants with ``dtype=self.dtype``."""
    twin = copy.deepcopy(model)
    seen: set = set()
    for layer in _all_layers(twin):
        if getattr(layer, "dtype", None) is not None and np.dtype(layer.dtype).kind == "f":
            layer.dtype = "float64"
        for value in vars(layer).values():
            _cast_tensors(value, seen)
    if getattr(twin, "_input_dtype", None) is not None and np.dtype(twin._input_dtype).kind == "f":
        twin._input_dtype = "float64"
    for placeholder in getattr(twin, "_input_list", None) or []:
        if placeholder.dtype.kind == "f":
            placeholder.dtype = np.dtype(np.float64)
    return twin


def _loss_of(model, loss):
    from rnnkit import losses as losses_module

    if loss is not None:
        loss_object = losses_module.get(loss)

        def compute(ys, outs):
            total = None
            for target, out in zip(ys, outs):
                value = loss_object(target, out, None)
                total = value if total is None else total + value
            return total

        return compute
    if not getattr(model, "compiled", False) or model._loss_objects is None:
        raise ConfigError("gradient_check needs a loss: compile the model with loss=..., or pass loss=")
    return lambda ys, outs: model._compute_loss(ys, outs)


def gradient_check(model, x, y, *, loss=None, samples: int = 8, eps: float = 1e-5, tolerance: float = 1e-5,
                   floor: float = 1e-9, seed: int = 0) -> GradientCheck:
    """Check the gradients of ``model``'s loss on ``(x, y)`` against central differences (see the module).

    Args:
        model: any rnnkit model (custom layers included); it is copied, never changed.
        x, y: a small batch (float inputs are cast to float64).
        loss: a loss name or object; default the compiled loss.
        samples: entries checked per weight (all of them when the weight is smaller), chosen at random.
        eps: the finite-difference step. tolerance: the largest relative error accepted.
        floor: the smallest denominator of the relative error (a weight whose checked gradients are all below it
            is compared absolutely).
        seed: the choice of entries.

    Returns: a :class:`GradientCheck` (``.passed``, ``.rows``, ``print()``-able).
    """
    if samples < 1:
        raise ConfigError(f"samples must be >= 1; got {samples}")
    twin = float64_copy(model)
    compute_loss = _loss_of(twin, loss)
    xs, is_list = twin._prepare_x(x)
    xs = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in xs]
    ys = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in twin._prepare_y(y)]
    inputs = twin._model_input(xs, is_list)

    def loss_value() -> float:
        with no_grad():
            return float(compute_loss(ys, twin._outputs_list(twin(inputs, training=False))).data)

    total = compute_loss(ys, twin._outputs_list(twin(inputs, training=False)))  # builds a lazy model
    weights = twin.trainable_weights
    for w in weights:
        w.grad = None
    if not isinstance(total, Tensor) or not total.requires_grad:
        raise ConfigError("the loss does not depend on any trainable weight: nothing to check")
    total.backward()
    rng = np.random.default_rng(seed)
    report = GradientCheck(tolerance=tolerance, loss=float(total.data))
    for i, w in enumerate(weights):
        analytic = np.zeros(w.shape) if w.grad is None else w.grad
        flat = w.data.reshape(-1)  # a view: perturbing it perturbs the weight
        chosen = np.arange(flat.size) if flat.size <= samples else rng.choice(flat.size, samples, replace=False)
        numeric = np.empty(len(chosen))
        for k, index in enumerate(chosen):
            original = flat[index]
            flat[index] = original + eps
            plus = loss_value()
            flat[index] = original - eps
            minus = loss_value()
            flat[index] = original
            numeric[k] = (plus - minus) / (2 * eps)
        exact = np.asarray(analytic, dtype=np.float64).reshape(-1)[chosen]
        scale = max(np.linalg.norm(exact), np.linalg.norm(numeric), floor)
        error = float(np.linalg.norm(exact - numeric) / scale)
        name = getattr(w, "name", f"weight_{i}")
        report.rows.append(GradientCheckRow(name, tuple(w.shape), len(chosen), float(np.abs(exact).max()),
                                            float(np.abs(exact - numeric).max()), error, error <= tolerance))
    return report
