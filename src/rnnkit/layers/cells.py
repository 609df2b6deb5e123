"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, and the owners of their weights.

A cell holds the weights in Keras layout and knows its step arithmetic, which lives in
``rnnkit.ops.recurrent``: ``call(x_t, states)`` runs one step (``*_cell`` ops, for decoders that feed their
outputs back), ``run_sequence(x, states, mask)`` runs a whole sequence with the fused op (``simple_rnn``,
``lstm``, ``gru``) that the recurrent layers use. Both read the same Tensors, so a cell and the layer that
owns it always agree.

Shapes: ``B`` batch, ``T`` time, ``D`` input features, ``H = units``, ``G`` gates (1, 4, 3).
Weights: ``kernel (D, G*H)``, ``recurrent_kernel (H, G*H)``, ``bias (G*H,)`` (GRU with ``reset_after``:
``(2, 3*H)``, row 0 for the input projection, row 1 for the recurrent one).

>>> import numpy as np
>>> from rnnkit.layers import LSTMCell
>>> cell = LSTMCell(3)
>>> h, (h2, c) = cell(np.ones((2, 5)), [np.zeros((2, 3)), np.zeros((2, 3))])
>>> h.shape, c.shape, [w.shape for w in cell.weights]
((2, 3), (2, 3), [(5, 12), (3, 12), (12,)])
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.arguments import activation_name, check_rate, check_units, initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops import cast
from rnnkit.ops.recurrent import get_activation, gru, gru_cell, lstm, lstm_cell, simple_rnn, simple_rnn_cell
from rnnkit.random import generator


def recurrent_activation_name(identifier, argument: str, owner: str) -> str:
    """A Keras activation name that the fused recurrent ops implement, or a ConfigError naming the argument."""
    try:
        return get_activation(activation_name(identifier)).name
    except ConfigError as error:
        raise ConfigError(f"{owner}: {argument}={identifier!r} is not supported: {error}") from None


