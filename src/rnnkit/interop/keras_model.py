"""Sequential and functional model configs between Keras 3 and rnnkit, and where each layer's weights live in
Keras' ``model.weights.h5``.

Keras names a layer's weight group after its *class*, not its name: ``layers/dense/vars/0``,
``layers/dense_1/vars/0`` for the second Dense of the model's ``layers`` list, with the children a layer owns
below it (``cell`` of a recurrent layer, ``forward_layer`` / ``backward_layer`` of ``Bidirectional``, ``layer``
of ``TimeDistributed``). A functional model's ``layers`` list (``InputLayer`` entries included) is in Keras'
graph order: deepest first, then by first visit of a depth-first walk from the outputs. ``keras_layer_order``
computes that order for an rnnkit graph, so that Keras finds each weight where it looks.

>>> from rnnkit.layers import Dense, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(2), Dense(1)])
>>> [(path, [w.shape for w in weights]) for path, _, weights in weight_groups(model)]  # doctest: +NORMALIZE_WHITESPACE
[('layers/lstm/vars', []), ('layers/lstm/cell/vars', [(3, 16), (4, 16), (16,)]),
 ('layers/dense/vars', [(4, 2), (2,)]), ('layers/dense_1/vars', [(2, 1), (1,)])]
"""
from __future__ import annotations

import re

from rnnkit.errors import ConfigError, DataError
from rnnkit.interop.keras_layers import check_class, dtype_from_keras, layer_from_keras, layer_to_keras
from rnnkit.layers.base import Layer

_RECURRENT = ("SimpleRNN", "LSTM", "GRU", "RNN")
_MASK_OPS = ("NotEqual", "Any", "All", "LogicalAnd", "LogicalOr", "Equal", "Cast", "ExpandDims", "Squeeze")


# ---------------------------------------------------------------------------------------- weight layout
def _children(layer) -> list:
    """``(attribute, sub-layer)`` pairs Keras stores below a layer's own ``vars``."""
    name = type(layer).__name__
    if name in _RECURRENT:
        return [("cell", layer.cell)]
    if name == "Bidirectional":
        return [("backward_layer", layer.backward_layer), ("forward_layer", layer.forward_layer)]
    if name == "TimeDistributed":
        return [("layer", layer.layer)]
    if name == "StackedRNNCells":
        cells = [cell for cell in layer.cells if isinstance(cell, Layer)]
        groups = unique_paths([type(cell).__name__ for cell in cells])
        return [(f"cells/{group}", cell) for group, cell in zip(groups, cells)]
    if is_user_layer(layer):
        return _user_children(layer)
    if layer._layers:
        raise ConfigError(f"layer {layer.name!r} ({name}) holds sub-layers that do not convert to Keras files")
    return []


def is_user_layer(layer) -> bool:
    """Whether ``layer`` is of a user-defined class (not one of rnnkit's built-in layer classes)."""
    from rnnkit.layers.registry import _TABLE

    return _TABLE.get(type(layer).__name__) is not type(layer)


def keras_snake_case(name: str) -> str:
    """Keras' ``to_snake_case`` (the group name of a layer class in a weights file): ``MinimalRNNCell`` ->
    ``minimal_rnn_cell``; non-word characters dropped, ``_`` before a capital that starts a lower-case run and
    between a lower-case letter and a capital."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _user_children(layer) -> list:
    """Sub-layers of a user-defined layer where Keras 3 stores them: public attributes in sorted order, each a
    layer (group ``attribute``) or a list / tuple / dict of layers (groups ``attribute/<class>``, ``_1`` ...);
    a sub-layer reached twice is stored once. Sub-layers Keras would reach only through private attributes are
    refused."""
    out, seen = [], set()
    for attribute in sorted(vars(layer)):
        if attribute.startswith("_"):
            continue
        value = getattr(layer, attribute)
        if isinstance(value, Layer):
            if id(value) not in seen:
                seen.add(id(value))
                out.append((attribute, value))
        elif isinstance(value, (list, tuple, dict)):
            items = [v for v in (value.values() if isinstance(value, dict) else value) if isinstance(v, Layer)]
            groups = unique_paths([type(v).__name__ for v in items])
            for group, item in zip(groups, items):
                if id(item) not in seen:
                    seen.add(id(item))
                    out.append((f"{attribute}/{group}", item))
    hidden = [sub.name for sub in layer._layers if id(sub) not in seen]
    if hidden:
        raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}) holds sub-layers {hidden} outside its "
                          "public attributes; Keras files store sub-layers by attribute name, so this does not "
                          "convert (assign them to public attributes)")
    return out


def own_weights(layer) -> list:
    """A layer's own weights in Keras' order: a user layer's trainable ones first, then the others (Keras'
    ``save_own_variables``); built-in layers in their conversion order."""
    weights = list(layer._weights)
    if is_user_layer(layer):
        weights = [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]
    return weights


def layer_groups(layer, path: str, from_file: bool = False):
    """``(h5 group path, layer, own weights)`` for ``layer`` stored at ``path`` and for its children. A model
    inside the model keeps its layers below ``path/layers``, in the order of the file it came from
    (``from_file``, when it has one) or in Keras' order."""
    from rnnkit.models.model import Model

    yield f"{path}/vars", layer, own_weights(layer)
    if isinstance(layer, Model):
        yield from _model_groups(layer, path, from_file)
        return
    for attribute, child in _children(layer):
        yield from layer_groups(child, f"{path}/{attribute}", from_file)


