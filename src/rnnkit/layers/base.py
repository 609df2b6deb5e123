"""Layer: the base of every building block with weights, as Keras' ``Layer``.

A layer is built lazily: the first call sees the input's shape and ``build(input_shape)`` creates the weights
with ``add_weight``. Later calls are checked against that shape. ``call`` holds the maths; ``__call__``
converts inputs to Tensors of the layer's dtype, builds, passes ``mask`` / ``training`` to ``call`` when its
signature takes them, and attaches the output mask (``compute_mask``) to the output as Keras does.

Sub-layers assigned as attributes are tracked, so ``weights`` of a wrapper (``Bidirectional``) or a model
include theirs. ``parameters()`` and ``zero_grad()`` are the PyTorch spellings for custom training loops.

>>> import numpy as np
>>> from rnnkit.layers.base import Layer
>>> class Scale(Layer):
...     def build(self, input_shape):
...         self.w = self.add_weight("w", (input_shape[-1],), "ones")
...     def call(self, x):
...         return x * self.w
>>> layer = Scale()
>>> layer(np.ones((2, 3))).shape, [w.shape for w in layer.weights]
((2, 3), [(3,)])
"""
from __future__ import annotations

import inspect
import json
import re
from collections import defaultdict

import numpy as np

from rnnkit import initializers
from rnnkit.autograd import Tensor
from rnnkit.backend import as_float_dtype
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.threads import BlasThreads