class RecurrentCell(Layer):
    """Base of the cells: weights, dropout mask, states. Subclasses set ``gates`` and ``state_names`` and
    implement ``step`` and ``sequence`` with the ops of ``rnnkit.ops.recurrent``.

    Args:
        units: ``H``, size of the hidden state.
        activation: ``"tanh"`` (default); ``None`` means linear.
        use_bias: whether to add ``bias`` (default True).
        kernel_initializer: ``"glorot_uniform"``; recurrent_initializer: ``"orthogonal"``;
        bias_initializer: ``"zeros"``.
        dropout: fraction of the input features dropped in training, one mask per sequence (default 0).
        recurrent_dropout: fraction of the state units dropped from the recurrent products in training
            (default 0). As in Keras, each gate then gets its own masks, drawn once per sequence, on the state
            (and, with ``dropout``, on the input) it reads; the state update itself is not masked.
        seed: seed of the dropout masks.

    >>> cell = GRUCell(3)
    >>> [s.shape for s in cell.get_initial_state(2)], cell.state_size
    ([(2, 3)], 3)
    """

    gates = 1
    state_names = ("h",)
    input_ndim = (2,)

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_units(units, "units", owner)
        self.activation = recurrent_activation_name(activation, "activation", owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializer_config(kernel_initializer)
        self.recurrent_initializer = initializer_config(recurrent_initializer)
        self.bias_initializer = initializer_config(bias_initializer)
        self.dropout = check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = check_rate(0.0 if recurrent_dropout is None else recurrent_dropout,
                                            "recurrent_dropout", owner)
        self.seed = seed
        self._rng = generator(seed)
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_size(self):
        """``units`` for one state, a list of them for LSTM (h, c), as Keras."""
        sizes = [self.units] * len(self.state_names)
        return sizes[0] if len(sizes) == 1 else sizes

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self.bias_shape(), self.bias_initializer)

    # ------------------------------------------------------------------------------------------ states
    def get_initial_state(self, batch_size: int) -> list:
        """Zero states, one ``(batch_size, units)`` Tensor per state."""
        return [Tensor(np.zeros((batch_size, self.units)), dtype=self.dtype) for _ in self.state_names]

    def as_states(self, states, batch_size: int, owner: str | None = None) -> list:
        """Check and convert user-given states (a list of arrays/Tensors, or one for a single state)."""
        owner = owner or self.name
        if isinstance(states, (Tensor, np.ndarray)):
            states = [states]
        states = list(states)
        if len(states) != len(self.state_names):
            raise ShapeError(
                f"layer {owner!r} expects {len(self.state_names)} initial state(s) "
                f"({', '.join(self.state_names)}); got {len(states)}"
            )
        out = []
        for name, s in zip(self.state_names, states):
            if not isinstance(s, Tensor):
                s = Tensor(np.asarray(s), dtype=self.dtype)
            elif s.dtype != self.dtype:
                s = cast(s, self.dtype)
            if s.shape != (batch_size, self.units):
                raise ShapeError(
                    f"layer {owner!r}: initial state {name!r} has shape {s.shape}; expected "
                    f"(batch, units) = {(batch_size, self.units)}"
                )
            out.append(s)
        return out

    # ----------------------------------------------------------------------------------------- dropout
    def dropout_mask(self, batch: int, features: int, training: bool):
        """A ``(batch, features)`` keep-mask scaled by ``1 / (1 - dropout)``, or None outside training."""
        if not training or self.dropout == 0.0:
            return None
        keep = self._rng.random((batch, features)) >= self.dropout
        return Tensor(keep / (1.0 - self.dropout), dtype=self.dtype)

    def sequence_dropout(self, batch: int, features: int, training: bool) -> tuple:
        """The dropout masks of one sequence: ``(keep, gate_masks)``. Without ``recurrent_dropout`` (or outside
        training) ``keep`` is :meth:`dropout_mask`, which the caller multiplies into the whole input, and
        ``gate_masks`` is ``(None, None)``. With it (Keras' ``implementation=1``) ``keep`` is None and
        ``gate_masks`` holds one mask per gate for the sequence op: ``(input_masks (G, B, D) or None without
        dropout, recurrent_masks (G, B, H))``, 0 or ``1 / (1 - rate)``. Drawn with the batch on the first axis,
        so that a distributed step draws the global batch's masks and keeps its rows
        (rnnkit.distribution.sharding)."""
        if not training or self.recurrent_dropout == 0.0:
            return self.dropout_mask(batch, features, training), (None, None)
        input_masks = self._gate_masks(batch, features, self.dropout) if self.dropout > 0.0 else None
        return None, (input_masks, self._gate_masks(batch, self.units, self.recurrent_dropout))

    def _gate_masks(self, batch: int, features: int, rate: float):
        """``(G, batch, features)`` keep-masks scaled by ``1 / (1 - rate)``."""
        keep = self._rng.random((batch, self.gates, features)) >= rate  # (B, G, F)
        return (keep / (1.0 - rate)).astype(self.dtype).transpose(1, 0, 2)  # (B, G, F) -> (G, B, F)

    # ------------------------------------------------------------------------------------------- calls
    def call(self, inputs, states, training=False):
        """One step: ``(output, new_states)`` for ``inputs (B, D)`` and a list of ``(B, H)`` states (in training,
        new dropout masks at each call; ``RNN`` and ``StackedRNNCells`` keep one set per sequence)."""
        states = self.as_states(states, inputs.shape[0])
        dp, gate_masks = self.sequence_dropout(inputs.shape[0], inputs.shape[1], training)
        if dp is not None:
            inputs = inputs * dp
        new_states = self.step(inputs, states) if gate_masks[1] is None else self.step(inputs, states, gate_masks)
        return new_states[0], new_states

    def run_sequence(self, x, states: list, mask=None, gate_masks=(None, None)) -> tuple:
        """The whole sequence ``x (B, T, D)`` with the fused op: ``(outputs (B, T, H), final_states)``;
        ``gate_masks``: the recurrent-dropout masks of :meth:`sequence_dropout`."""
        raise NotImplementedError

    def step(self, x_t, states: list, gate_masks=(None, None)) -> list:
        raise NotImplementedError

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
        )
        return config


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN: ``h_t = activation(x_t K + h_{t-1} U + b)``.

    Args: see :class:`RecurrentCell` (``activation`` ``"tanh"`` by default; ``"relu"`` as ``nn.RNN``).

    >>> import numpy as np
    >>> from rnnkit.layers import SimpleRNNCell
    >>> cell = SimpleRNNCell(2, kernel_initializer="ones", recurrent_initializer="ones")
    >>> h, _ = cell(np.array([[0.5]]), [np.zeros((1, 2))])
    >>> np.round(h.numpy(), 4)
    array([[0.4621, 0.4621]], dtype=float32)
    """

    def step(self, x_t, states, gate_masks=(None, None)):
        return [simple_rnn_cell(x_t, states[0], self.kernel, self.recurrent_kernel, self.bias, self.activation,
                                *gate_masks)]

    def run_sequence(self, x, states, mask=None, gate_masks=(None, None)):
        outputs, h = simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                                activation=self.activation, input_masks=gate_masks[0], recurrent_masks=gate_masks[1])
        return outputs, [h]


class LSTMCell(RecurrentCell):
    """One LSTM step, gates ``i, f, c, o`` side by side in the fused weights (Keras order)::

        [i, f, g, o] = x_t K + h_{t-1} U + b        (each (B, H))
        i, f, o = recurrent_activation(i, f, o);  g = activation(g)
        c_t = f * c_{t-1} + i * g;                  h_t = o * activation(c_t)

    Args: those of :class:`RecurrentCell`, plus ``recurrent_activation="sigmoid"`` and
    ``unit_forget_bias=True`` (the forget-gate slice of the bias starts at one).

    >>> from rnnkit.layers import LSTMCell
    >>> LSTMCell(2).state_size
    [2, 2]
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation_name(recurrent_activation, "recurrent_activation",
                                                             type(self).__name__)
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_shape):
        super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            self.bias.data[self.units:2 * self.units] = 1.0  # forget gate f (Keras: ones in that slice)

    def step(self, x_t, states, gate_masks=(None, None)):
        h, c = lstm_cell(x_t, states[0], states[1], self.kernel, self.recurrent_kernel, self.bias,
                         activation=self.activation, recurrent_activation=self.recurrent_activation,
                         input_masks=gate_masks[0], recurrent_masks=gate_masks[1])
        return [h, c]

    def run_sequence(self, x, states, mask=None, gate_masks=(None, None)):
        outputs, h, c = lstm(x, self.kernel, self.recurrent_kernel, self.bias, states[0], states[1], mask=mask,
                             activation=self.activation, recurrent_activation=self.recurrent_activation,
                             input_masks=gate_masks[0], recurrent_masks=gate_masks[1])
        return outputs, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation, unit_forget_bias=self.unit_forget_bias)
        return config