def _model_groups(model, prefix: str, from_file: bool):
    named = getattr(model, "_keras_named", None) if from_file else None
    if named is None:
        layers = keras_layer_list(model)
        named = list(zip(unique_paths(["InputLayer" if layer is None else _keras_class(layer)
                                       for layer in layers]), layers))
    for name, layer in named:
        if layer is not None:
            yield from layer_groups(layer, f"{prefix}/layers/{name}" if prefix else f"layers/{name}", from_file)


def _keras_class(layer) -> str:
    from rnnkit.models.functional import Functional

    return "Functional" if isinstance(layer, Functional) else type(layer).__name__


def unique_paths(class_names: list, case=None) -> list:
    """Keras' group names for a list of layers of these classes: ``dense``, ``dense_1``, ..."""
    used, out = {}, []
    for class_name in class_names:
        base = (case or keras_snake_case)(class_name)
        if base in used:
            used[base] += 1
            out.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            out.append(base)
    return out


def keras_layer_list(model) -> list:
    """The model's layers in Keras' ``model.layers`` order; ``None`` entries stand for the ``InputLayer``s of a
    functional model (they hold no weights)."""
    from rnnkit.models.functional import Functional
    from rnnkit.models.sequential import Sequential

    if isinstance(model, Sequential):
        return list(model.layers)
    if isinstance(model, Functional):
        return [None if kind == "input" else item for kind, item in keras_layer_order(model)]
    raise ConfigError(f"model {model.name!r} is a subclassed model ({type(model).__name__}); only Sequential and "
                      "functional models convert to Keras files (save_weights() to an rnnkit file works for any)")


def weight_groups(model, from_file: bool = False):
    """``(h5 group path, layer, own weights)`` of every layer of ``model`` (built first), in Keras' layout;
    ``from_file``: in the layer order of the ``.keras`` file the model was read from."""
    model._ensure_built()
    yield from _model_groups(model, "", from_file)


# ------------------------------------------------------------------------------------ Keras graph order
def keras_layer_order(model) -> list:
    """``[("input", placeholder) or ("layer", layer), ...]``: the order of a functional model's ``layers`` that
    Keras computes when it rebuilds the model (operations by decreasing depth, then by first visit)."""
    inputs = model._input_list
    producers = {}  # id(placeholder) -> (operation key, node key)
    for i, placeholder in enumerate(inputs):
        producers[id(placeholder)] = (("input", i), ("input", i))
    for node in model._nodes:
        for placeholder in node.output_list():
            producers[id(placeholder)] = (("layer", id(node.layer)), ("node", id(node)))
    node_by_key = {("node", id(n)): n for n in model._nodes}
    parents = {key: [producers[id(p)][1] for p in node.parents()] for key, node in node_by_key.items()}

    finished, in_progress, post_order, first_visit = set(), set(), [], {}

    def visit(placeholder):
        operation, node_key = producers[id(placeholder)]
        if node_key in finished:
            return
        if node_key in in_progress:
            raise ConfigError(f"the graph of model {model.name!r} has a cycle")
        first_visit.setdefault(operation, len(first_visit))
        in_progress.add(node_key)
        if node_key[0] == "node":
            for parent in node_by_key[node_key].parents():
                visit(parent)
        in_progress.discard(node_key)
        finished.add(node_key)
        post_order.append((operation, node_key))

    for output in model.outputs:
        visit(output)
    node_depth, operation_depth = {}, {}
    for operation, node_key in reversed(post_order):
        depth = max(node_depth.setdefault(node_key, 0), operation_depth.get(operation, 0))
        operation_depth[operation] = node_depth[node_key] = depth
        for parent in parents.get(node_key, []):
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for i in range(len(inputs)):  # inputs no output depends on
        if ("input", i) not in operation_depth:
            operation_depth[("input", i)], first_visit[("input", i)] = 0, -1
    ordered = sorted(operation_depth, key=lambda op: (-operation_depth[op], first_visit[op]))
    layers = {id(n.layer): n.layer for n in model._nodes}
    return [("input", inputs[key[1]]) if key[0] == "input" else ("layer", layers[key[1]]) for key in ordered]


