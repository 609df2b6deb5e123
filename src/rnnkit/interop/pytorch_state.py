"""PyTorch state dicts (name -> NumPy array) to and from rnnkit layers and Sequential models.

``from_state_dict(state_dict, architecture=None)`` builds a ``Sequential`` of ``Embedding`` / ``SimpleRNN`` /
``LSTM`` / ``GRU`` / ``Bidirectional`` / ``Dense`` (+ ``Dropout`` / ``Masking``) from the state dict of a module
made of ``nn.Embedding``, ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and ``nn.Linear`` (``architecture``: see
``rnnkit.interop.pytorch_architecture``; not needed for a lone module). ``to_state_dict(model_or_layer)`` is
the inverse: the keys a PyTorch module of the same shape has (a lone layer gives ``weight_ih_l0``, ... as
``nn.LSTM().state_dict()``), and ``pytorch_architecture(model)`` the architecture that rebuilds the model.
Consecutive recurrent layers of the same kind and size (all but the last returning sequences) become one
multi-layer PyTorch module. The weight layouts are those of ``rnnkit.interop.pytorch.keras_to_torch`` /
``torch_to_keras``; the arrays come back as new arrays of the state dict's dtype (or ``dtype=``).

Refused, with the reason: a GRU with ``reset_after=False`` (PyTorch's GRU is ``reset_after=True``), an LSTM
with ``proj_size`` (no rnnkit twin), ``go_backwards`` outside ``Bidirectional``, ``merge_mode`` other than
``"concat"``, activations PyTorch's modules do not have, ``return_state``, and any other layer.

>>> import numpy as np
>>> from rnnkit.layers import Dense, Embedding, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([Embedding(20, 4), LSTM(3), Dense(2)])
>>> _ = model(np.ones((1, 5), dtype="int64"))
>>> state = to_state_dict(model, prefixes=["emb", "rnn", "fc"])
>>> sorted(state)[:3], state["rnn.weight_ih_l0"].shape
(['emb.weight', 'fc.bias', 'fc.weight'], (12, 4))
>>> pytorch_architecture(model, prefixes=["emb", "rnn", "fc"])[1]
{'type': 'lstm', 'prefix': 'rnn', 'return_sequences': False}
>>> twin = from_state_dict(state, "embedding:emb, rnn, fc")    # types from the shapes where they tell
>>> x = np.array([[3, 1, 4, 1, 5]])
>>> bool(np.array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0)))
True
"""
from __future__ import annotations

import re

import numpy as np

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.interop.pytorch import keras_to_torch, torch_to_keras
from rnnkit.interop.pytorch_architecture import RECURRENT, WEIGHTLESS, Module, keys_of, resolve
from rnnkit.layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, GRUCell, LSTMCell, Masking,
                           SimpleRNN, SimpleRNNCell)
from rnnkit.layers.recurrent import RNN

KIND_OF_TYPE = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}  # architecture type -> keras_to_torch kind
LAYER_OF_TYPE = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
TYPE_OF_CELL = {SimpleRNNCell: "rnn", LSTMCell: "lstm", GRUCell: "gru"}
SUPPORTED = "Embedding, Dense, SimpleRNN, LSTM, GRU, Bidirectional, Dropout, Masking"


# ------------------------------------------------------------------------------------- PyTorch -> rnnkit
def _float_dtype(state_dict: dict, dtype) -> str:
    if dtype is not None:
        return np.dtype(dtype).name
    kinds = {np.asarray(a).dtype for a in state_dict.values()}
    return "float64" if np.dtype("float64") in kinds else "float32"


