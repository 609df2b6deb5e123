"""RNN: the options every recurrent layer shares, around one fused sequence op run by its cell.

The layer owns a cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) that holds the weights and runs the whole
sequence in one op. The layer adds what Keras' ``RNN`` adds, without copying any gate arithmetic:

- ``mask`` (``(B, T)`` bool, from ``Embedding(mask_zero=True)`` or ``Masking``): a masked step carries the
  state through and outputs zeros (inside the op); trailing steps masked in every sequence of the batch are
  not run at all (their outputs are zeros).
- ``dropout``: in training, one keep-mask per sequence over the input features, shared by every time step.
- ``recurrent_dropout``: in training, masks per gate on the state entering each gate's recurrent product (and, with
  ``dropout``, per gate on the input too), drawn once per call and shared by every time step, inside the op
  (Keras' ``implementation=1``; see ``rnnkit.ops.recurrent.gate_dropout``).
- ``go_backwards``: input and mask are flipped along time before the op; the output sequence is returned in
  processing (reversed) order, as Keras does.
- ``initial_state`` (a list of ``(B, H)`` arrays/Tensors), or ``stateful`` states kept from the previous call
  (detached: truncated back-propagation through time), or zeros.
- ``return_sequences`` (``(B, T, H)`` instead of the last output ``(B, H)``) and ``return_state``
  (``[output, h]``, LSTM ``[output, h, c]``).

``RNN(cell)`` with a user-defined cell (Keras' cell protocol) or a list of cells does not use a fused op: it runs
the cell step by step on the autograd tape, with Keras' masking rules (``rnnkit.layers.cell_rnn``).

Training over one long sequence (a text) with ``stateful=True``: ``rnnkit.text.stream_batches(ids, batch_size,
seq_len)`` cuts it into ``batch_size`` parallel streams laid out so that row ``b`` of batch ``i+1`` continues row
``b`` of batch ``i``; fit with the same ``batch_size``, ``shuffle=False``, and the callback
``rnnkit.text.ResetStatesEachEpoch()`` (zero states at each epoch and validation pass)::

    >>> from rnnkit.layers import Dense, Embedding, LSTM
    >>> from rnnkit.models import Sequential
    >>> from rnnkit.text import ResetStatesEachEpoch, stream_batches
    >>> ids = np.random.default_rng(0).integers(0, 10, size=2001)     # a "text" of 2001 character ids
    >>> x, y = stream_batches(ids, batch_size=8, seq_len=25)          # y: the next character of each x
    >>> model = Sequential([Embedding(10, 8), LSTM(32, return_sequences=True, stateful=True),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> _ = model.fit(x, y, batch_size=8, shuffle=False, epochs=1, verbose=0, callbacks=[ResetStatesEachEpoch()])
    >>> model.layers[1].states[0].shape                               # carried into the next batch
    (8, 32)

>>> import numpy as np
>>> from rnnkit.layers import GRU
>>> layer = GRU(4, return_sequences=True, return_state=True)
>>> seq, h = layer(np.ones((2, 5, 3)))
>>> seq.shape, h.shape, bool(np.allclose(seq.numpy()[:, -1], h.numpy()))
((2, 5, 4), (2, 4), True)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit import tree
from rnnkit.layers import cell_rnn
from rnnkit.layers.arguments import as_mask
from rnnkit.layers.base import Layer, snake_case
from rnnkit.layers.cells import RecurrentCell
from rnnkit.layers.stacked_cells import StackedRNNCells
from rnnkit.ops import concat, flip

_LAYER_ARGS = ("name", "dtype", "trainable", "input_shape", "input_dim")
_CELL_ATTRIBUTES = ("units", "activation", "recurrent_activation", "use_bias", "kernel", "recurrent_kernel", "bias",
                    "kernel_initializer", "recurrent_initializer", "bias_initializer", "unit_forget_bias",
                    "reset_after", "dropout", "recurrent_dropout", "seed", "state_size")


def trim_padding(inputs, mask) -> tuple:
    """``(inputs, mask, count)`` without the last ``count`` time steps when they are masked in every sequence of
    the batch (the padding of the longest one): a masked step only carries the state and outputs zeros, so the
    op need not run it. Nothing is trimmed without a mask or when every step is masked."""
    if mask is None:
        return inputs, mask, 0
    used = np.flatnonzero(mask.any(axis=0))  # time steps with at least one real element
    if not len(used) or used[-1] == mask.shape[1] - 1:
        return inputs, mask, 0
    length = int(used[-1]) + 1
    return inputs[:, :length], mask[:, :length], mask.shape[1] - length


def hold_masked_outputs(outputs, mask):
    """Keras' ``zero_output_for_mask=False``: each masked step of ``outputs (B, T, H)`` repeats the output of the
    last unmasked step before it (zeros before the first); ``mask (B, T)`` is in the order of ``outputs``.

    >>> out = hold_masked_outputs(Tensor(np.arange(1.0, 4.0).reshape(1, 3, 1)), np.array([[False, True, False]]))
    >>> out.numpy().ravel()
    array([0., 2., 2.], dtype=float32)
    """
    if mask.all():
        return outputs
    steps = mask.shape[1]
    last = np.maximum.accumulate(np.where(mask, np.arange(steps), -1), axis=1)  # (B, T): the step each one shows
    rows = np.arange(mask.shape[0])[:, None]  # (B, 1)
    held = outputs[rows, np.maximum(last, 0)]  # (B, T, H)
    return held * (last >= 0)[:, :, None].astype(outputs.dtype)


class RNN(Layer):
    """Base of ``SimpleRNN``, ``LSTM``, ``GRU`` (subclasses only name their ``cell_class``), and Keras'
    ``RNN(cell)`` wrapper when given a cell instance.

    Args:
        units: size of the hidden state ``H`` (subclasses), or for ``RNN(cell)`` a cell: ``SimpleRNNCell`` /
            ``LSTMCell`` / ``GRUCell`` (run by their fused sequence ops), any object following Keras' cell
            protocol (run step by step on the tape, see ``rnnkit.layers.cell_rnn``), or a list of cells
            (stacked, ``StackedRNNCells``).
        return_sequences: return the whole output sequence ``(B, T, H)`` (default: the last output ``(B, H)``).
        return_state: also return the final states: ``[output, h]`` (LSTM ``[output, h, c]``).
        go_backwards: process the sequence from its end; the output sequence comes back reversed.
        stateful: keep the final states of a call as the initial states of the next (fixed batch size); for a
            long text see ``rnnkit.text.stream_batches`` and the example at the top of this module.
        unroll: accepted for Keras compatibility and ignored (the loop is a fused op, or a Python loop).
        batch_input_shape: ``(batch, time, features)`` as Keras 2 stateful layers take it: fixes the batch size.
        zero_output_for_mask: with ``return_sequences`` and a mask, a masked step outputs zeros (True, and the
            default None: rnnkit's behaviour, Keras' inside ``Bidirectional``) or repeats the last unmasked output
            (False, Keras' default for a plain layer; zeros before the first unmasked step).
        **kwargs: the cell's arguments (activation, initializers, dropout, seed, ...) and the Layer's.

    Call: ``layer(x, mask=None, initial_state=None, training=False)`` with ``x (B, T, D)``; ``x`` may also be
    a list ``[x, *initial_states]`` as in Keras.

    >>> from rnnkit.layers import LSTM
    >>> layer = LSTM(2, stateful=True)
    >>> _ = layer(np.ones((1, 3, 4))); [s.shape for s in layer.states]
    [(1, 2), (1, 2)]
    >>> layer.reset_states(); layer.states is None
    True
    >>> from rnnkit.layers import RNN, GRUCell
    >>> RNN(GRUCell(3), return_sequences=True)(np.ones((2, 4, 1))).shape
    (2, 4, 3)
    """

    cell_class: type = None
    input_ndim = (3,)
    supports_masking = True

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, batch_input_shape=None, zero_output_for_mask=None, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_ARGS if k in kwargs}
        if self.cell_class is None and isinstance(units, (list, tuple)):
            units = StackedRNNCells(units, dtype=layer_kwargs.get("dtype") or getattr(units[0], "dtype", None))
        if self.cell_class is None and not isinstance(units, RecurrentCell):
            if isinstance(units, (int, float, str)) or units is None:
                raise ConfigError(f"RNN expects a cell (SimpleRNNCell, LSTMCell, GRUCell, a user-defined cell or a "
                                  f"list of cells) as first argument; got {units!r}")
            cell_rnn.check_cell(units, type(self).__name__)
        given_cell = units if self.cell_class is None or isinstance(units, RecurrentCell) else None
        if given_cell is not None:
            if self.cell_class is not None or kwargs:
                raise ConfigError(f"{type(self).__name__}: a cell instance is only accepted by RNN(cell), with the "
                                  f"cell's arguments given to the cell; got extra arguments {sorted(kwargs)}")
            layer_kwargs.setdefault("dtype", getattr(given_cell, "dtype", None))
        if batch_input_shape is not None:
            layer_kwargs.setdefault("input_shape", tuple(batch_input_shape[1:]))
        super().__init__(**layer_kwargs)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = None if zero_output_for_mask is None else bool(zero_output_for_mask)
        self._fused = given_cell is None or isinstance(given_cell, RecurrentCell)  # else: step by step on the tape
        if given_cell is not None:
            if getattr(given_cell, "dtype", self.dtype) != self.dtype:
                raise ConfigError(f"RNN: the cell's dtype {given_cell.dtype!r} differs from the layer's {self.dtype!r}")
            self.cell = given_cell
        else:
            try:
                self.cell = self.cell_class(units, name=f"{self.name}/{snake_case(self.cell_class.__name__)}",
                                            dtype=self.dtype, trainable=self.trainable, **kwargs)
            except ConfigError as error:
                raise ConfigError(f"{type(self).__name__}: {error}") from None
        self.states = None  # stateful: the (B, H) Tensors carried to the next call
        self.batch_size = None if batch_input_shape is None else int(batch_input_shape[0])
        self._state_batch = self.batch_size

    def __getattr__(self, key):
        # Keras users read layer.units, layer.kernel, ...: these live on the cell.
        if key in _CELL_ATTRIBUTES and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], key)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def build(self, input_shape):
        if not self._fused:
            return self._build_cell(input_shape)
        step_shape = input_shape[:1] + input_shape[2:]  # (B, D): one time step
        if self.cell.built:  # RNN(cell) with a cell already used on its own
            self.cell._check_same_features(step_shape)
            return
        self.cell.build(step_shape)
        self.cell._build_shape = step_shape
        self.cell.built = True

    def _build_cell(self, input_shape):
        if self._nested_shape(input_shape):  # nested sequences: each (B, T, ...) -> (B, ...)
            step_shape = type(input_shape)(tuple(s[:1]) + tuple(s[2:]) for s in input_shape)
        else:
            step_shape = tuple(input_shape[:1]) + tuple(input_shape[2:])  # (B, ...): one time step
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell._build_shape = step_shape
            self.cell.built = True

    def fresh_copy(self, **overrides) -> "RNN":
        """A new layer with this one's settings (``overrides`` replacing some) around a new, unbuilt copy of its
        cell, made with the cell's own ``get_config`` / ``from_config`` (no registration needed): how
        ``Bidirectional`` makes its two directions from ``RNN(user_cell)``."""
        settings = dict(return_sequences=self.return_sequences, return_state=self.return_state,
                        go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                        zero_output_for_mask=self.zero_output_for_mask, dtype=self.dtype)
        settings.update(overrides)
        return type(self)(_fresh_cell(self.cell), **settings)

    # ------------------------------------------------------------------- user-defined cells: nested inputs
    @staticmethod
    def _nested_shape(shape) -> bool:
        return bool(shape) and isinstance(shape[0], (tuple, list))

    def _split_inputs(self, inputs):
        """``(sequences, initial_states or None)`` of a list input: ``[x, *initial_states]`` as Keras 2, or for a
        user-defined cell a tuple of sequences (nested input) when the items after the first are not the
        cell's states."""
        if not isinstance(inputs, (list, tuple)):
            return inputs, None
        if self._fused or len(inputs) < 2:
            return inputs[0], (list(inputs[1:]) or None)
        first = inputs[0]
        batch = np.shape(first)[0]
        try:
            zeros = tree.flatten(cell_rnn.initial_states(self.cell, batch, self.dtype))
        except Exception:  # noqa: BLE001  (a cell whose state_size cannot make zeros: not the state form)
            zeros = []
        rest = list(inputs[1:])
        if len(rest) == len(zeros) and all(np.shape(r) == z.shape for r, z in zip(rest, zeros)):
            return first, rest
        return inputs, None

    def _input_shape_of(self, inputs) -> tuple:
        if self._fused or not isinstance(inputs, (list, tuple)):
            return Layer._input_shape_of(inputs)
        sequences, _ = self._split_inputs(inputs)
        if isinstance(sequences, (list, tuple)):
            return type(sequences)(tuple(s.shape) for s in sequences)
        return tuple(sequences.shape)

    def _check_rank(self, shape: tuple) -> None:
        if not self._nested_shape(shape):
            return super()._check_rank(shape)
        for item in shape:
            if len(item) < 3 or tuple(item[:2]) != tuple(shape[0][:2]):
                raise ShapeError(f"layer {self.name!r}: nested input sequences must each have shape (batch, time, "
                                 f"...) with the same batch and time; got shapes {list(shape)}")

    def _check_same_features(self, shape: tuple) -> None:
        if not self._nested_shape(shape) and not self._nested_shape(self._build_shape or ()):
            return super()._check_same_features(shape)
        self._check_rank(shape)
        built = self._build_shape
        if [tuple(s[2:]) for s in built] != [tuple(s[2:]) for s in shape]:
            raise ShapeError(f"layer {self.name!r} was built for input sequences of shapes {list(built)}; got "
                             f"{list(shape)}")

    def _call_cell(self, inputs, mask, training, initial_state):
        sequences, given = self._split_inputs(inputs)
        if given and initial_state is None:
            initial_state = given
        first = tree.flatten(sequences)[0]
        if mask is None:
            mask = next((x._keras_mask for x in tree.flatten(sequences) if x._keras_mask is not None), None)
        batch = first.shape[0]
        if self.stateful:
            self._check_state_batch(batch)
        if initial_state is not None:
            states = cell_rnn.given_states(self, initial_state, batch)
        elif self.stateful and self.states is not None:
            states = self.states
        else:
            states = cell_rnn.initial_states(self.cell, batch, self.dtype)
        last, sequence, final = cell_rnn.run(self, sequences, states, mask, training)
        if self.stateful:
            self.states = tree.map_structure(lambda s: Tensor(s.data.copy(), dtype=s.dtype), final)
        output = sequence if self.return_sequences else last
        return [output, *final] if self.return_state else output

    # ----------------------------------------------------------------------------------------------- call
    def call(self, inputs, mask=None, training=False, initial_state=None):
        if not self._fused:
            return self._call_cell(inputs, mask, training, initial_state)
        if isinstance(inputs, (list, tuple)):
            inputs, *given = inputs
            if given and initial_state is None:
                initial_state = given
            if mask is None:
                mask = inputs._keras_mask
        batch, steps, features = inputs.shape
        mask = as_mask(mask, batch, steps, self.name)
        full_mask = mask
        states = self._initial_states(batch, initial_state)
        keep, gate_masks = self.cell.sequence_dropout(batch, features, training)
        if keep is not None:
            inputs = inputs * keep.data[:, None, :]  # (B, 1, D): one mask per sequence, shared across time
        inputs, mask, padding = trim_padding(inputs, mask)
        if self.go_backwards:
            inputs = flip(inputs, 1)  # (B, T, D) in processing order
            mask = None if mask is None else mask[:, ::-1]
        if gate_masks[1] is None:
            outputs, final = self.cell.run_sequence(inputs, states, mask)
        else:  # recurrent_dropout in training: masks per gate inside the op
            outputs, final = self.cell.run_sequence(inputs, states, mask, gate_masks=gate_masks)
        if padding and self.return_sequences:  # the trimmed steps output zeros, as masked steps do
            zeros = Tensor(np.zeros((batch, padding, outputs.shape[2]), dtype=outputs.dtype))
            outputs = concat([zeros, outputs] if self.go_backwards else [outputs, zeros], axis=1)
        if self.zero_output_for_mask is False and self.return_sequences and full_mask is not None:
            outputs = hold_masked_outputs(outputs, full_mask[:, ::-1] if self.go_backwards else full_mask)
        if self.stateful:
            self.states = [Tensor(s.data.copy(), dtype=s.dtype) for s in final]  # detached: truncated BPTT
        output = outputs if self.return_sequences else final[0]
        return [output, *final] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        if isinstance(inputs, (list, tuple)) and mask is None:
            mask = tree.flatten(inputs)[0]._keras_mask
        return mask if self.return_sequences else None

    # --------------------------------------------------------------------------------------------- states
    def _check_state_batch(self, batch: int) -> None:
        if self._state_batch is None:
            self._state_batch = batch
        elif batch != self._state_batch:
            raise ShapeError(
                f"stateful layer {self.name!r} was used with batch size {self._state_batch}; got batch size "
                f"{batch}. A stateful RNN needs the same batch size on every call (samples of a batch "
                "continue the sequences of the previous batch)"
            )

    def _initial_states(self, batch: int, initial_state) -> list:
        if self.stateful:
            self._check_state_batch(batch)
        if initial_state is not None:
            return self.cell.as_states(initial_state, batch, self.name)
        if self.stateful and self.states is not None:
            return self.states
        return [None] * len(self.cell.state_names)  # zeros: the sequence ops make them (no Tensors to create)

    def reset_states(self, states=None) -> None:
        """Stateful layers: set the carried states to zeros, or to ``states`` (a list of ``(B, H)`` arrays)."""
        if not self.stateful:
            raise ConfigError(f"layer {self.name!r}: reset_states() needs stateful=True; got stateful=False")
        if states is None:
            self.states = None  # zeros at the next call
            return
        batch = np.shape(tree.flatten(states)[0])[0]
        if self._state_batch is not None and batch != self._state_batch:
            raise ShapeError(
                f"stateful layer {self.name!r} has batch size {self._state_batch}; reset_states() got states "
                f"with batch size {batch}"
            )
        self._state_batch = batch
        if not self._fused:
            self.states = tree.map_structure(lambda s: Tensor(s.data.copy(), dtype=s.dtype),
                                             cell_rnn.given_states(self, states, batch))
            return
        self.states = [Tensor(s.data.copy(), dtype=s.dtype) for s in self.cell.as_states(states, batch, self.name)]

    # --------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = super().get_config()
        if self.cell_class is None:  # RNN(cell): the cell is saved whole (a user cell under its registered name)
            from rnnkit.layers.registry import serialize

            config["cell"] = serialize(self.cell)
            config["zero_output_for_mask"] = self.zero_output_for_mask
        else:
            cell_config = self.cell.get_config()
            for key in ("name", "trainable", "dtype"):
                cell_config.pop(key)
            config.update(cell_config)
        config.update(return_sequences=self.return_sequences, return_state=self.return_state,
                      go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll)
        if self.zero_output_for_mask is not None:
            config["zero_output_for_mask"] = self.zero_output_for_mask
        if self.batch_size is not None:
            config["batch_input_shape"] = [self.batch_size, *config.pop("input_shape")]
        return config

    @classmethod
    def from_config(cls, config: dict) -> "RNN":
        config = dict(config)
        if "cell" in config:
            from rnnkit.layers.registry import deserialize

            return cls(deserialize(config.pop("cell")), **config)
        return cls(**config)


def _fresh_cell(cell):
    """An unbuilt copy of ``cell`` (a stack copies each of its cells)."""
    if isinstance(cell, StackedRNNCells):
        return StackedRNNCells([_fresh_cell(c) for c in cell.cells], dtype=cell.dtype)
    if isinstance(cell, Layer):
        config = dict(cell.get_config())
        config.pop("name", None)  # a new name, as a new layer gets
        return type(cell).from_config(config)
    import copy

    return copy.deepcopy(cell)