class GRUCell(RecurrentCell):
    """One GRU step, gates ``z, r, h`` side by side in the fused weights (Keras order)::

        z = recurrent_activation(x_t K_z + h U_z + b_z),   r = recurrent_activation(x_t K_r + h U_r + b_r)
        reset_after=True  (cuDNN / PyTorch):  n = activation(x_t K_h + b_h + r * (h U_h + b'_h))
        reset_after=False (original):         n = activation(x_t K_h + (r * h) U_h + b_h)
        h_t = z * h_{t-1} + (1 - z) * n

    Args: those of :class:`RecurrentCell`, plus ``recurrent_activation="sigmoid"`` and ``reset_after=True``
    (then ``bias`` has shape ``(2, 3*units)``: input bias row, recurrent bias row).

    >>> import numpy as np
    >>> from rnnkit.layers import GRUCell
    >>> cell = GRUCell(4)
    >>> h, _ = cell(np.ones((1, 3)), [np.zeros((1, 4))])
    >>> h.shape, cell.bias.shape
    ((1, 4), (2, 12))
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation_name(recurrent_activation, "recurrent_activation",
                                                             type(self).__name__)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(self, x_t, states, gate_masks=(None, None)):
        return [gru_cell(x_t, states[0], self.kernel, self.recurrent_kernel, self.bias, reset_after=self.reset_after,
                         activation=self.activation, recurrent_activation=self.recurrent_activation,
                         input_masks=gate_masks[0], recurrent_masks=gate_masks[1])]

    def run_sequence(self, x, states, mask=None, gate_masks=(None, None)):
        outputs, h = gru(x, self.kernel, self.recurrent_kernel, self.bias, states[0], mask=mask,
                         reset_after=self.reset_after, activation=self.activation,
                         recurrent_activation=self.recurrent_activation, input_masks=gate_masks[0],
                         recurrent_masks=gate_masks[1])
        return outputs, [h]

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation, reset_after=self.reset_after)
        return config
