"""Layer configs between Keras 3 (``config.json`` of a ``.keras`` file) and rnnkit, with no code run.

A Keras layer entry is ``{"module", "class_name", "config", "registered_name", ...}``. Reading one looks the
class name up in rnnkit's layer registry (``Lambda`` and every class rnnkit does not have are refused by name),
turns Keras-only values into rnnkit's (the ``DTypePolicy`` object into a dtype name, initializer objects into
names), drops the Keras-only options that have their neutral value (``quantization_config: null`` ...), warns
about training-only ones it cannot keep (regularizers, constraints), and lets the rnnkit constructor refuse any
option it does not know. Writing goes the other way, from ``layer.get_config()``.

>>> spec = {"module": "keras.layers", "class_name": "Dense", "config": {
...     "name": "head", "trainable": True, "units": 3, "activation": "softmax", "use_bias": True,
...     "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
...     "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {}},
...     "bias_initializer": "zeros", "kernel_regularizer": None, "quantization_config": None}}
>>> layer = layer_from_keras(spec, "m.keras")
>>> type(layer).__name__, layer.name, layer.units, layer.dtype
('Dense', 'head', 3, 'float32')
>>> back = layer_to_keras(layer)
>>> back["class_name"], back["config"]["dtype"]["config"]["name"]
('Dense', 'float32')
"""
from __future__ import annotations

import warnings

from rnnkit import initializers
from rnnkit.errors import ConfigError, RnnkitError

# Keras layer classes that convert (the rnnkit registry has a class of the same name); most used in RNU programs
# first. Cells appear inside RNN(cell) only. Classes the user registered with
# rnnkit.saving.register_keras_serializable convert too, by their registered name "package>Name".
SUPPORTED = (
    "Dense", "Embedding", "Masking", "Dropout", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
    "RepeatVector", "Concatenate", "Add", "Multiply", "Dot", "Attention", "AdditiveAttention",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Conv1D", "MaxPooling1D", "AveragePooling1D",
    "SpatialDropout1D", "BatchNormalization", "Normalization", "Flatten", "Reshape", "Permute",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
)
FLOAT_DTYPES = ("float32", "float64")

# Keras-only options, accepted (and dropped) when they hold the value that means "off"
_NEUTRAL = {
    "quantization_config": None, "lora_rank": None, "lora_alpha": None, "lora_enabled": False,
    "synchronized": False, "renorm": False, "sparse": False, "ragged": False, "autocast": True,
    "implementation": (1, 2), "input_length": None, "groups": 1, "renorm_clipping": None,
}
_TRAINING_ONLY = ("_regularizer", "_constraint")  # key suffixes: they change training, never predictions
_DROPPED_ALWAYS = ("build_config", "shared_object_id", "renorm_momentum")  # the last: unused while renorm is off


def _where(path, name, class_name) -> str:
    return f"{path}: layer {name!r} ({class_name})"


