"""The replay source of per-step gradients: every recurrent layer run step by step with its own cell.

To read ``dLoss/dh_t`` without the fused ops' records, :class:`ReplaySource` swaps, for the duration of one
forward and backward pass, each recurrent cell's ``run_sequence`` for a Python loop over ``cell.step`` (the
one-step ops ``simple_rnn_cell``, ``lstm_cell``, ``gru_cell``) with the same weights, the same masking rule
(a masked step carries the state and outputs zeros) and the same direction. Every state ``h_t`` (and LSTM's
``c_t``) and every input ``x_t`` goes through a *probe*: an identity op on the tape whose backward keeps the
gradient it passes on, which is the total gradient reaching that tensor (through the recurrence and the output
path). A probe can also shift its value by a given array: the finite-difference check of the flow.

The replay is slower than the fused op (one tape node per step); :class:`~rnnkit.diagnostics.fused.FusedSource`
reads the same gradients from the fused ops' own records (``gradient_flow``'s default where it applies). The
replay remains the reference it is tested against, and serves cells whose ``run_sequence`` is their own.

>>> import numpy as np
>>> from rnnkit.layers import Dense, GRU
>>> from rnnkit.models import Sequential
>>> model = Sequential([GRU(3, return_sequences=True, name="gru"), Dense(1)])
>>> x = np.random.default_rng(0).normal(size=(2, 4, 5))
>>> fused = model(x).numpy()
>>> source = ReplaySource()
>>> with source.attach(model) as recorder:
...     replayed = model(x).numpy()
>>> bool(np.allclose(fused, replayed, atol=1e-6)), [r.name for r in recorder.layers]
(True, ['gru'])
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from rnnkit.autograd import Tensor, is_grad_enabled, make
from rnnkit.errors import ConfigError
from rnnkit.layers.cells import LSTMCell, RecurrentCell
from rnnkit.ops import activations, matmul, stack, unstack


class Probe:
    """An identity on the tape that keeps the gradient passing through it (and may shift the value).

    >>> w = Tensor(np.ones(2), requires_grad=True)
    >>> probe = Probe()
    >>> y = probe.attach(w * 3.0)
    >>> (y * y).sum().backward()
    >>> probe.gradient()
    array([6., 6.], dtype=float32)
    """

    __slots__ = ("grad", "leaf", "shape", "dtype")

    def __init__(self):
        self.grad = None
        self.leaf = None
        self.shape = self.dtype = None

    def attach(self, tensor: Tensor, shift=None) -> Tensor:
        data = tensor.data if shift is None else tensor.data + np.asarray(shift, dtype=tensor.dtype)
        self.shape, self.dtype = tensor.shape, tensor.dtype
        if not tensor.requires_grad:  # a constant (the model's input, zero initial states): watch a new leaf
            self.leaf = Tensor(data, requires_grad=is_grad_enabled(), dtype=tensor.dtype)
            return self.leaf

        def backward(g):
            self.grad = g.copy() if self.grad is None else self.grad + g
            return (g,)

        return make("gradient_probe", data, [tensor], backward)

    def gradient(self) -> np.ndarray:
        """The gradient that reached the probed tensor (zeros if none did)."""
        grad = self.leaf.grad if self.leaf is not None else self.grad
        return np.zeros(self.shape, dtype=self.dtype) if grad is None else grad


@dataclass
class LayerRecord:
    """The probes of one recurrent layer (one direction of a ``Bidirectional``), in processing order.

    ``states[name][i]`` probes state ``name`` (``"h"``, LSTM also ``"c"``) after processed step ``i``;
    ``inputs[i]`` the layer's input at processed step ``i``. ``steps`` is the input's full length (trailing
    steps masked in the whole batch are not run: they have no probes), ``go_backwards`` the direction.
    """

    name: str
    layer: object
    state_names: tuple
    go_backwards: bool
    steps: int = 0
    states: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)

    def to_input_time(self, per_step: list) -> np.ndarray:
        """``(steps, ...)`` values in input time order from values in processing order (NaN where not run)."""
        run = len(per_step)
        first = np.asarray(per_step[0]) if run else np.zeros(())
        out = np.full((self.steps,) + first.shape, np.nan)
        if run:
            values = np.stack([np.asarray(v, dtype=np.float64) for v in per_step])
            out[:run] = values[::-1] if self.go_backwards else values
        return out


class Recorder:
    """What one attached pass recorded: a :class:`LayerRecord` per recurrent layer, in model order."""

    def __init__(self, layers: list):
        self.layers = layers

    def layer(self, name: str) -> LayerRecord:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(f"no recurrent layer named {name!r}; recorded: {[r.name for r in self.layers]}")


class StepGradientSource:
    """Where the per-step gradients come from. ``attach(model)`` is a context manager yielding a
    :class:`Recorder`: inside it the caller runs one forward pass and one backward pass; afterwards every
    ``LayerRecord`` holds, per processed step, objects with a ``gradient()`` method. A fused-op source (an
    option of the recurrent ops to keep their per-step state gradients) would implement the same."""

    def attach(self, model):
        raise NotImplementedError


def recurrent_layers(model) -> list:
    """``[(path name, RNN layer)]`` for every recurrent layer inside ``model`` (Bidirectional: both directions,
    named ``wrapper/forward_...`` and ``wrapper/backward_...``), depth first in model order."""
    from rnnkit.layers.bidirectional import Bidirectional
    from rnnkit.layers.recurrent import RNN

    found, seen = [], set()

    def walk(layer, prefix):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, RNN):
            found.append((prefix + layer.name, layer))
            return
        inner = prefix + layer.name + "/" if isinstance(layer, Bidirectional) else prefix
        for child in layer._layers:
            walk(child, inner)

    for child in model._layers:
        walk(child, "")
    return found


class ReplaySource(StepGradientSource):
    """Per-step gradients by replaying each recurrent layer step by step with its cell (see the module).

    Args:
        shifts: optional ``{(layer name, state name, processed step): array (B, H)}`` added to that state in
            the forward pass (``state name`` ``"h"``, ``"c"`` or ``"x"`` for the input), for finite differences.
    """

    def __init__(self, shifts: dict | None = None):
        self.shifts = dict(shifts or {})

    @contextlib.contextmanager
    def attach(self, model):
        records, patched = [], []
        for name, layer in recurrent_layers(model):
            if not isinstance(layer.cell, RecurrentCell):
                raise ConfigError(f"gradient_flow cannot measure layer {name!r}: it runs a user-defined cell "
                                  f"({type(layer.cell).__name__}) step by step, which has no per-step probes; "
                                  "SimpleRNN, LSTM and GRU layers (and their cells) can be measured")
            record = LayerRecord(name, layer, tuple(layer.cell.state_names), layer.go_backwards)
            records.append(record)
            patched.append(self._patch(record))
        try:
            yield Recorder(records)
        finally:
            for layer, cell in patched:
                layer.__dict__.pop("call", None)
                cell.__dict__.pop("run_sequence", None)

    def _patch(self, record: LayerRecord) -> tuple:
        layer, cell = record.layer, record.layer.cell
        original_call = type(layer).call.__get__(layer)

        def call(inputs, *args, **kwargs):
            first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            record.steps = first.shape[1]
            record.states = {s: [] for s in record.state_names}
            record.inputs = []
            return original_call(inputs, *args, **kwargs)

        def run_sequence(x, states, mask=None, gate_masks=(None, None)):  # gate_masks: recurrent_dropout's
            return self._replay(record, cell, x, states, mask, gate_masks)

        layer.__dict__["call"] = call
        cell.__dict__["run_sequence"] = run_sequence
        return layer, cell

    def _replay(self, record: LayerRecord, cell, x, states: list, mask, gate_masks=(None, None)) -> tuple:
        B, T, _ = x.shape
        zeros = cell.get_initial_state(B)
        states = [zeros[i] if s is None else s for i, s in enumerate(states)]
        weights = None if mask is None else np.asarray(mask, dtype=x.dtype)  # (B, T) 1 = real step
        outputs = []
        for t, x_t in enumerate(unstack(x, axis=1)):  # x_t (B, D)
            x_t = self._probe(record, record.inputs, "x", t, x_t)
            m = None if weights is None else Tensor(weights[:, t:t + 1], dtype=x.dtype)  # (B, 1) 1 = real step
            if isinstance(cell, LSTMCell):
                states = self._lstm_step(record, cell, x_t, states, m, t, gate_masks)
            else:
                new = cell.step(x_t, states, gate_masks)
                if m is not None:
                    new = [n * m + s * (1.0 - m) for n, s in zip(new, states)]  # masked: the state carries through
                states = [self._probe(record, record.states[name], name, t, s)
                          for name, s in zip(record.state_names, new)]
            outputs.append(states[0] if m is None else states[0] * m)  # masked steps output zeros
        return stack(outputs, axis=1), states  # (B, T, H)

    def _lstm_step(self, record, cell, x_t, states, m, t, gate_masks) -> list:
        """One LSTM step whose ``c_t`` probe sees the *total* gradient: ``c_t`` from the cell's op, then
        ``h_t = o_t * activation(c_t)`` recomputed from the probed ``c_t`` (the op's own ``h_t`` would bypass
        the probe). The replay's outputs are checked equal to the fused layer's (tests)."""
        h_prev, c_prev = states
        _, c_new = cell.step(x_t, states, gate_masks)
        if m is not None:
            c_new = c_new * m + c_prev * (1.0 - m)
        c = self._probe(record, record.states["c"], "c", t, c_new)
        H = cell.units
        input_masks, recurrent_masks = gate_masks  # recurrent_dropout's (4, B, D), (4, B, H): gate o is 3
        x_o = x_t if input_masks is None else x_t * input_masks[3]
        h_o = h_prev if recurrent_masks is None else h_prev * recurrent_masks[3]
        z_o = matmul(x_o, cell.kernel[:, 3 * H:]) + matmul(h_o, cell.recurrent_kernel[:, 3 * H:])  # (B, H)
        if cell.use_bias:
            z_o = z_o + cell.bias[3 * H:]
        h_new = activations.get(cell.recurrent_activation)(z_o) * activations.get(cell.activation)(c)
        if m is not None:
            h_new = h_new * m + h_prev * (1.0 - m)
        return [self._probe(record, record.states["h"], "h", t, h_new), c]

    def _probe(self, record, probes: list, name: str, t: int, tensor: Tensor) -> Tensor:
        probe = Probe()
        probes.append(probe)
        return probe.attach(tensor, self.shifts.get((record.name, name, t)))
