"""The functional API: ``Input`` placeholders, layer calls recorded as a graph, and the ``Functional`` model.

``Input(shape)`` returns a :class:`SymbolicTensor`: a placeholder with a shape (batch axis ``None``) and a
dtype but no values. Calling a layer on it records the call: ``Layer.__call__`` hands the call to
:func:`record_call`, which stores a :class:`Node` (the layer and its arguments, placeholders included) and
returns placeholders for the layer's outputs, one per output when the layer returns a list
(``return_state=True``). ``Model(inputs, outputs)`` then keeps the nodes between them in call order and replays
them on real arrays: any graph of layers, with several inputs and outputs, shared layers and
``initial_state=`` links, as an encoder-decoder needs.

Output shapes are learnt by running each recorded call on two small zero batches (batch and ``None`` axes of
sizes 2 and 3): axes that differ between the two runs are ``None``. This also builds the layer's weights, as
Keras does when a layer is first called on a symbolic input.

>>> import numpy as np
>>> from rnnkit.layers import LSTM, Dense
>>> from rnnkit.models import Input, Model
>>> tokens = Input(shape=(None, 3))
>>> sequence, h, c = LSTM(4, return_sequences=True, return_state=True)(tokens)
>>> sequence.shape, h.shape
((None, None, 4), (None, 4))
>>> model = Model(tokens, Dense(2)(h))
>>> model.predict(np.ones((5, 7, 3)), verbose=0).shape
(5, 2)
"""
from __future__ import annotations

import itertools

import numpy as np

from rnnkit.autograd import Tensor, no_grad
from rnnkit.backend import as_float_dtype
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.models.model import Model  # model.py imports this module only inside functions: no import cycle

_node_counter = itertools.count()
_input_names: dict[str, int] = {}


class SymbolicTensor:
    """A placeholder for a layer's input or output inside a functional graph (Keras' ``KerasTensor``).

    Attributes: ``shape`` (batch axis ``None``), ``dtype``, ``name``, ``node`` (the :class:`Node` that made it,
    None for an ``Input``) and ``index`` (which output of that node).

    >>> x = Input(shape=(28, 28), name="pixels")
    >>> x.shape, x.dtype, x.name
    ((None, 28, 28), dtype('float32'), 'pixels')
    """

    def __init__(self, shape, dtype, name, node=None, index=0, dummies=()):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.node = node
        self.index = index
        self._dummies = dummies  # two concrete Tensors of this placeholder's shape, for shape inference
        self.batch_size = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def input_layer(self):
        """The ``InputLayer`` of an ``Input`` placeholder (made on first use); None for a layer's output."""
        if self.node is not None:
            return None
        layer = self.__dict__.get("_input_layer")
        if layer is None:
            from rnnkit.layers.input_layer import InputLayer

            layer = InputLayer(batch_shape=self.shape, dtype=self.dtype, name=self.name)
            layer._placeholder = self
            self._input_layer = layer
        return layer

    @input_layer.setter
    def input_layer(self, layer) -> None:
        self._input_layer = layer

    def record_call(self, layer, inputs, args, kwargs):
        """Called by ``Layer.__call__`` when its first input is this placeholder."""
        return record_call(layer, inputs, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        raise ConfigError(
            f"{self.name!r} is a symbolic placeholder (from Input) and has no values; call layers on it to build "
            "a graph, then Model(inputs, outputs) and model.predict(arrays)"
        )

    def __repr__(self) -> str:
        return f"<SymbolicTensor name={self.name!r} shape={self.shape} dtype={self.dtype.name}>"


def Input(shape, batch_size=None, dtype=None, name=None) -> SymbolicTensor:
    """A symbolic model input of per-sample ``shape`` (no batch axis; ``None`` for a variable length).

    Args:
        shape: tuple, e.g. ``(28, 28)`` or ``(None, 16)``.
        batch_size: optional fixed batch size (needed by ``stateful`` recurrent layers).
        dtype: ``"float32"`` (default, ``backend.floatx()``), ``"float64"``, or an integer type for token ids.
        name: optional name (default ``input_layer``, ``input_layer_1``, ...).

    >>> Input((None, 16), dtype="int32").shape
    (None, None, 16)
    """
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"Input shape must be a tuple of ints or None; got {shape!r}") from None
    if any(d is not None and d < 0 for d in shape):
        raise ConfigError(f"Input shape must not have negative sizes; got {shape!r}")
    if dtype in ("string", "str", str):  # texts, for a first TextVectorization layer (Keras' dtype="string")
        dtype = np.dtype(str)
    elif dtype is None or np.dtype(dtype).kind == "f":
        dtype = as_float_dtype(dtype)
    else:
        dtype = np.dtype(dtype)
    if name is None:
        count = _input_names.get("input_layer", 0)
        _input_names["input_layer"] = count + 1
        name = "input_layer" if count == 0 else f"input_layer_{count}"
    dummies = tuple(
        Tensor(_dummy(((batch_size or size),) + tuple(size if d is None else d for d in shape), dtype))
        for size in (2, 3)
    )
    placeholder = SymbolicTensor((batch_size,) + shape, dtype, name, dummies=dummies)
    placeholder.batch_size = batch_size
    return placeholder