# ------------------------------------------------------------------------------------------ Keras -> rnnkit
def dtype_from_keras(value, where: str, floats_only: bool = True) -> str | None:
    """A dtype name from a Keras ``dtype`` entry (a name or a ``DTypePolicy`` object)."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: dtype {value!r:.100} is not a dtype name or DTypePolicy")
    if floats_only and value not in FLOAT_DTYPES:
        raise ConfigError(f"{where}: dtype policy {value!r} is not supported; rnnkit computes in "
                          f"{' or '.join(FLOAT_DTYPES)} (mixed precision and quantized layers do not convert)")
    return value


def _initializer_from_keras(value):
    """rnnkit's form of a Keras initializer (initial values only: a loaded model's weights come from the file)."""
    if not isinstance(value, dict):
        return value
    class_name, config = value.get("class_name"), dict(value.get("config") or {})
    for candidate in ({"class_name": class_name, "config": config},
                      {"class_name": class_name, "config": {k: v for k, v in config.items()
                                                            if k not in ("input_axes", "output_axes")}},
                      class_name):
        try:
            initializers.get(candidate)
            return candidate
        except (RnnkitError, TypeError, ValueError):
            continue
    return None  # an initializer rnnkit lacks: the layer's default (it only matters before weights are set)


def _translate_value(key, value, where):
    if key.endswith("_initializer"):
        return _initializer_from_keras(value)
    if key in ("activation", "recurrent_activation") and isinstance(value, dict):
        raise ConfigError(f"{where}: {key}={value.get('class_name')!r} is an activation object; rnnkit converts "
                          "activations given by name ('relu', 'tanh', ...)")
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        return list((value.get("config") or {}).get("value", []))
    return value


def config_from_keras(class_name: str, config: dict, path, wrapped_in: str | None = None) -> dict:
    """rnnkit constructor arguments for a Keras layer config (nested layers translated too)."""
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config of a {class_name} layer must be an object; got {config!r:.100}")
    name = config.get("name", "?")
    where = _where(path, name, class_name)
    out = {}
    for key, value in config.items():
        if key in _DROPPED_ALWAYS:
            continue
        if key == "dtype":
            dtype = dtype_from_keras(value, where)
            if dtype is not None:
                out["dtype"] = dtype
        elif key.endswith(_TRAINING_ONLY):
            if value is not None:
                warnings.warn(f"{where}: {key} ({value.get('class_name') if isinstance(value, dict) else value}) "
                              "is not kept: rnnkit has no per-layer regularizers or constraints (predictions are "
                              "unchanged)", stacklevel=4)
        elif key in _NEUTRAL:
            neutral = _NEUTRAL[key]
            if value != neutral and not (isinstance(neutral, tuple) and value in neutral):
                raise ConfigError(f"{where}: option {key}={value!r} is not supported (rnnkit converts it only as "
                                  f"{neutral!r})")
        elif key in ("layer", "cell") and isinstance(value, dict):
            out[key] = spec_from_keras(value, path, wrapped_in=class_name)
        elif key == "cells" and class_name == "StackedRNNCells" and isinstance(value, list):
            out[key] = [spec_from_keras(cell, path, wrapped_in=class_name) for cell in value]
        elif key == "backward_layer":
            _check_backward_layer(config, value, where, path)
        elif key in ("batch_input_shape", "batch_shape") and isinstance(value, list):
            out["input_shape"] = value[1:]
        else:
            out[key] = _translate_value(key, value, where)
    if config.get("zero_output_for_mask") and not config.get("return_sequences", True):
        raise ConfigError(f"{where}: option zero_output_for_mask=True without return_sequences is not supported "
                          "(Keras then outputs zeros for a sequence whose last step is masked)")
    if class_name == "Embedding" and out.get("input_length") is None:
        out.pop("input_length", None)
    return {key: value for key, value in out.items() if value is not None or not key.endswith("_initializer")}


def _check_backward_layer(config, backward, where, path) -> None:
    """rnnkit's Bidirectional makes its backward layer from the forward one (``go_backwards`` flipped): a Keras
    ``backward_layer`` of any other configuration does not convert."""
    forward = config.get("layer") or {}
    ignore = ("name", "go_backwards", "shared_object_id")

    def plain(spec):
        cfg = {k: v for k, v in (spec.get("config") or {}).items() if k not in ignore}
        return spec.get("class_name"), _strip_ids(cfg)

    if plain(forward) != plain(backward if isinstance(backward, dict) else {}):
        raise ConfigError(f"{where}: a backward_layer configured differently from the forward layer is not "
                          "supported (rnnkit's backward layer is the forward one with go_backwards flipped)")
    if bool((backward.get("config") or {}).get("go_backwards")) == bool((forward.get("config") or {}).get(
            "go_backwards")):
        raise ConfigError(f"{where}: backward_layer must have go_backwards opposite to the forward layer's")


def _strip_ids(value):
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


def check_class(spec, path, wrapped_in=None) -> str:
    """The class name of a Keras layer entry (a user class: its registered ``"package>Name"``, looked up later
    in rnnkit's registry only, never imported), or a ConfigError naming a class that does not convert."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ConfigError(f"{path}: a layer entry must be an object with a 'class_name'; got {spec!r:.150}")
    class_name = spec["class_name"]
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    name = config.get("name", spec.get("name", "?"))
    if class_name == "Lambda":
        raise ConfigError(f"{path}: layer {name!r} is a Lambda layer; its Python code is not loaded (opening a "
                          "file never runs code). Replace it with built-in layers, or rebuild the model in rnnkit "
                          "and use load_weights()")
    module = spec.get("module") or ""
    registered = spec.get("registered_name")
    if isinstance(registered, str) and ">" in registered and not module.startswith("keras.src.ops"):
        return registered  # a class registered by user code, e.g. "guide>MinimalRNNCell"
    if module.startswith("keras.src.ops") or class_name not in SUPPORTED or registered not in (None, class_name):
        kind = "Keras operation" if module.startswith("keras.src.ops") else "layer class"
        inside = f" inside {wrapped_in}" if wrapped_in else ""
        raise ConfigError(f"{path}: layer {name!r}{inside} is of {kind} {class_name!r}, which rnnkit does not "
                          f"convert; supported: {', '.join(SUPPORTED)}, and classes registered with "
                          "rnnkit.saving.register_keras_serializable(package=...)")
    return class_name


def spec_from_keras(spec, path, wrapped_in=None) -> dict:
    """``{"class_name", "config"}`` (rnnkit's registry form) for a Keras layer entry."""
    class_name = check_class(spec, path, wrapped_in)
    return {"class_name": class_name, "config": config_from_keras(class_name, spec.get("config"), path)}


def layer_from_keras(spec, path):
    """The rnnkit layer for one Keras layer entry of a ``config.json``."""
    from rnnkit.layers.registry import deserialize

    rnnkit_spec = spec_from_keras(spec, path)
    where = _where(path, rnnkit_spec["config"].get("name", "?"), rnnkit_spec["class_name"])
    try:
        return deserialize(rnnkit_spec)
    except RnnkitError as error:
        raise ConfigError(f"{where}: {error}") from None
    except (TypeError, ValueError, KeyError) as error:
        raise ConfigError(f"{where}: unsupported option or malformed config: {error}") from None


# ------------------------------------------------------------------------------------------ rnnkit -> Keras
def dtype_policy(name: str) -> dict:
    """Keras' serialized ``DTypePolicy`` for a float dtype name."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _initializer_to_keras(value):
    if isinstance(value, dict) and "class_name" in value:
        return {"module": "keras.initializers", "class_name": value["class_name"],
                "config": dict(value.get("config") or {}), "registered_name": None}
    return value


def config_to_keras(layer) -> dict:
    """The Keras config of an rnnkit layer (input shapes go to the model's ``InputLayer``)."""
    config = dict(layer.get_config())
    class_name = type(layer).__name__
    for key in ("input_shape", "batch_input_shape"):
        config.pop(key, None)
    if class_name == "Embedding" and config.get("input_length") is None:
        config.pop("input_length", None)
    config["dtype"] = dtype_policy(layer.dtype)
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config[key] = _initializer_to_keras(value)
    if class_name in ("Bidirectional", "TimeDistributed"):
        config["layer"] = _nested_to_keras(layer.forward_layer if class_name == "Bidirectional" else layer.layer,
                                           config["layer"])
    if class_name == "RNN":
        config["cell"] = layer_to_keras(layer.cell)
    if class_name == "StackedRNNCells":
        config["cells"] = [layer_to_keras(cell) for cell in layer.cells]
    if class_name == "SpatialDropout1D":  # Keras' constructor takes no 'trainable'
        config = {key: config[key] for key in ("name", "dtype", "rate", "seed")}
    if class_name in ("SimpleRNN", "LSTM", "GRU"):
        # Keras with zero_output_for_mask=True also zeroes the *last* output when the last step is masked
        config["zero_output_for_mask"] = layer.zero_output_for_mask is not False and layer.return_sequences
    return config


def _nested_to_keras(instance, spec) -> dict:
    """The Keras entry of a wrapped layer, from the spec the wrapper keeps (its original name and settings)."""
    entry = layer_to_keras(instance)
    entry["config"]["name"] = spec["config"].get("name", entry["config"]["name"])
    if "go_backwards" in spec["config"]:
        entry["config"]["go_backwards"] = spec["config"]["go_backwards"]
    return entry


def layer_to_keras(layer) -> dict:
    """The ``config.json`` entry (``module``, ``class_name``, ``config``) of an rnnkit layer; a user class
    registered with ``rnnkit.saving.register_keras_serializable`` is written as Keras writes one
    (``module`` null, ``registered_name`` ``"package>Name"``)."""
    from rnnkit.layers.registry import _TABLE
    from rnnkit.saving.object_registration import get_registered_name, get_registered_object

    class_name = type(layer).__name__
    if _TABLE.get(class_name) is not type(layer):
        registered = get_registered_name(type(layer))
        if ">" not in registered or get_registered_object(registered) is not type(layer):
            raise ConfigError(f"layer {layer.name!r} is of class {class_name!r}, which is not registered; decorate "
                              "it with @rnnkit.saving.register_keras_serializable(package=\"my_package\") so that "
                              "Keras files can name it (\"my_package>" + class_name + "\")")
        return {"module": None, "class_name": class_name, "config": config_to_keras(layer),
                "registered_name": registered}
    if class_name not in SUPPORTED:
        raise ConfigError(f"layer {layer.name!r} is of class {class_name}, which does not convert to Keras; "
                          f"supported: {', '.join(SUPPORTED)}")
    return {"module": "keras.layers", "class_name": class_name, "config": config_to_keras(layer),
            "registered_name": None}
