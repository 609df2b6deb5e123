"""Bidirectional: run a recurrent layer forwards and a copy of it backwards, and merge the two outputs.

The backward layer is rebuilt from the layer's config with ``go_backwards`` flipped (Keras names them
``forward_<name>`` and ``backward_<name>``). Its output sequence, which comes back in processing order, is
reversed again along time so both directions line up before merging.

With a right-padded mask the backward direction sees, after the flip, the padding first (masked: the state
stays at its initial value, the outputs are zero) and then the valid steps in reverse, so it reads each
sequence's valid steps only, exactly as PyTorch's packed sequences.

>>> import numpy as np
>>> from rnnkit.layers import Bidirectional, LSTM
>>> layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode="concat")
>>> layer(np.ones((2, 5, 4))).shape, [w.shape for w in layer.weights][:3]
((2, 5, 6), [(4, 12), (3, 12), (12,)])
>>> layer.forward_layer.name.startswith("forward_lstm"), layer.backward_layer.go_backwards
(True, True)
"""
from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.layers.base import Layer
from rnnkit.layers.recurrent import RNN
from rnnkit.ops import concat, flip
from rnnkit.threads import run_pair

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Bidirectional wrapper for ``SimpleRNN``, ``LSTM`` and ``GRU`` (Keras ``Bidirectional``).

    Args:
        layer: the recurrent layer to copy for each direction (its config is used; its weights are not).
        merge_mode: ``"concat"`` (default, ``(..., 2H)``), ``"sum"``, ``"mul"``, ``"ave"``, or None
            (the call returns ``[forward_output, backward_output]``).

    Call: ``layer(x, mask=None, initial_state=None, training=False)``; ``initial_state`` is the forward
    states followed by the backward states. With ``return_state`` the call returns
    ``[output, *forward_states, *backward_states]``. Weights: the forward layer's, then the backward layer's.

    >>> import numpy as np
    >>> from rnnkit.layers import GRU
    >>> out, h_forward, h_backward = Bidirectional(GRU(2, return_state=True), merge_mode="sum")(np.ones((1, 3, 4)))
    >>> out.shape, h_forward.shape, h_backward.shape
    ((1, 2), (1, 2), (1, 2))
    """

    cast_integer_inputs = False  # integer ids stay integers (see Layer.cast_integer_inputs)

    input_ndim = (3,)
    supports_masking = True

    def __init__(self, layer, merge_mode="concat", **kwargs):
        if not isinstance(layer, RNN):
            raise ConfigError(
                f"Bidirectional expects a recurrent layer (SimpleRNN, LSTM, GRU); got {type(layer).__name__}"
            )
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"Bidirectional: unknown merge_mode {merge_mode!r}; expected one of {MERGE_MODES}")
        kwargs.setdefault("dtype", layer.dtype)
        if layer.input_shape_arg is not None:
            kwargs.setdefault("input_shape", layer.input_shape_arg)  # Keras: a first layer's wrapper takes it
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        if not layer._fused:  # RNN(user-defined cell): copies through the cell's own config, no registry needed
            object.__setattr__(self, "_layer_spec", None)
            object.__setattr__(self, "_template", layer)
            self.forward_layer = layer.fresh_copy(name=f"forward_{layer.name}", dtype=self.dtype)
            self.backward_layer = layer.fresh_copy(name=f"backward_{layer.name}", dtype=self.dtype,
                                                   go_backwards=not layer.go_backwards)
            self.return_sequences, self.return_state, self.stateful = (layer.return_sequences, layer.return_state,
                                                                      layer.stateful)
            return
        config = layer.get_config()
        config.pop("input_shape", None)
        object.__setattr__(self, "_layer_spec", {"class_name": type(layer).__name__, "config": config})
        self.forward_layer = type(layer).from_config(dict(config, name=f"forward_{config['name']}",
                                                          dtype=self.dtype))
        self.backward_layer = type(layer).from_config(dict(config, name=f"backward_{config['name']}",
                                                           dtype=self.dtype, go_backwards=not layer.go_backwards))
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful

    def build(self, input_shape):
        for direction in (self.forward_layer, self.backward_layer):
            direction.build(input_shape)
            direction._build_shape = input_shape
            direction.built = True

    def call(self, inputs, mask=None, training=False, initial_state=None):
        forward_state = backward_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            if len(initial_state) % 2:
                raise ConfigError(
                    f"layer {self.name!r}: initial_state must list the forward states then the backward states "
                    f"(an even number); got {len(initial_state)}"
                )
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        def forward():
            return self.forward_layer(inputs, mask=mask, training=training, initial_state=forward_state)

        def backward():
            return self.backward_layer(inputs, mask=mask, training=training, initial_state=backward_state)

        if self.forward_layer._fused and self.backward_layer._fused:  # compiled loops: at once when rnnkit may
            y, y_rev = run_pair(forward, backward)  # use two threads (rnnkit.threads); the same results either way
        else:  # a user cell's steps are Python: no gain from a second thread
            y, y_rev = forward(), backward()
        states = []
        if self.return_state:
            y, *forward_states = y
            y_rev, *backward_states = y_rev
            states = forward_states + backward_states
        if self.return_sequences:
            y_rev = flip(y_rev, 1)  # (B, T, H) back in input time order
        output = self._merge(y, y_rev)
        if self.merge_mode is None and self.return_sequences:
            y_rev._keras_mask = mask
        return (output if isinstance(output, list) else [output]) + states if self.return_state else output

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return concat([y, y_rev], axis=-1)  # (..., 2H)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "mul":
            return y * y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) * 0.5
        return [y, y_rev]

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def reset_states(self, states=None) -> None:
        """Reset both directions (``states``: forward states then backward states, or None for zeros)."""
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        half = len(states) // 2
        self.forward_layer.reset_states(list(states[:half]))
        self.backward_layer.reset_states(list(states[half:]))

    def get_config(self):
        config = super().get_config()
        if self._layer_spec is None:  # a user cell: saved under its registered name (an error if it has none)
            from rnnkit.layers.registry import serialize

            spec = serialize(self._template)
            spec["config"].pop("input_shape", None)
        else:
            spec = dict(self._layer_spec)
        config.update(layer=spec, merge_mode=self.merge_mode)
        return config

    @classmethod
    def from_config(cls, config):
        from rnnkit.layers.registry import deserialize

        config = dict(config)
        if "layer" not in config:
            raise ConfigError("Bidirectional config needs a 'layer' entry ({'class_name', 'config'}); got none")
        layer = deserialize(config.pop("layer"))
        return cls(layer, **config)