# ------------------------------------------------------------------------------------ rnnkit -> Keras config
def _input_layer(name, shape, batch_size, dtype) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": name,
            "config": {"batch_shape": [batch_size, *shape], "dtype": dtype, "sparse": False, "ragged": False,
                       "name": name, "optional": False}}


def _history(name, node_index, tensor_index, placeholder) -> dict:
    return {"class_name": "__keras_tensor__", "config": {
        "shape": list(placeholder.shape), "dtype": placeholder.dtype.name if placeholder.dtype.kind != "U"
        else "string", "keras_history": [name, node_index, tensor_index]}}


def model_to_keras(model) -> dict:
    """The ``config.json`` model entry (``module``, ``class_name``, ``config``) of a Sequential or functional
    rnnkit model."""
    from rnnkit.models.functional import Functional
    from rnnkit.models.sequential import Sequential

    if isinstance(model, Sequential):
        return _sequential_to_keras(model)
    if isinstance(model, Functional):
        return _functional_to_keras(model)
    keras_layer_list(model)  # raises the error for other models
    raise AssertionError  # pragma: no cover


def _entry(layer) -> dict:
    """The config.json entry of a layer, or of a Sequential / functional model used as a layer."""
    from rnnkit.models.model import Model

    if isinstance(layer, Model):
        entry = model_to_keras(layer)
        entry.pop("compile_config", None)
        return entry
    return layer_to_keras(layer)


def _node_offset(layer) -> int:
    """Keras counts a functional model's own graph as its call 0: calls of one used as a layer start at 1."""
    from rnnkit.models.functional import Functional

    return 1 if isinstance(layer, Functional) else 0


def _sequential_to_keras(model) -> dict:
    spec = model._input_spec[0] if model._input_spec else None
    shape = list(model.input_shape_arg) if model.input_shape_arg is not None else (
        list(spec[0][1:]) if spec else None)
    layers = []
    if shape is not None:
        first = model.layers[0] if model.layers else None
        batch = getattr(first, "batch_size", None) or (spec[0][0] if spec else None)
        dtype = model._input_dtype or (spec[1] if spec else model.dtype)
        layers.append(_input_layer(f"input_layer_{model.name}", shape, batch, dtype))
    for layer in model.layers:
        layers.append(_entry(layer))
    config = {"name": model.name, "trainable": model.trainable, "dtype": _policy(model.dtype), "layers": layers}
    if shape is not None:
        config["build_input_shape"] = [None, *shape]
    out = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if shape is not None:
        out["build_config"] = {"input_shape": [None, *shape]}
    return out


def _policy(name):
    from rnnkit.interop.keras_layers import dtype_policy

    return dtype_policy(name)


def _functional_to_keras(model) -> dict:
    from rnnkit.models.functional import SymbolicTensor

    where = {}  # id(placeholder) -> (layer name, node index, tensor index)
    for placeholder in model._input_list:
        where[id(placeholder)] = (placeholder.name, 0, 0)
    calls = {}
    node_index = {}
    for node in model._nodes:
        index = calls.get(id(node.layer), 0)
        calls[id(node.layer)] = index + 1
        node_index[id(node)] = index
        for k, placeholder in enumerate(node.output_list()):
            where[id(placeholder)] = (node.layer.name, index + _node_offset(node.layer), k)

    def encode(structure):
        if isinstance(structure, SymbolicTensor):
            return _history(*where[id(structure)], structure)
        if isinstance(structure, (list, tuple)):
            return [encode(item) for item in structure]
        if isinstance(structure, dict):
            return {key: encode(value) for key, value in structure.items()}
        return structure

    inbound = {}
    for node in model._nodes:
        kwargs = encode(dict(node.kwargs))
        if node.training:
            kwargs["training"] = True
        inbound.setdefault(id(node.layer), []).append({"args": [encode(node.inputs), *encode(list(node.args))],
                                                       "kwargs": kwargs})
    layers = []
    for kind, item in keras_layer_order(model):
        if kind == "input":
            entry = _input_layer(item.name, list(item.shape[1:]), item.batch_size,
                                 "string" if item.dtype.kind == "U" else item.dtype.name)
            entry["inbound_nodes"] = []
        else:
            entry = _entry(item)
            entry["name"] = item.name
            entry["inbound_nodes"] = inbound[id(item)]
        layers.append(entry)

    def reference(placeholder):
        return list(where[id(placeholder)])

    inputs = [reference(p) for p in model._input_list]
    outputs = model._outputs
    output_refs = (reference(outputs) if isinstance(outputs, SymbolicTensor)
                   else [reference(p) for p in outputs])
    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": inputs[0] if model._single_input else inputs, "output_layers": output_refs}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