def _recurrent_shape(module: Module, names: dict) -> tuple:
    """``(num_layers, directions, bias, hidden, input_size)`` of a recurrent module's keys, checked."""
    where = f"module {module.prefix!r}" if module.prefix else "the state dict"
    if any(n.startswith("weight_hr") for n in names):
        raise ConfigError(f"{where}: nn.LSTM with proj_size (weight_hr_l*) has no rnnkit equivalent: rnnkit's LSTM "
                          "has no projection of the hidden state")
    levels = sorted({int(re.search(r"_l(\d+)", n).group(1)) for n in names})
    directions = 2 if any(n.endswith("_reverse") for n in names) else 1
    bias = "bias_ih_l0" in names
    hidden = np.shape(names["weight_hh_l0"])[1]
    expected = {f"{w}_l{level}{suffix}" for level in range(len(levels)) for suffix in ("", "_reverse")[:directions]
                for w in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if bias else ())}
    if levels != list(range(len(levels))) or set(names) != expected:
        raise ConfigError(f"{where}: the keys of a {len(levels)}-layer {'bidirectional ' * (directions == 2)}"
                          f"{module.type} module are missing {sorted(expected - set(names))[:6]} or have extra "
                          f"{sorted(set(names) - expected)[:6]}")
    return len(levels), directions, bias, hidden, np.shape(names["weight_ih_l0"])[1]