_name_counts: dict[str, int] = defaultdict(int)


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... as Keras names layers."""
    count = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def snake_case(name: str) -> str:
    """``SimpleRNN`` -> ``simple_rnn``, ``LSTM`` -> ``lstm``, ``MaxPooling2D`` -> ``max_pooling2d`` (as Keras: no
    underscore between a digit and a capital).

    >>> [snake_case(n) for n in ("SimpleRNN", "LSTMCell", "Conv2D", "GlobalAveragePooling2D")]
    ['simple_rnn', 'lstm_cell', 'conv2d', 'global_average_pooling2d']
    """
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _accepts(method, argument: str) -> bool:
    parameters = inspect.signature(method).parameters
    return argument in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class Layer:
    """Base class of layers.

    Args:
        name: unique name; default derived from the class name (``lstm``, ``lstm_1``, ...).
        dtype: float dtype of weights and computation, ``"float32"`` (default) or ``"float64"``.
        trainable: whether the weights are updated by training.
        input_shape: shape of one sample (no batch axis), as Keras' ``input_shape=`` on a first layer.
        input_dim: shorthand for ``input_shape=(input_dim,)``.

    Subclasses set ``input_ndim`` (allowed input ranks, batch axis included) to get rank checks, and
    ``supports_masking = True`` to receive and pass on masks.
    """

    input_ndim: tuple | None = None
    supports_masking = False
    # bool and integer inputs are cast to the layer's float dtype, as Keras does (False: layers that read
    # integer ids, such as Embedding, and containers that leave the casting to the layers inside them)
    cast_integer_inputs = True

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        object.__setattr__(layer, "_auto_config", _auto_config(cls, args, kwargs))
        return layer

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None, input_dim=None, **kwargs):
        if kwargs:
            raise ConfigError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(kwargs)}"
            )
        object.__setattr__(self, "_layers", [])
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = as_float_dtype(dtype).name
        self.trainable = bool(trainable)
        self.built = False
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape_arg = None if input_shape is None else tuple(input_shape)
        self._weights: list[Tensor] = []
        self._build_shape: tuple | None = None
        self._call_takes_mask = _accepts(self.call, "mask")
        self._call_takes_training = _accepts(self.call, "training")

    # ---------------------------------------------------------------------------- sub-layer tracking
    def __setattr__(self, key, value):
        tracked = self.__dict__.setdefault("_layers", []) if key != "_layers" else []
        if isinstance(value, Layer) and key != "_layers" and value not in tracked:
            tracked.append(value)
        elif isinstance(value, (list, tuple)) and not key.startswith("_"):  # self.heads = [Dense(3), Dense(3)]
            tracked.extend(item for item in value if isinstance(item, Layer) and item not in tracked)
        object.__setattr__(self, key, value)

    @property
    def layers(self) -> list:
        """The sub-layers assigned as attributes, in assignment order."""
        return list(self._layers)

    # ------------------------------------------------------------------ functional graph (Keras' names)
    def _first_node(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        return nodes[0]

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call in a functional graph (Keras: the first call's)."""
        from rnnkit.models.functional import flatten

        items = [p for p in flatten(self._first_node("input").inputs) if hasattr(p, "record_call")]
        return items[0] if len(items) == 1 else items

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call in a functional graph (Keras: the first call's)."""
        return self._first_node("output").outputs

    @property
    def input_shape(self):
        """The shape(s) of ``input`` (batch axis None): for layers called in a functional graph."""
        value = self.input
        return [p.shape for p in value] if isinstance(value, list) else value.shape

    @property
    def output_shape(self):
        """The shape(s) of ``output`` (batch axis None): for layers called in a functional graph."""
        value = self.output
        return [p.shape for p in value] if isinstance(value, (list, tuple)) else value.shape

    # -------------------------------------------------------------------------------------- weights
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None) -> Tensor:
        """Create a weight Tensor, register it and return it, with Keras 3's arguments.

        Args:
            shape: the weight's shape (default ``()``, a scalar); may be given as the first positional argument.
            initializer: a name (``"glorot_uniform"``, ``"zeros"``, ``"uniform"``...), an ``rnnkit.initializers``
                object or a callable ``(shape, dtype) -> array``; default ``"glorot_uniform"`` for float weights,
                ``"zeros"`` otherwise.
            dtype: default the layer's dtype.
            trainable: whether training updates it.
            name: the weight's name (keyword only, as Keras 3; shown as ``"layer_name/name"``).
            autocast, aggregation, overwrite_with_gradient: accepted for Keras compatibility (no effect here).
            regularizer, constraint: not supported: anything but None raises a ConfigError.

        The rnnkit layers' own positional form ``add_weight("kernel", shape, initializer)`` (a name first) is
        accepted too.

        >>> layer = Layer(name="probe", dtype="float64")
        >>> w = layer.add_weight(shape=(2, 3), initializer="ones", name="kernel")
        >>> w.name, w.shape, w.dtype.name, len(layer.weights)
        ('probe/kernel', (2, 3), 'float64', 1)
        """
        if args and isinstance(args[0], str):  # rnnkit's internal form: (name, shape, initializer, trainable)
            legacy = dict(zip(("name", "shape", "initializer", "trainable"), args))
            if len(args) > 4 or (name is not None) or (shape is not None and "shape" in legacy):
                raise ConfigError(f"add_weight{args!r}: give shape=, initializer= and name= as keywords")
            name, shape = legacy["name"], legacy.get("shape", shape)
            initializer = legacy.get("initializer", initializer)
            trainable = legacy.get("trainable", trainable)
        elif args:
            if len(args) > 3:
                raise ConfigError(f"add_weight() takes at most 3 positional arguments (shape, initializer, dtype); "
                                  f"got {len(args)}")
            given = dict(zip(("shape", "initializer", "dtype"), args))
            for key, value in given.items():
                if {"shape": shape, "initializer": initializer, "dtype": dtype}[key] is not None:
                    raise ConfigError(f"add_weight(): {key} was given both positionally and as a keyword")
            shape = given["shape"]
            initializer = given.get("initializer", initializer)
            dtype = given.get("dtype", dtype)
        for argument, value in (("regularizer", regularizer), ("constraint", constraint)):
            if value is not None:
                raise ConfigError(f"add_weight(name={name!r}): {argument}={value!r} is not supported in rnnkit; "
                                  f"expected None")
        shape = () if shape is None else ((shape,) if isinstance(shape, int) else tuple(int(n) for n in shape))
        dtype = np.dtype(self.dtype if dtype is None else (as_float_dtype(dtype) if _is_float(dtype) else dtype))
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        value = initializers.get(initializer)(shape, dtype.name if dtype.kind == "f" else self.dtype)
        trainable = bool(trainable) and dtype.kind == "f"
        weight = Tensor(np.asarray(value).astype(dtype, copy=False), requires_grad=trainable, dtype=dtype)
        name = name if name is not None else f"variable_{len(self._weights)}" if self._weights else "variable"
        weight.name = f"{self.name}/{name}"
        weight.trainable = trainable
        self._weights.append(weight)
        return weight

    @property
    def weights(self) -> list:
        """All weight Tensors: this layer's own, then each sub-layer's, in creation order."""
        seen, out = set(), []
        for w in self._own_and_nested_weights():
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    def _own_and_nested_weights(self):
        yield from self._weights
        for layer in self._layers:
            yield from layer.weights

    @property
    def trainable_weights(self) -> list:
        """The weights that training updates (none when ``trainable`` is False)."""
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        nested = [w for layer in self._layers for w in layer.trainable_weights]
        return _unique(own + nested)

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def parameters(self) -> list:
        """PyTorch spelling of ``trainable_weights``."""
        return self.trainable_weights

    def zero_grad(self) -> None:
        """Reset ``.grad`` of every weight, as ``torch.nn.Module.zero_grad()``."""
        for w in self.weights:
            w.grad = None

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def get_weights(self) -> list:
        """Copies of the weight arrays, in ``weights`` order."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, arrays) -> None:
        """Replace the weight values; counts and shapes must match ``get_weights()``."""
        weights = self.weights
        arrays = list(arrays)
        expected = [w.shape for w in weights]
        received = [np.shape(a) for a in arrays]
        if len(arrays) != len(weights) or any(tuple(r) != e for r, e in zip(received, expected)):
            built = "" if self.built else " (the layer is not built yet: call it on an input first)"
            raise ShapeError(
                f"layer {self.name!r} expects {len(weights)} weight arrays with shapes {expected}{built}; "
                f"got {len(arrays)} with shapes {received}"
            )
        for w, a in zip(weights, arrays):
            w.data[...] = np.asarray(a, dtype=w.dtype)

    # ---------------------------------------------------------------------------------------- calls
    def build(self, input_shape: tuple) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included, may be None)."""

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def compute_mask(self, inputs, mask=None):
        """The mask of the output: by default the input mask passes through if masking is supported."""
        return mask if self.supports_masking else None

    def __call__(self, inputs, *args, mask=None, training=False, **kwargs):
        symbolic = getattr(inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs, "record_call", None)
        if symbolic is not None:  # a symbolic input from rnnkit.models.Input: record a graph node, compute nothing
            return symbolic(self, inputs, args, dict(kwargs, mask=mask, training=training))
        inputs = self._as_input(inputs)
        if mask is None and isinstance(inputs, Tensor):
            mask = inputs._keras_mask
        shape = self._input_shape_of(inputs)
        if not self.built:
            self._check_rank(shape)
            self.build(shape)
            self._build_shape = shape
            self.built = True
        else:
            self._check_same_features(shape)
        if self._call_takes_mask:
            kwargs["mask"] = mask
        if self._call_takes_training:
            kwargs["training"] = training
        with BlasThreads():  # rnnkit's BLAS thread count while it computes (rnnkit.threads)
            outputs = self.call(inputs, *args, **kwargs)
        out_mask = self.compute_mask(inputs, mask)
        first = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        if isinstance(first, Tensor):
            first._keras_mask = out_mask
        return outputs

    def _as_input(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return type(inputs)(self._as_input(x) for x in inputs)
        if isinstance(inputs, Tensor):
            if inputs.dtype.kind == "f" and inputs.dtype != self.dtype:
                from rnnkit.ops import cast

                return cast(inputs, self.dtype)
            if inputs.dtype.kind in "biu" and self.cast_integer_inputs and np.dtype(self.dtype).kind == "f":
                cast_tensor = Tensor(inputs.data.astype(self.dtype))  # no gradient flows to integers
                cast_tensor._keras_mask = inputs._keras_mask
                return cast_tensor
            return inputs
        array = np.asarray(inputs)
        if array.dtype.kind == "O" and array.size and isinstance(array.flat[0], (str, bytes)):
            return Tensor(string_array(array))  # texts for a first TextVectorization layer: kept as str
        if array.dtype.kind in "fO" or (array.dtype.kind in "biu" and self.cast_integer_inputs
                                        and np.dtype(self.dtype).kind == "f"):
            return Tensor(array, dtype=self.dtype)
        return Tensor(array)

    @staticmethod
    def _input_shape_of(inputs) -> tuple:
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return tuple(first.shape)

    def _check_rank(self, shape: tuple) -> None:
        if self.input_ndim is not None and len(shape) not in self.input_ndim:
            ranks = " or ".join(str(n) for n in self.input_ndim)
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) expects input of rank {ranks}"
                f"{self._rank_hint()}; got shape {shape} (rank {len(shape)})"
            )

    def _rank_hint(self) -> str:
        return " (batch, time, features)" if self.input_ndim == (3,) else ""

    def _check_same_features(self, shape: tuple) -> None:
        self._check_rank(shape)
        built = self._build_shape
        if built is not None and len(built) == len(shape) and built[-1] != shape[-1]:
            raise ShapeError(
                f"layer {self.name!r} was built for inputs with last axis {built[-1]} (shape {built}); "
                f"got shape {shape}. Create a new layer for inputs of a different feature size"
            )

    # --------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The constructor arguments, JSON-able, so that ``from_config(get_config())`` rebuilds the layer."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        auto = self.__dict__.get("_auto_config")
        if auto is not None and type(self).get_config is Layer.get_config:
            # a user-defined layer without get_config(): its constructor arguments, as Keras 3's auto-config
            takes_kwargs, parameters, arguments = auto
            if not takes_kwargs:
                config = {k: v for k, v in config.items() if k in parameters}
            config.update(arguments)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _auto_config(cls, args, kwargs):
    """``(takes **kwargs, parameter names, JSON-able constructor arguments)`` of a user-defined layer class, or
    None (an rnnkit class, arguments that are not plain JSON values, or a signature that does not bind)."""
    if cls.__module__.startswith("rnnkit.") or cls.get_config is not Layer.get_config:
        return None
    try:
        signature = inspect.signature(cls.__init__)
        bound = signature.bind(None, *args, **kwargs)
        json.dumps([args, kwargs])
    except (TypeError, ValueError):
        return None
    parameters = list(signature.parameters.values())[1:]
    arguments = {}
    for p in parameters:
        if p.name not in bound.arguments:
            continue
        if p.kind is p.VAR_KEYWORD:
            arguments.update(bound.arguments[p.name])
        elif p.kind is p.VAR_POSITIONAL:
            if bound.arguments[p.name]:
                return None  # *args cannot be given back by name
        else:
            arguments[p.name] = bound.arguments[p.name]
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in parameters)
    return takes_kwargs, {p.name for p in parameters}, arguments


def _is_float(dtype) -> bool:
    try:
        return np.dtype(dtype).kind == "f"
    except TypeError:
        return True  # let as_float_dtype name the bad value


def string_array(array: np.ndarray) -> np.ndarray:
    """An object array of ``str`` / ``bytes`` (UTF-8) as a NumPy ``str`` array of the same shape."""
    flat = [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in array.ravel()]
    return np.array(flat, dtype=str).reshape(array.shape)


def _unique(tensors: list) -> list:
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out
