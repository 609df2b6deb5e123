"""``RNN(cell)`` for a user-defined cell: the sequence run step by step through the autograd tape.

A cell follows Keras' protocol: ``state_size`` (an int, or a list with one entry per state: an int for a
``(batch, n)`` state or a tuple of ints for a ``(batch, *shape)`` one), optional ``output_size``,
``build(step_input_shape)``, ``call(inputs, states[, training])`` returning ``(output, new_states)`` with
``new_states`` nested as ``states``, and optionally ``get_initial_state(batch_size)``. Inputs and outputs may be
nested (a tuple of sequences in, a tuple of outputs out, as the Keras RNN guide's ``NestedCell``).

Per step, as Keras' ``backend.rnn``: a masked step keeps the states and outputs the previous step's output
(zeros before the first unmasked one), or zeros with ``zero_output_for_mask=True``; ``go_backwards`` reads the
steps from the end and returns the outputs in that (reversed) order; the last output is that of the last step
processed. The built-in ``SimpleRNNCell`` / ``LSTMCell`` / ``GRUCell`` do not come here: ``RNN`` runs them with
their fused sequence ops.

>>> import numpy as np
>>> from rnnkit import ops
>>> from rnnkit.layers import RNN, Layer
>>> class MinimalRNNCell(Layer):
...     def __init__(self, units, **kwargs):
...         super().__init__(**kwargs)
...         self.units = units
...         self.state_size = units
...     def build(self, input_shape):
...         self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
...         self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
...                                                 name="recurrent_kernel")
...     def call(self, inputs, states):
...         output = ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
...         return output, [output]
>>> RNN(MinimalRNNCell(4), return_sequences=True)(np.ones((2, 5, 3))).shape
(2, 5, 4)
>>> RNN([MinimalRNNCell(4), MinimalRNNCell(6)])(np.ones((2, 5, 3))).shape
(2, 6)
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from rnnkit import tree
from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.arguments import as_mask
from rnnkit.ops.elementwise import cast
from rnnkit.ops.select import where
from rnnkit.ops.shape import stack, unstack


def check_cell(cell, owner: str = "RNN") -> None:
    """ConfigError unless ``cell`` has a ``call`` method and a ``state_size`` (Keras' two requirements)."""
    if not callable(getattr(cell, "call", None)):
        raise ConfigError(f"{owner}: the cell must have a call(inputs, states) method returning (output, "
                          f"new_states); got {cell!r} ({type(cell).__name__})")
    if getattr(cell, "state_size", None) is None:
        raise ConfigError(
            f"{owner}: the cell {type(cell).__name__} has no state_size attribute; set it in __init__, e.g. "
            "self.state_size = units (one (batch, units) state) or [units, units] (two states, as LSTM), "
            "or [units, (rows, cols)] for a (batch, rows, cols) state")


def _is_shape(entry) -> bool:
    return isinstance(entry, (list, tuple)) and all(isinstance(n, numbers.Integral) for n in entry)


def state_shapes(state_size, owner: str = "RNN") -> list:
    """Per-sample state shapes from a ``state_size``: ``8 -> [(8,)]``, ``[8, 8] -> [(8,), (8,)]``,
    ``[10, (20, 30)] -> [(10,), (20, 30)]`` (an object with ``as_list()``, such as TensorShape, is a shape)."""
    entries = [state_size] if not isinstance(state_size, (list, tuple)) else list(state_size)
    shapes = []
    for entry in entries:
        if hasattr(entry, "as_list"):
            entry = tuple(entry.as_list())
        if isinstance(entry, numbers.Integral) and not isinstance(entry, bool) and entry > 0:
            shapes.append((int(entry),))
        elif _is_shape(entry) and all(n > 0 for n in entry):
            shapes.append(tuple(int(n) for n in entry))
        else:
            raise ConfigError(f"{owner}: state_size={state_size!r} is not understood; expected a positive int, or "
                              "a list of positive ints (one per state) or of tuples of ints (a state's shape)")
    return shapes


def single_state(cell) -> bool:
    """Whether the cell has one state given as a bare int ``state_size`` (the cell still gets ``[state]``)."""
    return not isinstance(cell.state_size, (list, tuple))


# ------------------------------------------------------------------------------------------------ states
def initial_states(cell, batch: int, dtype) -> list:
    """The cell's zero states (a list, nested for stacked cells): from ``get_initial_state`` when it has one."""
    get = getattr(cell, "get_initial_state", None)
    if get is not None:
        states = get(batch_size=batch)
        states = list(states) if tree.is_nested(states) else [states]
        return tree.map_structure(lambda s: as_state(s, dtype), states)
    return [Tensor(np.zeros((batch,) + shape), dtype=dtype) for shape in state_shapes(cell.state_size)]


def as_state(value, dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else cast(value, dtype)
    return Tensor(np.asarray(value), dtype=dtype)


def given_states(layer, initial_state, batch: int) -> list:
    """User-given initial states, checked against the structure and shapes of the cell's zero states."""
    expected = initial_states(layer.cell, batch, layer.dtype)
    states = list(initial_state) if tree.is_nested(initial_state) else [initial_state]
    flat_expected = tree.flatten(expected)
    flat = tree.flatten(states)
    if len(flat) != len(flat_expected):
        raise ShapeError(f"layer {layer.name!r} expects {len(flat_expected)} initial state(s) with shapes "
                         f"{[s.shape for s in flat_expected]}; got {len(flat)}")
    out = []
    for i, (value, zero) in enumerate(zip(flat, flat_expected)):
        state = as_state(value, layer.dtype)
        if state.shape != zero.shape:
            raise ShapeError(f"layer {layer.name!r}: initial state {i} has shape {state.shape}; expected "
                             f"{zero.shape} (batch, *state_size)")
        out.append(state)
    return tree.pack_sequence_as(expected, out)


# ---------------------------------------------------------------------------------------------- the loop
def _takes_training(cell) -> bool:
    try:
        parameters = inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _check_new_states(layer, states, new_states) -> list:
    new_states = list(new_states) if tree.is_nested(new_states) else [new_states]
    flat_old, flat_new = tree.flatten(states), tree.flatten(new_states)
    if len(flat_new) != len(flat_old) or not all(isinstance(s, Tensor) for s in flat_new):
        raise ShapeError(
            f"layer {layer.name!r}: the cell {type(layer.cell).__name__}.call returned {len(flat_new)} state(s) "
            f"with shapes {[getattr(s, 'shape', type(s).__name__) for s in flat_new]}; its state_size "
            f"{layer.cell.state_size!r} declares {len(flat_old)} with shapes {[s.shape for s in flat_old]}. "
            "call() must return (output, new_states) with one new state per state")
    for old, new in zip(flat_old, flat_new):
        if new.shape != old.shape:
            raise ShapeError(f"layer {layer.name!r}: the cell returned a state of shape {new.shape}; expected "
                             f"{old.shape} (batch, *state_size)")
    return tree.pack_sequence_as(states, flat_new)


def _keep(mask_t: np.ndarray, like: Tensor) -> np.ndarray:
    return mask_t.reshape(mask_t.shape + (1,) * (like.ndim - 1))  # (B, 1, ...) to broadcast over the features


def run(layer, sequences, states, mask, training: bool) -> tuple:
    """``(last_output, outputs or None, final_states)`` of the cell over ``sequences`` (a Tensor ``(B, T, ...)``
    or a nested structure of them). ``outputs`` (time on axis 1, processing order) only with
    ``return_sequences``."""
    cell = layer.cell
    leaves = tree.flatten(sequences)
    batch, steps = leaves[0].shape[:2]
    mask = as_mask(mask, batch, steps, layer.name)
    if steps == 0:
        raise ShapeError(f"layer {layer.name!r} got a sequence with no time steps (shape {leaves[0].shape})")
    per_step = [unstack(x, axis=1) for x in leaves]  # one node per input, not one per step
    order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
    kwargs = {"training": training} if _takes_training(cell) else {}
    reset = getattr(cell, "reset_dropout_mask", None)
    if callable(reset):
        reset()  # a new sequence: cells with dropout draw new masks (Keras' DropoutRNNCell protocol)
    outputs, previous = [], None
    for t in order:
        x_t = tree.pack_sequence_as(sequences, [parts[t] for parts in per_step])
        result = cell.call(x_t, states, **kwargs)
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise ShapeError(f"layer {layer.name!r}: the cell {type(cell).__name__}.call must return "
                             f"(output, new_states); got {type(result).__name__}")
        output, new_states = result
        new_states = _check_new_states(layer, states, new_states)
        if mask is not None:
            m = mask[:, t]
            flat_out = tree.flatten(output)
            if previous is None or layer.zero_output_for_mask:
                previous = [np.zeros(o.shape, o.dtype) for o in flat_out]
            flat_out = [where(_keep(m, o), o, p) for o, p in zip(flat_out, previous)]
            output = tree.pack_sequence_as(output, flat_out)
            new_states = tree.pack_sequence_as(new_states, [
                where(_keep(m, n), n, s) for n, s in zip(tree.flatten(new_states), tree.flatten(states))])
            previous = flat_out
        states = new_states
        if layer.return_sequences:
            outputs.append(output)
    sequence = None
    if layer.return_sequences:
        sequence = tree.pack_sequence_as(outputs[0], [
            stack([tree.flatten(o)[i] for o in outputs], axis=1) for i in range(len(tree.flatten(outputs[0])))])
    return output, sequence, states
