"""Model: a Layer that can be trained, evaluated, saved and summarised.

Three ways to make one, as in Keras:

* **subclassing**: define ``__init__`` (create sub-layers as attributes, after ``super().__init__()``) and
  ``call(inputs, training=False)``; the weights of every layer assigned to ``self`` are the model's;
* **functional**: ``Model(inputs, outputs)`` with ``inputs`` from ``Input(...)`` (see ``functional.py``);
* **Sequential**: a plain stack (see ``sequential.py``).

A model is built lazily by its first call, or explicitly with ``build(input_shape)`` (a zero batch is run
through ``call``), so that ``parameters()`` exists before training, as a PyTorch loop needs.

>>> import numpy as np
>>> from rnnkit.layers import Dense, SimpleRNN
>>> from rnnkit.models import Model
>>> class Classifier(Model):
...     def __init__(self, units=8, classes=3):
...         super().__init__()
...         self.rnn = SimpleRNN(units)
...         self.head = Dense(classes)
...     def call(self, x):
...         return self.head(self.rnn(x))
>>> model = Classifier()
>>> model.build((None, 5, 4))
>>> [w.shape for w in model.parameters()]
[(4, 8), (8, 8), (8,), (8, 3), (3,)]
>>> model(np.zeros((2, 5, 4))).shape
(2, 3)
"""
from __future__ import annotations

import inspect
import json

import numpy as np

from rnnkit.autograd import Tensor, no_grad
from rnnkit.errors import ConfigError
from rnnkit.layers.base import Layer
from rnnkit.models import saving, summary
from rnnkit.models.training import Trainer
from rnnkit.threads import BlasThreads


