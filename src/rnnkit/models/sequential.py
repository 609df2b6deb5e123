"""Sequential: a plain stack of layers, each feeding the next (Keras ``Sequential``).

The input shape comes from the first layer's ``input_shape=`` (or a leading ``Input(shape)``); without one the
model is built by its first batch (``fit``, ``predict``, a call) or by ``build(input_shape)``. The model's
dtype is its first layer's, so a float64 stack runs in float64.

>>> import numpy as np
>>> from rnnkit.layers import Dense, SimpleRNN
>>> from rnnkit.models import Sequential
>>> model = Sequential([SimpleRNN(32, input_shape=(28, 28))])
>>> model.add(Dense(10, activation="softmax"))
>>> model.input_shape, [type(layer).__name__ for layer in model.layers]
((None, 28, 28), ['SimpleRNN', 'Dense'])
>>> model.count_params()  # 28*32 + 32*32 + 32  +  32*10 + 10
2282
"""
from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.layers.base import Layer
from rnnkit.models.functional import SymbolicTensor
from rnnkit.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (a leading ``Input(shape)`` sets the input shape).
        name: the model's name (default ``sequential``, ``sequential_1``, ...).
        dtype: float dtype of the inputs (default: the first layer's dtype).
        trainable: whether ``fit`` updates the weights.

    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> model = Sequential(name="mlp")
    >>> model.add(Dense(4, input_shape=(3,)))
    >>> model.predict(np.ones((2, 3)), verbose=0).shape
    (2, 4)
    """

    def __init__(self, layers=None, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._dtype_given = dtype is not None
        self._input_dtype = None
        if layers is not None:
            if isinstance(layers, (Layer, SymbolicTensor)):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    def add(self, layer) -> None:
        """Append ``layer`` on top of the stack (an ``Input(shape)`` is accepted first, to give the shape)."""
        if isinstance(layer, SymbolicTensor):
            if self._layers or layer.node is not None:
                raise ConfigError("Sequential accepts an Input(...) only as its first entry")
            self.input_shape_arg = tuple(layer.shape[1:])
            self._input_dtype = layer.dtype.name
            if layer.dtype.kind == "f" and not self._dtype_given:
                self.dtype = layer.dtype.name
            return
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential.add() expects a Layer; got {type(layer).__name__}: {layer!r:.100}")
        if layer is self or any(existing is layer for existing in self._layers):
            raise ConfigError(f"layer {layer.name!r} is already in model {self.name!r}; create a new layer instead")
        if not self._layers:
            if not self._dtype_given and self._input_dtype is None:
                self.dtype = layer.dtype
            if self.input_shape_arg is None and layer.input_shape_arg is not None:
                self.input_shape_arg = tuple(layer.input_shape_arg)
        self._layers.append(layer)
        self.built = False  # the new layer is built on the next call (earlier layers keep their weights)
        self._training_cache = None

    def pop(self) -> Layer:
        """Remove and return the top layer."""
        if not self._layers:
            raise ConfigError(f"model {self.name!r} has no layers to pop")
        layer = self._layers.pop()
        self._training_cache = None
        return layer

    @property
    def input_shape(self):
        """``(None, *input_shape)`` when known, else None."""
        shape = self._known_input_shape()
        if shape is None and self._input_spec:
            shape = self._input_spec[0][0]
        return shape

    def _known_input_shape(self):
        if self.input_shape_arg is not None:
            return (None,) + tuple(self.input_shape_arg)
        return None

    def build_from_spec(self, spec: list) -> None:
        if self._input_dtype is not None:  # integer ids declared by Input(dtype=...)
            spec = [(shape, self._input_dtype) for shape, _ in spec]
        super().build_from_spec(spec)

    def call(self, inputs, training=False):
        if not self._layers:
            raise ConfigError(f"Sequential model {self.name!r} has no layers; add some with model.add(layer)")
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    # -------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        from rnnkit.layers.registry import serialize

        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [serialize(layer) for layer in self._layers]}
        if self._dtype_given:
            config["dtype"] = self.dtype
        if self.input_shape_arg is not None and (not self._layers or self._layers[0].input_shape_arg is None):
            config["input_shape"] = list(self.input_shape_arg)
            config["input_dtype"] = self._input_dtype
        return config

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        from rnnkit.layers.registry import deserialize
        from rnnkit.models.functional import Input

        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ConfigError(f"a Sequential config needs a 'layers' list; got {config!r:.200}")
        layers = [deserialize(spec) for spec in config["layers"]]
        if config.get("input_shape") is not None:
            layers.insert(0, Input(tuple(config["input_shape"]), dtype=config.get("input_dtype")))
        return cls(layers, name=config.get("name"), dtype=config.get("dtype"), trainable=config.get("trainable", True))