# ------------------------------------------------------------------------------------ Keras -> rnnkit
def model_from_keras(entry, path):
    """The rnnkit model of a Keras ``config.json`` (``Sequential`` or ``Functional``), not yet holding weights,
    and ``[(keras group name, rnnkit layer or None), ...]`` in the file's layer order."""
    if not isinstance(entry, dict):
        raise DataError(f"{path}: config.json must hold an object; got {type(entry).__name__}")
    class_name = entry.get("class_name")
    config = entry.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ConfigError(f"{path}: config.json describes a {class_name!r} without a 'layers' list; only "
                          "Sequential and functional models convert (subclassed models: rebuild the model in "
                          "rnnkit and load_weights())")
    if class_name == "Sequential":
        return _sequential_from_keras(config, path)
    if class_name in ("Functional", "Model"):
        return _functional_from_keras(config, path)
    raise ConfigError(f"{path}: the model is of class {class_name!r}; only Sequential and functional models "
                      "convert (subclassed models: rebuild the model in rnnkit and load_weights())")


def _sequential_from_keras(config, path):
    from rnnkit.models.functional import Input
    from rnnkit.models.sequential import Sequential

    entries = list(config["layers"])
    items = []
    if entries and isinstance(entries[0], dict) and entries[0].get("class_name") == "InputLayer":
        items.append(_input_from_keras(entries.pop(0), path))
    elif config.get("build_input_shape"):
        shape = config["build_input_shape"]
        items.append(Input(tuple(shape[1:]), batch_size=shape[0]))
    layers = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            raise ConfigError(f"{path}: an InputLayer in the middle of a Sequential model is not supported")
        layers.append(_layer_or_model(entry, path))
    if config.get("dtype"):  # Keras' global default policy: the layers' own dtypes decide (as in rnnkit)
        dtype_from_keras(config.get("dtype"), f"{path}: model {config.get('name')!r}")
    model = Sequential(items + layers, name=config.get("name"), trainable=config.get("trainable", True))
    if items and items[0].batch_size:  # a fixed batch size (stateful layers): build with it
        model.build_from_spec([((items[0].batch_size, *items[0].shape[1:]), items[0].dtype.name)])
    names = unique_paths([_keras_class(layer) for layer in layers])
    model._keras_named = list(zip(names, layers))
    return model, model._keras_named


def _layer_or_model(entry, path):
    """The rnnkit layer of a Keras layer entry; a nested Sequential or functional model becomes one too."""
    if isinstance(entry, dict) and entry.get("class_name") in ("Sequential", "Functional") and \
            str(entry.get("module") or "").startswith("keras"):
        model, _ = model_from_keras(entry, path)
        return model
    return layer_from_keras(entry, path)


def _input_from_keras(entry, path):
    from rnnkit.models.functional import Input

    config = entry.get("config") or {}
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if not isinstance(shape, list) or not shape:
        raise ConfigError(f"{path}: InputLayer {config.get('name')!r} has no batch_shape")
    dtype = dtype_from_keras(config.get("dtype"), f"{path}: InputLayer {config.get('name')!r}", floats_only=False)
    if config.get("sparse") or config.get("ragged"):
        raise ConfigError(f"{path}: InputLayer {config.get('name')!r}: sparse and ragged inputs are not supported")
    if dtype == "string":
        dtype = "str"
    return Input(tuple(shape[1:]), batch_size=shape[0], dtype=dtype, name=config.get("name"))


def _is_operation(entry) -> bool:
    return isinstance(entry, dict) and str(entry.get("module") or "").startswith("keras.src.ops")


