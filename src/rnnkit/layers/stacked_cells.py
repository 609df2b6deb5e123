"""StackedRNNCells: several recurrent cells run as one, each feeding its output to the next (Keras' class).

``RNN([cell_1, cell_2])`` wraps the list in this class. Its states are a list with one entry per cell: that cell's
state, or its list of states (``LSTMCell``: ``[h, c]``); its output is the last cell's. The cells may be built-in
(``LSTMCell`` ...) or user-defined; the stack runs step by step (see ``rnnkit.layers.cell_rnn``). A built-in
cell's ``dropout`` and ``recurrent_dropout`` draw their masks once per sequence, as Keras (``reset_dropout_mask``
starts new ones).

>>> import numpy as np
>>> from rnnkit.layers import GRUCell, LSTMCell, RNN, StackedRNNCells
>>> cells = StackedRNNCells([LSTMCell(4), GRUCell(3)])
>>> cells.state_size, cells.output_size
([[4, 4], 3], 3)
>>> out, (h1, c1), h2 = RNN(cells, return_state=True)(np.ones((2, 5, 6)))
>>> out.shape, c1.shape, h2.shape
((2, 3), (2, 4), (2, 3))
"""
from __future__ import annotations

from rnnkit import tree
from rnnkit.errors import ConfigError
from rnnkit.layers.base import Layer
from rnnkit.layers.cells import RecurrentCell
from rnnkit.layers.cell_rnn import _takes_training, check_cell, initial_states, state_shapes


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    return cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size


class StackedRNNCells(Layer):
    """A list of cells that behaves as one cell (Keras ``StackedRNNCells``).

    Args:
        cells: the cells, first (reading the input) to last (giving the output).
        **kwargs: the Layer's (name, dtype, trainable).
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ConfigError("StackedRNNCells needs at least one cell; got an empty list")
        for cell in cells:
            check_cell(cell, "StackedRNNCells")
        self.cells = cells
        for cell in cells:
            if isinstance(cell, Layer) and cell not in self._layers:
                self._layers.append(cell)  # their weights are the stack's, in order
        self._dropout_masks = {}  # built-in cell index -> its (keep-mask, gate masks) for the current sequence

    def reset_dropout_mask(self) -> None:
        """Forget the built-in cells' dropout masks: the next step draws new ones (RNN calls this per sequence)."""
        self._dropout_masks = {}

    @property
    def state_size(self) -> list:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None) -> list:
        out = []
        for cell in self.cells:
            states = initial_states(cell, batch_size, self.dtype)
            out.append(states if isinstance(cell.state_size, (list, tuple)) else states[0])
        return out

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell._build_shape = tuple(input_shape)
                cell.built = True
            size = _output_size(cell)
            shape = state_shapes(size, "StackedRNNCells")[0] if size is not None else ()
            input_shape = (tree.flatten(input_shape)[0],) + shape  # (batch, output of this cell)

    def call(self, inputs, states, training=False):
        new_states = []
        for index, (cell, cell_states) in enumerate(zip(self.cells, states)):
            nested = tree.is_nested(cell_states)
            cell_states = list(cell_states) if nested else [cell_states]
            if isinstance(cell, RecurrentCell):  # one set of dropout masks per sequence, not per step
                if index not in self._dropout_masks:
                    self._dropout_masks[index] = cell.sequence_dropout(inputs.shape[0], inputs.shape[1], training)
                keep, gate_masks = self._dropout_masks[index]
                step_args = (inputs if keep is None else inputs * keep, cell.as_states(cell_states, inputs.shape[0]))
                if gate_masks[1] is not None:  # recurrent_dropout in training: masks per gate inside the op
                    step_args += (gate_masks,)
                cell_new = cell.step(*step_args)
                inputs = cell_new[0]
                new_states.append(cell_new if nested else cell_new[0])
                continue
            kwargs = {"training": training} if _takes_training(cell) else {}
            inputs, cell_new = cell.call(inputs, cell_states, **kwargs)
            cell_new = list(cell_new) if tree.is_nested(cell_new) else [cell_new]
            new_states.append(cell_new if nested else cell_new[0])
        return inputs, new_states

    def get_config(self) -> dict:
        from rnnkit.layers.registry import serialize

        config = super().get_config()
        config["cells"] = [serialize(cell) for cell in self.cells]
        return config

    @classmethod
    def from_config(cls, config: dict) -> "StackedRNNCells":
        from rnnkit.layers.registry import deserialize

        config = dict(config)
        return cls([deserialize(spec) for spec in config.pop("cells")], **config)