def _recurrent_layers(module: Module, names: dict, dtype: str, last_sequences: bool) -> list:
    num_layers, directions, bias, hidden, _ = _recurrent_shape(module, names)
    kind = KIND_OF_TYPE[module.type]
    extra = {"activation": module.options.get("nonlinearity", "tanh")} if module.type == "rnn" else {}
    if extra and extra["activation"] not in ("tanh", "relu"):
        raise ConfigError(f"module {module.prefix!r}: nonlinearity must be 'tanh' or 'relu' (nn.RNN); got "
                          f"{extra['activation']!r}")
    result = []
    for level in range(num_layers):
        layer = LAYER_OF_TYPE[module.type](hidden, return_sequences=level < num_layers - 1 or last_sequences,
                                           use_bias=bias, dtype=dtype, **extra)
        weights = []
        for suffix in ("", "_reverse")[:directions]:
            params = [names.get(f"{w}_l{level}{suffix}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            weights += [w for w in torch_to_keras(kind, *params) if w is not None]
        result.append((Bidirectional(layer, merge_mode="concat") if directions == 2 else layer, weights))
    return result


def _layers_of(module: Module, names: dict, dtype: str, last_sequences: bool) -> list:
    """``[(layer, weights), ...]`` for one module."""
    options = module.options
    if module.type == "embedding":
        weight = np.asarray(names["weight"])
        return [(Embedding(*weight.shape, mask_zero=bool(options.get("mask_zero", False)), dtype=dtype), [weight])]
    if module.type == "linear":
        weight = np.asarray(names["weight"])  # (out, in)
        kept = [weight.T] + ([np.asarray(names["bias"])] if "bias" in names else [])
        return [(Dense(weight.shape[0], activation=options.get("activation"), use_bias="bias" in names,
                       dtype=dtype), kept)]
    if module.type == "dropout":
        return [(Dropout(float(options.get("rate", 0.0)), dtype=dtype), [])]
    if module.type == "masking":
        return [(Masking(float(options.get("mask_value", 0.0)), dtype=dtype), [])]
    return _recurrent_layers(module, names, dtype, last_sequences)


def _input_spec(modules: list, state_dict: dict) -> tuple:
    """The model's ``Input`` shape and dtype, from its first module with weights."""
    sequences = any(m.type in RECURRENT for m in modules)
    for module in modules:
        names = keys_of(state_dict, module.prefix) if module.type not in WEIGHTLESS else {}
        if module.type == "embedding":
            return (None,), "int64"
        if module.type == "linear":
            width = np.shape(names["weight"])[1]
            return ((None, width) if sequences else (width,)), None
        if module.type in RECURRENT:
            return (None, np.shape(names["weight_ih_l0"])[1]), None
    raise ConfigError("the architecture has no module with weights")


def from_state_dict(state_dict: dict, architecture=None, dtype=None):
    """A ``Sequential`` with the weights of a PyTorch state dict (name -> array; torch tensors are accepted too).

    Args:
        state_dict: the module's ``state_dict()`` as NumPy arrays (``{k: v.numpy() for k, v in ...}``, or
            ``safetensors.numpy.load_file``).
        architecture: the modules in order with their options (see ``rnnkit.interop.pytorch_architecture``);
            None for a state dict of one module.
        dtype: ``"float32"`` / ``"float64"``; default float64 if any array is, else float32.
    """
    from rnnkit.models import Input, Sequential

    state_dict = {str(k): _as_array(v, k) for k, v in state_dict.items()}
    modules = resolve(state_dict, architecture)
    dtype = _float_dtype(state_dict, dtype)
    recurrent_at = [i for i, m in enumerate(modules) if m.type in RECURRENT]
    pairs = []
    for i, module in enumerate(modules):
        sequences = module.options.get("return_sequences")
        if sequences is None:
            sequences = bool(recurrent_at) and i < recurrent_at[-1]  # another recurrent module follows
        names = {} if module.type in WEIGHTLESS else keys_of(state_dict, module.prefix)
        pairs += _layers_of(module, names, dtype, bool(sequences))
    shape, input_dtype = _input_spec(modules, state_dict)
    model = Sequential([Input(shape, dtype=input_dtype or dtype)] + [layer for layer, _ in pairs], dtype=dtype)
    model.build()
    for layer, weights in pairs:
        try:
            layer.set_weights([np.asarray(w, dtype=dtype) for w in weights])
        except ShapeError as error:
            raise ShapeError(f"the state dict's weights do not chain into one model: {error}") from None
    return model


def _as_array(value, key) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise ConfigError(f"state dict entry {key!r} has dtype {array.dtype}; expected floating point weights")
    return array


# ------------------------------------------------------------------------------------- rnnkit -> PyTorch
def _check_recurrent(layer, owner: str) -> tuple:
    """``(type, cell)`` of a plain recurrent layer that PyTorch has, or a ConfigError with the reason."""
    cell = layer.cell
    kind = TYPE_OF_CELL.get(type(cell))
    if kind is None:
        raise ConfigError(f"layer {owner!r}: cell {type(cell).__name__} has no PyTorch module")
    if layer.return_state:
        raise ConfigError(f"layer {owner!r}: return_state=True has no place in a PyTorch state dict architecture")
    if kind == "rnn" and cell.activation not in ("tanh", "relu"):
        raise ConfigError(f"layer {owner!r}: nn.RNN has nonlinearity 'tanh' or 'relu'; got activation "
                          f"{cell.activation!r}")
    if kind != "rnn" and (cell.activation != "tanh" or cell.recurrent_activation != "sigmoid"):
        raise ConfigError(f"layer {owner!r}: PyTorch's nn.{kind.upper()} uses activation 'tanh' and "
                          f"recurrent_activation 'sigmoid'; got {cell.activation!r} and {cell.recurrent_activation!r}")
    if kind == "gru" and not cell.reset_after:
        raise ConfigError(f"layer {owner!r}: a GRU with reset_after=False has no PyTorch equivalent; PyTorch's "
                          "nn.GRU is Keras' reset_after=True (the reset gate applied after the recurrent product)")
    return kind, cell


def _describe(layer) -> tuple:
    """``(type, options, signature)`` of one rnnkit layer; ``signature`` says which neighbours it stacks with."""
    if isinstance(layer, Embedding):
        return "embedding", {"mask_zero": layer.mask_zero}, None
    if isinstance(layer, Dense):
        activation = None if layer.activation_name in (None, "linear") else layer.activation_name
        return "linear", {"activation": activation}, None
    if isinstance(layer, Dropout):
        return "dropout", {"rate": layer.rate}, None
    if isinstance(layer, Masking):
        return "masking", {"mask_value": layer.mask_value}, None
    inner, directions = layer, 1
    if isinstance(layer, Bidirectional):
        if layer.merge_mode != "concat":
            raise ConfigError(f"layer {layer.name!r}: PyTorch's bidirectional modules concatenate both directions; "
                              f"got merge_mode={layer.merge_mode!r}")
        inner, directions = layer.forward_layer, 2
        if inner.go_backwards:
            raise ConfigError(f"layer {layer.name!r}: a Bidirectional of a go_backwards layer has no PyTorch "
                              "equivalent")
    elif isinstance(layer, RNN) and layer.go_backwards:
        raise ConfigError(f"layer {layer.name!r}: go_backwards=True has no PyTorch equivalent (a reversed "
                          "direction exists only inside a bidirectional module)")
    if not isinstance(inner, RNN):
        raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}) has no PyTorch state dict mapping; "
                          f"supported layers: {SUPPORTED}")
    kind, cell = _check_recurrent(inner, layer.name)
    options = {"return_sequences": inner.return_sequences}
    if kind == "rnn":
        options = {"nonlinearity": cell.activation, **options}
    return kind, options, (kind, cell.units, directions, cell.use_bias, cell.activation)


