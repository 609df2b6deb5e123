"""Per-step state gradients from the fused recurrent ops: ``dLoss/dh_t`` (LSTM also ``dLoss/dc_t``) at every step.

An op's backward time loop holds, at each step ``t`` just after the output's gradient joins it, the *total*
gradient reaching the state ``h_t``: through the next step and through the output at ``t`` (``bw.dh`` in
lstm.py, gru.py, simple_rnn.py). Under :func:`record_step_gradients` every sequence op (``simple_rnn``, ``lstm``,
``gru``; not the one-step cells) run in the context keeps a copy of it per step, and LSTM the total gradient
reaching ``c_t`` (through ``c_{t+1}`` and through ``h_t``); when the op's backward pass runs, the arrays go into
a :class:`StepRecord` of the recorder, together with the gradient of the op's input ``x``. A masked step carries
the state, so its record is the gradient carried through it.

Outside the context nothing is kept: the ops pass zero-length arrays to their loops, which then skip the copy
(one test per step). Records are in the op's time order: for a layer with ``go_backwards`` that is the reversed
input order. Each record carries the ``label`` in force (:func:`label`, per thread) when the op ran forward,
which is how ``rnnkit.diagnostics`` maps records to layers; ``record.outputs()`` is the op's output sequence
tensor while it is alive. The recorder is process-wide: ops run in other threads inside the context are recorded
too (appends are locked; a shard of a loop writes only its own columns).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.recurrent import lstm, record_step_gradients
>>> x = Tensor(np.ones((2, 5, 3)), requires_grad=True)
>>> W, U = Tensor(np.full((3, 16), 0.1)), Tensor(np.zeros((4, 16)))
>>> with record_step_gradients() as recorder:
...     outputs, h, c = lstm(x, W, U, None, None, None)
...     (outputs.sum() + h.sum()).backward()
>>> record = recorder.records[0]
>>> record.op, record.h.shape, record.c.shape, record.x.shape      # (B, T, H), (B, T, H), (B, T, D)
('lstm', (2, 5, 4), (2, 5, 4), (2, 5, 3))
>>> bool(np.allclose(record.h[:, -1], 2.0))                  # the last output's gradient and h_T's
True
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np

_ACTIVE: list = []  # the recorders in force, innermost last (process-wide)
_LOCK = threading.Lock()
_LABELS = threading.local()


class StepRecord:
    """One sequence op's per-step gradients, filled when its backward pass runs (``None`` until then).

    Attributes: ``op`` (``"simple_rnn"``, ``"lstm"``, ``"gru"``), ``label`` (see :func:`label`), ``sizes``
    ``(B, T, D, H)``, ``h`` ``(B, T, H)``: the total gradient reaching ``h_t``; ``c`` ``(B, T, H)`` (LSTM): reaching ``c_t``;
    ``x`` ``(B, T, D)``: the gradient of the op's input; all in the op's time order.
    """

    __slots__ = ("op", "label", "sizes", "h", "c", "x", "_outputs")

    def __init__(self, op: str, label, sizes: tuple):
        self.op, self.label, self.sizes = op, label, sizes
        self.h = self.c = self.x = None
        self._outputs = None

    def outputs(self):
        """The op's ``(B, T, H)`` output tensor, or None once it is gone (a weak reference)."""
        return None if self._outputs is None else self._outputs()

    def keep(self, dh_steps: np.ndarray, dc_steps: np.ndarray | None, dx: np.ndarray | None) -> None:
        """Take the op's ``(H, T, B)`` records (kept as ``(B, T, H)`` views: no copy) and its input's gradient
        ``(B, T, D)`` (a copy: the tape may add to the array it hands on)."""
        self.h = dh_steps.transpose(2, 1, 0)  # (H, T, B) -> (B, T, H)
        self.c = None if dc_steps is None else dc_steps.transpose(2, 1, 0)
        self.x = None if dx is None else np.array(dx)


class StepGradientRecorder:
    """The records of one :func:`record_step_gradients` context, in the order the ops ran forward."""

    def __init__(self):
        self.records: list = []

    def labelled(self, value) -> list:
        """The records whose label is ``value`` (compared by identity)."""
        return [r for r in self.records if r.label is value]


@contextlib.contextmanager
def record_step_gradients():
    """Record the per-step state gradients of every sequence op run inside (see the module); yields the
    :class:`StepGradientRecorder`. Contexts nest: an op records into the innermost one."""
    recorder = StepGradientRecorder()
    with _LOCK:
        _ACTIVE.append(recorder)
    try:
        yield recorder
    finally:
        with _LOCK:
            _ACTIVE.remove(recorder)


@contextlib.contextmanager
def label(value):
    """Tag the records of the ops this thread runs inside with ``value`` (e.g. the layer that runs them)."""
    stack = _LABELS.__dict__.setdefault("stack", [])
    stack.append(value)
    try:
        yield
    finally:
        stack.pop()


def start(op: str, sizes: tuple) -> StepRecord | None:
    """Called by a sequence op before its forward pass (``sizes``: ``(B, T, D, H)``): a new record when a
    recorder is in force, else None."""
    if not _ACTIVE:
        return None
    stack = getattr(_LABELS, "stack", None)
    record = StepRecord(op, stack[-1] if stack else None, tuple(sizes))
    with _LOCK:
        if not _ACTIVE:
            return None
        _ACTIVE[-1].records.append(record)
    return record


def attach_outputs(record: StepRecord | None, outputs) -> None:
    """Let ``record`` name the op's output sequence tensor (weakly)."""
    if record is not None:
        record._outputs = weakref.ref(outputs)


def step_arrays(record: StepRecord | None, shape: tuple, dtype, count: int) -> list:
    """``count`` arrays ``(H, T, B)`` for an op's loop to record into, or zero-length ones when not recording."""
    if record is None:
        return [np.zeros((0, 0, 0), dtype) for _ in range(count)]
    return [np.zeros(shape, dtype) for _ in range(count)]
