"""The fused source of per-step gradients: the recurrent layers' own sequence ops record them in their backward pass.

:class:`FusedSource` runs the model as it trains: one forward and one backward pass through the fused ops, under
``rnnkit.ops.recurrent.record_step_gradients``. Each recurrent layer's op call is tagged with the layer's record
(``recording.label`` around the cell's ``run_sequence``), so that after the backward pass every layer (each
direction of a ``Bidirectional`` on its own) gets, per processed step, the total gradient reaching ``h_t`` (LSTM
also ``c_t``) and the gradient of its input ``x_t``: the same :class:`~rnnkit.diagnostics.replay.LayerRecord`
the replay fills, at the cost of one training step instead of a step-by-step replay on the tape.

It maps the layers whose cell is a built-in ``SimpleRNNCell``, ``LSTMCell`` or ``GRUCell`` run by its fused op
(:func:`fused_layer`); ``gradient_flow(source="auto")`` takes it when every recurrent layer of the model is one.

>>> import numpy as np
>>> from rnnkit.layers import Dense, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([LSTM(3, name="lstm"), Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> with FusedSource().attach(model) as recorder:
...     loss = model._compute_loss([np.zeros((2, 1))], [model(np.ones((2, 4, 5)))])
...     loss.backward()
>>> record = recorder.layer("lstm")
>>> len(record.states["h"]), record.states["c"][0].gradient().shape, record.inputs[0].gradient().shape
(4, (2, 3), (2, 5))
"""
from __future__ import annotations

import contextlib

import numpy as np

from rnnkit.diagnostics.replay import LayerRecord, Recorder, StepGradientSource, recurrent_layers
from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnkit.ops.recurrent import recording

_FUSED_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


def fused_layer(layer) -> bool:
    """Whether ``layer`` (an RNN layer) runs a built-in cell's own fused op, whose records :class:`FusedSource`
    can read: not ``RNN(user_cell)``, a list of cells, or a cell class that replaces ``run_sequence``."""
    cell = getattr(layer, "cell", None)
    return bool(getattr(layer, "_fused", False)) and any(
        isinstance(cell, base) and type(cell).run_sequence is base.run_sequence for base in _FUSED_CELLS)


class StepGradient:
    """One processed step's recorded gradient ``(B, F)`` (the interface of the replay's probes)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray):
        self.values = values

    def gradient(self) -> np.ndarray:
        return self.values


class FusedSource(StepGradientSource):
    """Per-step gradients recorded by the fused ops (see the module). ``attach(model)`` raises ``ConfigError``
    naming a recurrent layer it cannot map (see :func:`fused_layer`)."""

    @contextlib.contextmanager
    def attach(self, model):
        layers = recurrent_layers(model)
        unmapped = [name for name, layer in layers if not fused_layer(layer)]
        if unmapped:
            raise ConfigError(f"the fused source reads only SimpleRNN, LSTM and GRU layers with their built-in cells; "
                              f"{unmapped} run another cell: use source='replay'")
        records, patched, called = [], [], set()
        for name, layer in layers:
            record = LayerRecord(name, layer, tuple(layer.cell.state_names), layer.go_backwards)
            records.append(record)
            patched.append(_patch(record, called))
        try:
            with recording.record_step_gradients() as recorder:
                yield Recorder(records)
            for record in records:
                _fill(record, recorder.labelled(record), record.name in called)
        finally:
            for layer, cell in patched:
                layer.__dict__.pop("call", None)
                cell.__dict__.pop("run_sequence", None)


def _patch(record: LayerRecord, called: set) -> tuple:
    """Wrap the layer's ``call`` (the input's length; the layer's name into ``called``) and its cell's
    ``run_sequence`` (the op runs labelled with ``record``), as instance attributes that ``attach`` removes."""
    layer, cell = record.layer, record.layer.cell
    original_call, original_run = type(layer).call.__get__(layer), type(cell).run_sequence.__get__(cell)

    def call(inputs, *args, **kwargs):
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        record.steps = first.shape[1]
        called.add(record.name)
        return original_call(inputs, *args, **kwargs)

    def run_sequence(x, states, mask=None, **options):  # options: the recurrent-dropout masks, if any
        with recording.label(record):
            return original_run(x, states, mask, **options)

    layer.__dict__["call"] = call
    cell.__dict__["run_sequence"] = run_sequence
    return layer, cell


def _fill(record: LayerRecord, op_records: list, called: bool) -> None:
    """The layer's per-step gradients from its last op call's record, in processing order (zeros where no
    gradient reached the op, as the replay's probes give)."""
    record.states = {name: [] for name in record.state_names}
    record.inputs = []
    if not op_records:
        if called:
            raise RnnkitError(f"layer {record.name!r} ran without a recorded sequence op; use source='replay'")
        return
    op = op_records[-1]
    B, T, D, H = op.sizes
    if op.h is None:  # the loss does not depend on this layer: no gradient reached it
        states, x = np.zeros((B, T, H)), np.zeros((B, T, D))
        arrays = {"h": states, "c": states, "x": x}
    else:
        arrays = {"h": op.h, "c": op.c, "x": op.x}  # (B, T, F) each, in processing order
    for name in record.state_names:
        record.states[name] = [StepGradient(arrays[name][:, t]) for t in range(T)]
    record.inputs = [StepGradient(arrays["x"][:, t]) for t in range(T)]