class Model(Trainer, Layer):
    """Base class of models: a Layer with ``compile`` / ``fit`` / ``evaluate`` / ``predict`` / ``summary`` /
    ``save``.

    Args:
        name: the model's name (default from the class name).
        dtype: float dtype that float inputs are cast to (default ``"float32"``).
        trainable: whether ``fit`` updates the weights.

    ``Model(inputs, outputs, name=None)`` makes a functional model instead.

    >>> from rnnkit.layers import Dense
    >>> class Affine(Model):
    ...     def __init__(self):
    ...         super().__init__(name="affine")
    ...         self.dense = Dense(2)
    ...     def call(self, x):
    ...         return self.dense(x)
    >>> Affine().predict(np.ones((3, 4)), verbose=0).shape
    (3, 2)
    """

    cast_integer_inputs = False  # integer ids stay integers (see Layer.cast_integer_inputs)

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from rnnkit.models.functional import Functional

            return Layer.__new__(Functional)  # Python then runs Functional.__init__(inputs, outputs, ...)
        instance = Layer.__new__(cls)
        object.__setattr__(instance, "_constructor_arguments", (args, kwargs))
        return instance

    def __init__(self, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._init_training_state()
        self._input_spec = None  # [(shape with None batch, dtype name), ...] of the first call, for saving

    # ------------------------------------------------------------------------------------------ calls
    def __call__(self, inputs, *args, mask=None, training=False, **kwargs):
        if not isinstance(inputs, (np.ndarray, Tensor)):  # a structure, which may hold placeholders
            from rnnkit.models.functional import is_symbolic, record_call

            if is_symbolic(inputs):  # a model used as a layer of a functional model
                return record_call(self, inputs, args, dict(kwargs, mask=mask, training=training))
        inputs = self._as_input(inputs)
        if self._call_takes_mask:
            kwargs["mask"] = mask
        if self._call_takes_training:
            kwargs["training"] = training
        if self.built:
            with BlasThreads():  # once for the whole model: its layers' own uses are then nested (cheap)
                return self.call(inputs, *args, **kwargs)
        self.built = True  # sub-layers build themselves during this first call
        try:
            with BlasThreads():
                outputs = self.call(inputs, *args, **kwargs)
        except BaseException:
            self.built = False
            raise
        self._input_spec = input_spec(inputs)
        return outputs

    def build(self, input_shape=None) -> None:
        """Create every weight by running a zero batch of ``input_shape`` (``None`` axes become 1) through
        ``call``. ``input_shape`` may be a list of shapes for a model with several inputs."""
        if input_shape is None:
            input_shape = self._known_input_shape()
            if input_shape is None:
                raise ConfigError(
                    f"model {self.name!r} cannot be built without an input shape: call build(input_shape), e.g. "
                    "build((None, time_steps, features)), or call the model on a batch"
                )
        spec = _spec_from_shape(input_shape, self.dtype)
        self.build_from_spec(spec)

    def build_from_spec(self, spec: list) -> None:
        """Build from ``[(shape, dtype name), ...]`` (one per input), as saved by ``save``."""
        arrays = [_dummy_input(tuple(1 if d is None else int(d) for d in shape), dtype) for shape, dtype in spec]
        with no_grad():
            self.built = False
            self(arrays[0] if len(arrays) == 1 else arrays)
        self._input_spec = [(tuple(shape), str(dtype)) for shape, dtype in spec]

    def _known_input_shape(self):
        """The input shape the model knows without data (``input_shape=`` of a first layer), else None."""
        if self.input_shape_arg is not None:
            return (None,) + tuple(self.input_shape_arg)
        return None

    def _ensure_built(self) -> None:
        if not self.built and self._known_input_shape() is not None:
            self.build()

    # --------------------------------------------------------------------------------------- weights
    @property
    def weights(self) -> list:
        self._ensure_built()
        return Layer.weights.fget(self)

    @property
    def trainable_weights(self) -> list:
        self._ensure_built()
        return Layer.trainable_weights.fget(self)

    def parameters(self) -> list:
        """The trainable weights, for ``Adam(model.parameters(), lr=...)``; the model must be built."""
        self._ensure_built()
        if not self.built:
            raise ConfigError(
                f"model {self.name!r} has no parameters yet: build it first with model.build(input_shape), e.g. "
                "model.build((None, 28, 28)), or call it on a batch"
            )
        return self.trainable_weights

    def get_layer(self, name=None, index=None) -> Layer:
        """A sub-layer by ``name`` or by position ``index`` in ``layers`` (Keras)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ConfigError(f"model {self.name!r} has {len(layers)} layers; got index {index}")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in layers]
        raise ConfigError(f"model {self.name!r} has no layer named {name!r}; its layers: {names}")

    def reset_states(self) -> None:
        """Reset the carried states of every stateful recurrent layer inside the model."""
        stack = list(self.layers)
        while stack:
            layer = stack.pop()
            if getattr(layer, "stateful", False):
                layer.reset_states()
            stack.extend(layer._layers)

    # ----------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """A subclassed model's config: the arguments its constructor was called with (JSON-able ones)."""
        args, kwargs = self.__dict__.get("_constructor_arguments", ((), {}))
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError as error:
            raise ConfigError(f"cannot describe model {self.name!r} by its constructor arguments: {error}") from None
        config = {}
        for key, value in list(bound.arguments.items())[1:]:
            kind = inspect.signature(type(self).__init__).parameters[key].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                raise ConfigError(f"model {self.name!r}: *{key} constructor arguments cannot be saved")
            if kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            else:
                config[key] = value
        try:
            json.dumps(config)
        except TypeError:
            raise ConfigError(
                f"model {type(self).__name__} was constructed with arguments that are not JSON values "
                f"({config!r:.200}); override get_config() / from_config(), or use save_weights()"
            ) from None
        return config

    # -------------------------------------------------------------------------------- summary, saving
    def summary(self, print_fn=print, line_length=None) -> None:
        """Print a table of the layers: name (type), output shape, parameter count; then the totals."""
        summary.print_summary(self, print_fn=print_fn, line_length=line_length)

    def save(self, filepath, overwrite=True) -> None:
        """Write the model (config, weights, compile settings, optimizer state) to one ``.rnnkit`` file; a
        ``.keras`` name writes Keras 3's format instead (docs/interop_keras.md)."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write only the weight arrays (and their names and shapes) to one file; a ``.weights.h5`` name writes
        Keras 3's HDF5 weights."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        """Read weights written by ``save_weights`` (or ``save``) into this model (same architecture)."""
        saving.load_weights(self, filepath)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def input_spec(inputs) -> list:
    """``[(shape with batch None, dtype name), ...]`` of concrete inputs (Tensors or lists of them)."""
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return [((None,) + tuple(x.shape[1:]), "str" if x.dtype.kind in "US" else np.dtype(x.dtype).name)
            for x in items if isinstance(x, Tensor)]


def _dummy_input(shape: tuple, dtype) -> np.ndarray:
    """The batch ``build_from_spec`` runs: zeros, or for texts one-letter strings (a TextVectorization first
    layer then gives one token per row, so that the layers after it see a sequence of length 1, not 0)."""
    if np.dtype(dtype).kind in "US":
        return np.full(shape, "a", dtype=str)
    return np.zeros(shape, dtype=dtype)


def _spec_from_shape(input_shape, dtype) -> list:
    if isinstance(input_shape, (list, tuple)) and input_shape and all(
            isinstance(s, (list, tuple)) for s in input_shape):
        shapes = input_shape  # several inputs
    else:
        shapes = [input_shape]
    spec = []
    for shape in shapes:
        try:
            spec.append((tuple(None if d is None else int(d) for d in shape), np.dtype(dtype).name))
        except (TypeError, ValueError):
            raise ConfigError(f"build() expects a shape such as (None, 28, 28); got {input_shape!r}") from None
    return spec