def _functional_from_keras(config, path):
    from rnnkit.models.functional import Functional

    entries = config["layers"]
    by_name, created, order = {}, {}, []
    for entry in entries:
        if not isinstance(entry, dict):
            raise DataError(f"{path}: a layer entry of the model is not an object: {entry!r:.100}")
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if name in by_name:
            raise DataError(f"{path}: two layers are named {name!r}")
        by_name[name] = entry
        if entry.get("class_name") == "InputLayer":
            created[name] = _input_from_keras(entry, path)
            order.append((name, "InputLayer", None))
        elif not _is_operation(entry):
            created[name] = _layer_or_model(entry, path)
            order.append((name, _keras_class(created[name]), created[name]))
    outputs_cache = {}  # (layer name, node index) -> list of outputs

    def tensor(history, stack):
        if not (isinstance(history, list) and len(history) == 3):
            raise DataError(f"{path}: malformed tensor reference {history!r:.100}")
        layer_name, node_index, tensor_index = history
        if by_name.get(layer_name, {}).get("class_name") == "InputLayer":
            return created[layer_name]
        node_index = int(node_index) - _node_offset(created.get(layer_name))
        outputs = call(layer_name, node_index, stack)
        return outputs[int(tensor_index)]

    def decode(structure, stack):
        if isinstance(structure, dict):
            if structure.get("class_name") == "__keras_tensor__":
                return tensor((structure.get("config") or {}).get("keras_history"), stack)
            if structure.get("class_name") == "__tuple__":
                return tuple(decode(v, stack) for v in (structure.get("config") or {}).get("value", []))
            return {key: decode(value, stack) for key, value in structure.items()}
        if isinstance(structure, list):
            return [decode(item, stack) for item in structure]
        return structure

    def call(layer_name, node_index, stack):
        key = (layer_name, node_index)
        if key in outputs_cache:
            return outputs_cache[key]
        if key in stack:
            raise DataError(f"{path}: the model graph has a cycle through layer {layer_name!r}")
        entry = by_name.get(layer_name)
        if entry is None:
            raise DataError(f"{path}: a tensor refers to layer {layer_name!r}, which the model does not list")
        if _is_operation(entry):
            check_class(entry, path)  # raises: Keras operations called on tensors do not convert
        nodes = entry.get("inbound_nodes") or []
        if node_index >= len(nodes):
            raise DataError(f"{path}: a tensor refers to call {node_index} of layer {layer_name!r}, which has "
                            f"{len(nodes)}")
        for earlier in range(node_index):  # calls of a shared layer happen in order
            call(layer_name, earlier, stack)
        node = nodes[node_index]
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: layer {layer_name!r} uses the Keras 2 node format, which does not convert")
        args = decode(node.get("args") or [], stack | {key})
        kwargs = dict(node.get("kwargs") or {})
        mask = kwargs.pop("mask", None)
        _check_mask(mask, by_name, layer_name, path)
        training = bool(kwargs.pop("training", False))
        kwargs = decode(kwargs, stack | {key})
        if not args:
            raise DataError(f"{path}: call {node_index} of layer {layer_name!r} has no inputs")
        result = created[layer_name](args[0], *args[1:], training=training, **kwargs)
        outputs_cache[key] = list(result) if isinstance(result, (list, tuple)) else [result]
        return outputs_cache[key]

    def references(structure):
        if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
            return tensor(structure, frozenset())
        if isinstance(structure, list):
            return [references(item) for item in structure]
        if isinstance(structure, dict):
            raise ConfigError(f"{path}: models with dict inputs or outputs do not convert")
        raise DataError(f"{path}: malformed input_layers / output_layers entry {structure!r:.100}")

    inputs = references(config.get("input_layers"))
    outputs = references(config.get("output_layers"))
    model = Functional(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
    unused = [name for name, cls, layer in order if layer is not None and layer not in model.layers]
    if unused:
        raise ConfigError(f"{path}: layers {unused} are not connected to the model's outputs")
    names = unique_paths([cls for _, cls, _ in order])
    model._keras_named = [(group, layer) for group, (_, _, layer) in zip(names, order)]
    return model, model._keras_named


def _check_mask(mask, by_name, layer_name, path) -> None:
    """Keras records the masks it passes between layers (``Masking``, ``Embedding(mask_zero=True)``) as explicit
    ``mask=`` arguments computed by operations; rnnkit passes the same masks along by itself. A mask from
    anywhere else (a model input) does not convert."""
    if mask is None:
        return
    leaves = []

    def walk(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            leaves.append((value.get("config") or {}).get("keras_history") or [None])
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(mask)
    for history in leaves:
        entry = by_name.get(history[0]) or {}
        if not (_is_operation(entry) and entry.get("class_name") in _MASK_OPS):
            raise ConfigError(f"{path}: layer {layer_name!r} is called with an explicit mask from "
                              f"{history[0]!r}; only the masks of Masking and Embedding(mask_zero=True) convert")