def _prefix(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _groups(model_or_layer, prefixes=None) -> list:
    """``[(Module, [layers]), ...]``: one PyTorch module per entry, consecutive compatible recurrent layers
    merged."""
    from rnnkit.models import Model, Sequential

    if isinstance(model_or_layer, Sequential):
        layers, lone = list(model_or_layer.layers), False
    elif isinstance(model_or_layer, Model):
        raise ConfigError(f"to_state_dict takes a Sequential model or one layer; got {type(model_or_layer).__name__}"
                          " (rebuild it as a Sequential of supported layers)")
    else:
        layers, lone = [model_or_layer], True
    for layer in layers:
        if not layer.built and not isinstance(layer, (Dropout, Masking)):
            raise ConfigError(f"layer {layer.name!r} is not built yet: call the model on an input first")
    groups, previous = [], None
    for layer in layers:
        kind, options, signature = _describe(layer)
        if (signature is not None and previous is not None and previous[0] == signature
                and groups[-1][0].options["return_sequences"]):
            groups[-1][1].append(layer)
            groups[-1][0].options["return_sequences"] = options["return_sequences"]
            continue
        groups.append((Module(kind, "" if lone else _prefix(layer.name), options), [layer]))
        previous = (signature,)
    weighted = [m for m, _ in groups if m.type not in WEIGHTLESS]
    if prefixes is not None:
        prefixes = list(prefixes)
        if len(prefixes) != len(weighted):
            raise ConfigError(f"prefixes: expected one per PyTorch module with weights ({len(weighted)}: "
                              f"{', '.join(m.type for m in weighted)}); got {len(prefixes)}")
        for module, prefix in zip(weighted, prefixes):
            module.prefix = str(prefix)
    if lone and len(weighted) == 0:
        raise ConfigError(f"layer {layers[0].name!r} has no weights to put in a state dict")
    return groups


def _recurrent_state(module: Module, layers: list) -> dict:
    kind = KIND_OF_TYPE[module.type]
    state = {}
    for level, layer in enumerate(layers):
        directions = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
        for suffix, direction in zip(("", "_reverse"), directions):
            cell = direction.cell
            bias = None if cell.bias is None else cell.bias.data
            params = keras_to_torch(kind, cell.kernel.data, cell.recurrent_kernel.data, bias,
                                    reset_after=getattr(cell, "reset_after", True))
            for name, value in params.items():
                if value is not None:
                    state[module.key(f"{name}_l{level}{suffix}")] = value
    return state


def to_state_dict(model_or_layer, prefixes=None) -> dict:
    """The PyTorch state dict (name -> new NumPy array) of a built ``Sequential`` or of one layer.

    Args:
        model_or_layer: a Sequential of Embedding / SimpleRNN / LSTM / GRU / Bidirectional / Dense / Dropout /
            Masking, or one such layer (then the keys have no prefix, as the lone PyTorch module's own).
        prefixes: the attribute names of the PyTorch modules, one per module with weights (default: the rnnkit
            layer names).
    """
    state = {}
    for module, layers in _groups(model_or_layer, prefixes):
        if module.type == "embedding":
            state[module.key("weight")] = layers[0].embeddings.data.copy()
        elif module.type == "linear":
            state[module.key("weight")] = layers[0].kernel.data.T.copy()  # (in, out) -> (out, in)
            if layers[0].bias is not None:
                state[module.key("bias")] = layers[0].bias.data.copy()
        elif module.type in RECURRENT:
            state.update(_recurrent_state(module, layers))
    return state


def pytorch_architecture(model_or_layer, prefixes=None) -> list:
    """The architecture (a JSON-able list) with which ``from_state_dict(to_state_dict(m, prefixes), ...)``
    rebuilds ``m``."""
    return [module.to_json() for module, _ in _groups(model_or_layer, prefixes)]
