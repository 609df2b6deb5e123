"""gradient_flow: how much of the loss's gradient reaches each time step of each recurrent layer.

For every recurrent layer (each direction of a ``Bidirectional`` on its own) it returns, per time step ``t``
in input order, the batch mean of ``||dLoss/dh_t||`` (the *total* gradient reaching the state: through the
recurrence and through the layer's output at ``t``), for LSTM also ``||dLoss/dc_t||``, and ``||dLoss/dx_t||``
for the layer's input; and the norm of every weight's gradient. ``Loss`` is the model's compiled loss on the
batch (a mean over the samples, as in training). A plain RNN's ``dh_0`` is orders of magnitude below its
``dh_T`` on long sequences: the vanishing gradient; LSTM and GRU keep it.

>>> import numpy as np
>>> from rnnkit.layers import Dense, SimpleRNN
>>> from rnnkit.models import Sequential
>>> model = Sequential([SimpleRNN(8, name="rnn"), Dense(1, name="out")])
>>> model.compile(optimizer="sgd", loss="mse")
>>> rng = np.random.default_rng(0)
>>> flow = gradient_flow(model, rng.normal(size=(4, 30, 2)), rng.normal(size=(4, 1)))
>>> layer = flow.layers[0]
>>> layer.name, layer.h.shape, layer.x.shape, bool(layer.decay() < 1e-2)
('rnn', (30,), (30,), True)
>>> sorted(flow.weight_norms)[:2]
['out/bias', 'out/kernel']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.diagnostics.fused import FusedSource, fused_layer
from rnnkit.diagnostics.replay import ReplaySource, StepGradientSource, recurrent_layers
from rnnkit.errors import ConfigError


@dataclass
class LayerFlow:
    """One recurrent layer's gradient norms per time step, in input time order (NaN: a step not run because
    it is masked in every sequence of the batch).

    Attributes: ``name``, ``kind`` (``"LSTM"``...), ``go_backwards``, ``states`` (``{"h": (T,), "c": (T,)}``),
    ``x`` (``(T,)``, the input's gradient), ``h`` (shortcut for ``states["h"]``).
    """

    name: str
    kind: str
    go_backwards: bool
    states: dict
    x: np.ndarray

    @property
    def h(self) -> np.ndarray:
        return self.states["h"]

    def processing_order(self, values: np.ndarray) -> np.ndarray:
        """``values`` (in input time order) in the order the layer ran them, without the steps not run."""
        values = values[::-1] if self.go_backwards else values
        return values[~np.isnan(values)]

    def decay(self, state: str = "h") -> float:
        """``||dL/dh||`` at the first step the layer ran over that at the last one: how much of the gradient
        survives the trip back through the whole sequence (1e-8: vanished; above 1: grown)."""
        run = self.processing_order(self.states[state])
        if not len(run) or run[-1] == 0:
            return float("nan")
        return float(run[0] / run[-1])

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "go_backwards": self.go_backwards,
                "states": {k: _jsonable(v) for k, v in self.states.items()}, "x": _jsonable(self.x),
                "decay": self.decay()}


@dataclass
class GradientFlow:
    """What :func:`gradient_flow` measured: ``loss`` (float), ``layers`` (list of :class:`LayerFlow`),
    ``weight_norms`` (``{weight name: ||dL/dW||}``)."""

    loss: float
    layers: list
    weight_norms: dict = field(default_factory=dict)

    def layer(self, name: str) -> LayerFlow:
        for flow in self.layers:
            if flow.name == name:
                return flow
        raise KeyError(f"no recurrent layer named {name!r}; measured: {[f.name for f in self.layers]}")

    def summary(self) -> str:
        """One line: the loss, and per layer the steps and ``dh`` at the first step over the last one."""
        parts = [f"loss={self.loss:.4g}"]
        for flow in self.layers:
            parts.append(f"{flow.name}: T={len(flow.h)} dh_first/dh_last={flow.decay():.3g}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"loss": self.loss, "layers": [f.to_dict() for f in self.layers],
                "weight_norms": dict(self.weight_norms)}


def _jsonable(values: np.ndarray) -> list:
    return [None if np.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def _batch_mean_norm(grad: np.ndarray) -> float:
    """Mean over the batch of the Euclidean norm of each sample's ``(features,)`` gradient."""
    return float(np.linalg.norm(np.asarray(grad, dtype=np.float64).reshape(grad.shape[0], -1), axis=1).mean())


def _loss_fn(model, loss):
    from rnnkit import losses as losses_module

    if loss is not None:
        return losses_module.get(loss)
    if not getattr(model, "compiled", False) or model._loss_objects is None:
        raise ConfigError("gradient_flow needs a loss: compile the model with loss=..., or pass loss=")
    return None


SOURCES = ("auto", "fused", "replay")


def step_gradient_source(model, source="auto") -> StepGradientSource:
    """The source :func:`gradient_flow` reads: ``"fused"`` (:class:`FusedSource`: the layers' own ops record the
    gradients in one training step), ``"replay"`` (:class:`ReplaySource`: each layer replayed step by step), or
    ``"auto"`` (None too): fused when every recurrent layer runs a built-in cell's fused op, else the replay. A
    :class:`StepGradientSource` instance is returned as it is."""
    if isinstance(source, StepGradientSource):
        return source
    if source is None:
        source = "auto"
    if source not in SOURCES:
        raise ConfigError(f"gradient_flow: source must be one of {list(SOURCES)} or a StepGradientSource; "
                          f"got {source!r}")
    if source == "auto":
        source = "fused" if all(fused_layer(layer) for _, layer in recurrent_layers(model)) else "replay"
    return FusedSource() if source == "fused" else ReplaySource()


def gradient_flow(model, x, y, *, loss=None, training: bool = False, source: StepGradientSource | str | None = "auto",
                  sample_weight=None) -> GradientFlow:
    """Per-step gradient norms of every recurrent layer of ``model`` on one batch ``(x, y)``.

    Args:
        model: a built or unbuilt rnnkit model with at least one recurrent layer.
        x, y: one batch (arrays as for ``fit``; several inputs or outputs as lists).
        loss: a loss name or object; default the compiled loss.
        training: run the layers in training mode (dropout on); default False.
        source: where the per-step gradients come from: ``"auto"`` (default), ``"fused"``, ``"replay"`` or a
            :class:`StepGradientSource` (see :func:`step_gradient_source`); all give the same numbers.
        sample_weight: optional per-sample weights of the loss.

    Returns: a :class:`GradientFlow`. The weights' ``.grad`` are left as this pass computed them.
    """
    loss_object = _loss_fn(model, loss)
    xs, is_list = model._prepare_x(x)
    ys = model._prepare_y(y)
    model._check_lengths(xs, ys, sample_weight, "gradient_flow")
    source = step_gradient_source(model, source)
    inputs = model._model_input(xs, is_list)
    with source.attach(model) as recorder:
        outs = model._outputs_list(model(inputs, training=training))
        if loss_object is None:
            total = model._compute_loss(ys, outs, sample_weight)
        else:
            total = None
            for target, out in zip(ys, outs):
                value = loss_object(target, out, sample_weight)
                total = value if total is None else total + value
        weights = [w for w in model.trainable_weights]
        for w in weights:
            w.grad = None
        if not recorder.layers:
            raise ConfigError(f"model {model.name!r} has no recurrent layer (SimpleRNN, LSTM, GRU, RNN, "
                              "Bidirectional) to measure")
        if not isinstance(total, Tensor) or not total.requires_grad:
            raise ConfigError("the loss does not depend on any trainable weight: nothing to differentiate")
        total.backward()
    layers = []
    for record in recorder.layers:
        states = {name: record.to_input_time([_batch_mean_norm(p.gradient()) for p in probes])
                  for name, probes in record.states.items()}
        x_norms = record.to_input_time([_batch_mean_norm(p.gradient()) for p in record.inputs])
        layers.append(LayerFlow(record.name, type(record.layer).__name__, record.go_backwards, states, x_norms))
    weight_norms = {getattr(w, "name", f"weight_{i}"): float(np.linalg.norm(w.grad)) if w.grad is not None else 0.0
                    for i, w in enumerate(weights)}
    return GradientFlow(float(total.data), layers, weight_norms)