def _dummy(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """The zeros a placeholder is traced with; for texts one-letter strings (one token each, not none)."""
    return np.full(shape, "a", dtype=str) if dtype.kind == "U" else np.zeros(shape, dtype=dtype)


class Node:
    """One recorded layer call: the layer, its arguments (placeholders inside), and its output placeholders.

    >>> from rnnkit.layers import Dense
    >>> y = Dense(3, name="proj")(Input((2,)))
    >>> y.node.layer.name, y.node.parents()[0].shape
    ('proj', (None, 2))
    """

    def __init__(self, layer, inputs, args, kwargs, training):
        self.layer = layer
        self.inputs, self.args, self.kwargs = inputs, args, kwargs
        self.training = training  # True only when the call forced training=True
        self.order = next(_node_counter)  # creation order: a node always comes after the nodes it reads
        self.outputs = None  # a SymbolicTensor, or a list of them

    def output_list(self) -> list:
        return list(self.outputs) if isinstance(self.outputs, (list, tuple)) else [self.outputs]

    def parents(self) -> list:
        return [p for p in flatten((self.inputs, self.args, self.kwargs)) if isinstance(p, SymbolicTensor)]


# ------------------------------------------------------------------------------------- structures
def flatten(structure) -> list:
    """The leaves of nested lists / tuples / dicts, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    return [structure]


def substitute(structure, values: dict):
    """``structure`` with every placeholder replaced by ``values[id(placeholder)]``."""
    if isinstance(structure, SymbolicTensor):
        return values[id(structure)]
    if isinstance(structure, (list, tuple)):
        return type(structure)(substitute(item, values) for item in structure)
    if isinstance(structure, dict):
        return {key: substitute(item, values) for key, item in structure.items()}
    return structure


def is_symbolic(structure) -> bool:
    return any(isinstance(leaf, SymbolicTensor) for leaf in flatten(structure))


# ------------------------------------------------------------------------------------------ record
def record_call(layer, inputs, args, kwargs) -> object:
    """Record ``layer(inputs, *args, **kwargs)`` on placeholders as a :class:`Node`; return output placeholders."""
    kwargs = dict(kwargs)
    training = bool(kwargs.pop("training", False))
    if kwargs.get("mask", 0) is None:
        kwargs.pop("mask")
    node = Node(layer, inputs, tuple(args), kwargs, training)
    placeholders = node.parents()
    fixed_batch = next((p.batch_size for p in placeholders if p.batch_size), None)
    stateful = bool(getattr(layer, "stateful", False))
    if stateful and fixed_batch is None:
        raise ConfigError(
            f"stateful layer {layer.name!r} needs a fixed batch size in a functional model: use "
            "Input(shape, batch_size=B)"
        )
    runs = []
    for variant in range(1 if stateful else 2):
        values = {id(p): p._dummies[variant] for p in placeholders}
        with no_grad():
            out = layer(substitute(inputs, values), *substitute(node.args, values),
                        **substitute(kwargs, values))
        runs.append(out)
    if stateful:
        layer.reset_states()
    outs = [_as_output_list(run, layer) for run in runs]
    placeholders_out = []
    for index, first in enumerate(outs[0]):
        second = outs[-1][index]
        shape = [a if a == b else None for a, b in zip(first.shape, second.shape)]
        shape[0] = fixed_batch
        name = layer.name if len(outs[0]) == 1 else f"{layer.name}/output_{index}"
        dummies = (first, second) if len(outs) == 2 else (first, first)
        placeholder = SymbolicTensor(shape, first.dtype, name, node=node, index=index, dummies=dummies)
        placeholder.batch_size = fixed_batch
        placeholders_out.append(placeholder)
    node.outputs = type(runs[0])(placeholders_out) if isinstance(runs[0], (list, tuple)) else placeholders_out[0]
    layer.__dict__.setdefault("_inbound_nodes", []).append(node)  # for layer.input / layer.output
    return node.outputs


def _as_output_list(outputs, layer) -> list:
    items = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    for item in items:
        if not isinstance(item, Tensor):
            raise ConfigError(
                f"layer {layer.name!r} returned a {type(item).__name__}; functional models need layers that "
                "return Tensors (or lists of Tensors)"
            )
    return items


# ------------------------------------------------------------------------------------------- graph
def graph_nodes(inputs: list, outputs: list) -> list:
    """The nodes between ``inputs`` and ``outputs``, in call order; checks every output is reachable."""
    input_ids = {id(p) for p in inputs}
    seen, stack = {}, list(outputs)
    while stack:
        placeholder = stack.pop()
        if not isinstance(placeholder, SymbolicTensor):
            raise ConfigError(f"model outputs must come from layers called on Input placeholders; got {placeholder!r}")
        if id(placeholder) in input_ids:
            continue
        node = placeholder.node
        if node is None:
            raise ConfigError(
                f"an output depends on the input {placeholder.name!r}, which is not in the model's inputs "
                f"{[p.name for p in inputs]}"
            )
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node.parents())
    return sorted(seen.values(), key=lambda n: n.order)


def keras_layer_order(inputs: list, outputs: list) -> list:
    """The layers of the graph in Keras' order (``Functional.layers``), ``InputLayer``s included: by depth
    (the longest path to an output), deepest first; layers of equal depth in the order a depth-first walk from
    the outputs first meets them. So ``model.layers[k]`` is the layer Keras would give."""
    input_nodes = {id(p): ("input", p) for p in inputs}

    def node_of(tensor):
        return input_nodes.get(id(tensor)) or tensor.node or ("input", tensor)

    def layer_of(node):
        return node[1].input_layer if isinstance(node, tuple) else node.layer

    def parent_nodes(node):
        return [] if isinstance(node, tuple) else [node_of(p) for p in node.parents()]

    finished, ordered, first_seen = set(), [], {}

    def visit(tensor):  # post-order: a node after every node it reads
        node = node_of(tensor)
        if id(node) in finished:
            return
        first_seen.setdefault(id(layer_of(node)), len(first_seen))
        for parent in (node.parents() if not isinstance(node, tuple) else []):
            visit(parent)
        finished.add(id(node))
        ordered.append(node)

    for output in outputs:
        visit(output)
    in_graph = {id(n) for n in ordered}
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(layer_of(node)), 0))
        layer_depth[id(layer_of(node))] = depth
        layers[id(layer_of(node))] = layer_of(node)
        node_depth[id(node)] = depth
        for parent in parent_nodes(node):
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for p in inputs:  # inputs no output depends on: listed too, as Keras lists them
        layer = p.input_layer
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], first_seen[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]))


def run_graph(nodes: list, inputs: list, values: list, outputs, training: bool):
    """Replay ``nodes`` on concrete ``values`` for the ``inputs`` placeholders; return ``outputs``' values."""
    env = {id(p): v for p, v in zip(inputs, values)}
    for node in nodes:
        result = node.layer(substitute(node.inputs, env), *substitute(node.args, env),
                            training=training or node.training, **substitute(node.kwargs, env))
        results = result if isinstance(result, (list, tuple)) else [result]
        for placeholder, value in zip(node.output_list(), results):
            env[id(placeholder)] = value
    return substitute(outputs, env)


def check_input_count(expected: list, received, owner: str) -> list:
    """``received`` as a list matching the ``expected`` placeholders, with a clear error on a count mismatch."""
    values = list(received) if isinstance(received, (list, tuple)) else [received]
    if len(values) != len(expected):
        raise ShapeError(
            f"model {owner!r} expects {len(expected)} input(s) {[p.name for p in expected]}; got {len(values)}"
        )
    return values


# -------------------------------------------------------------------------------------------- model


class Functional(Model):
    """A model defined by a graph of layer calls from ``Input`` placeholders to outputs; made by
    ``Model(inputs, outputs, name=None)``.

    ``layers`` lists every layer of the graph once in Keras' order, an ``InputLayer`` for each input included
    (``model.layers[k]`` is the layer Keras gives); ``input`` / ``output`` are the placeholders the model was
    made from, and ``model.layers[k].output`` feeds a feature extractor ``Model(model.input, ...)``.

    >>> from rnnkit.layers import Dense
    >>> a, b = Input((3,)), Input((2,))
    >>> model = Model([a, b], [Dense(1)(a), Dense(1)(b)])
    >>> [o.shape for o in model.predict([np.ones((4, 3)), np.ones((4, 2))], verbose=0)]
    [(4, 1), (4, 1)]
    """

    def __init__(self, inputs, outputs, name=None, trainable=True):
        self._input_list = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        for p in self._input_list:
            if not isinstance(p, SymbolicTensor) or p.node is not None:
                raise ConfigError(f"Model inputs must be Input(...) placeholders; got {p!r}")
        float_inputs = [p.dtype for p in self._input_list if p.dtype.kind == "f"]
        super().__init__(name=name, dtype=float_inputs[0] if float_inputs else None, trainable=trainable)
        self._single_input = not isinstance(inputs, (list, tuple))
        self._outputs = outputs
        self._nodes = graph_nodes(self._input_list, flatten(outputs))
        for node in self._nodes:
            if node.layer is self:
                raise ConfigError("a model cannot contain itself")
            if node.layer not in self._layers:
                self._layers.append(node.layer)
        names = [layer.name for layer in self._layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"layer names in a model must be unique; {duplicates} appear more than once")
        self._input_spec = [(p.shape, p.dtype.name) for p in self._input_list]
        self.built = True

    @property
    def inputs(self) -> list:
        return list(self._input_list)

    @property
    def input(self):
        """The input placeholder(s), as given to ``Model`` (one, or a list)."""
        return self._input_list[0] if self._single_input else list(self._input_list)

    @property
    def output(self):
        """The output placeholder(s), as given to ``Model`` (one, or a list)."""
        return self._outputs

    @property
    def layers(self) -> list:
        return keras_layer_order(self._input_list, flatten(self._outputs))

    @property
    def outputs(self) -> list:
        return flatten(self._outputs)

    @property
    def input_shape(self):
        shapes = [p.shape for p in self._input_list]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self):
        return self._outputs.shape if isinstance(self._outputs, SymbolicTensor) else [o.shape for o in self.outputs]

    def _as_input(self, inputs):
        values = check_input_count(self._input_list, inputs, self.name)
        converted = []
        for placeholder, value in zip(self._input_list, values):
            if placeholder.dtype.kind == "f":
                if isinstance(value, Tensor):
                    if value.dtype != placeholder.dtype and value.dtype.kind == "f":
                        from rnnkit.ops import cast

                        value = cast(value, placeholder.dtype)
                    elif value.dtype.kind in "biu":  # bool and integers to a float Input: cast, as Keras
                        value = Tensor(value.data.astype(placeholder.dtype))
                else:
                    value = np.asarray(value)
                    value = Tensor(value, dtype=placeholder.dtype) if value.dtype.kind in "fObiu" else Tensor(value)
            elif not isinstance(value, Tensor):
                value = Tensor(np.asarray(value))
            converted.append(value)
        return converted

    def call(self, inputs, training=False):
        return run_graph(self._nodes, self._input_list, inputs, self._outputs, training)

    # ------------------------------------------------------------------------------------------ config
    def get_config(self) -> dict:
        from rnnkit.layers.registry import serialize

        index = {id(p): {"input": i} for i, p in enumerate(self._input_list)}
        for n, node in enumerate(self._nodes):
            for k, placeholder in enumerate(node.output_list()):
                index[id(placeholder)] = {"node": n, "output": k}
        nodes = []
        for node in self._nodes:
            nodes.append({
                "layer": node.layer.name,
                "inputs": _encode(node.inputs, index, node),
                "args": _encode(list(node.args), index, node),
                "kwargs": _encode(node.kwargs, index, node),
                "training": node.training,
            })
        return {
            "name": self.name,
            "trainable": self.trainable,
            "inputs": [{"name": p.name, "shape": list(p.shape[1:]), "dtype": p.dtype.name,
                        "batch_size": p.batch_size} for p in self._input_list],
            "single_input": self._single_input,
            "layers": [serialize(layer) for layer in self._layers],
            "nodes": nodes,
            "outputs": _encode(self._outputs, index, None),
        }

    @classmethod
    def from_config(cls, config: dict) -> Functional:
        from rnnkit.layers.registry import deserialize

        try:
            inputs = [Input(tuple(spec["shape"]), batch_size=spec.get("batch_size"), dtype=spec["dtype"],
                            name=spec["name"]) for spec in config["inputs"]]
            layers = {}
            for spec in config["layers"]:
                layer = deserialize(spec)
                layers[layer.name] = layer
            results = []
            for node in config["nodes"]:
                layer = layers[node["layer"]]
                outputs = layer(_decode(node["inputs"], inputs, results),
                                *_decode(node["args"], inputs, results),
                                training=bool(node.get("training", False)),
                                **_decode(node["kwargs"], inputs, results))
                results.append(list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])
            outputs = _decode(config["outputs"], inputs, results)
            model_inputs = inputs[0] if config.get("single_input", len(inputs) == 1) else inputs
            return cls(model_inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise ConfigError(f"malformed functional model config: {type(error).__name__}: {error}") from None


def _encode(structure, index: dict, node):
    if isinstance(structure, SymbolicTensor):
        return {"tensor": index[id(structure)]}
    if isinstance(structure, (list, tuple)):
        return [_encode(item, index, node) for item in structure]
    if isinstance(structure, dict):
        return {"dict": {str(k): _encode(v, index, node) for k, v in structure.items()}}
    if structure is None or isinstance(structure, (bool, int, float, str)):
        return structure
    where = f"the call of layer {node.layer.name!r}" if node is not None else "the outputs"
    raise ConfigError(f"{where} has a {type(structure).__name__} argument, which cannot be saved in a config")


def _decode(structure, inputs: list, results: list):
    if isinstance(structure, list):
        return [_decode(item, inputs, results) for item in structure]
    if isinstance(structure, dict):
        if "tensor" in structure:
            ref = structure["tensor"]
            if "input" in ref:
                return inputs[int(ref["input"])]
            return results[int(ref["node"])][int(ref["output"])]
        return {k: _decode(v, inputs, results) for k, v in structure["dict"].items()}
    return structure
