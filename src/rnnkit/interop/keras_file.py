"""Keras 3 files: ``.keras`` models (a zip of ``config.json``, ``metadata.json``, ``model.weights.h5``) and
``.weights.h5`` weights, read and written without Keras (``h5py`` for HDF5, from the ``keras`` extra).

Reading runs no code: JSON, plain numeric HDF5 datasets (each one's shape checked against the model before it
is read), and the layer classes of rnnkit's registry. What converts is listed in ``docs/interop_keras.md``;
anything else (``Lambda``, layers rnnkit lacks, Keras operations on tensors, mixed precision) is refused with
one line naming the file and the layer.

Compile settings: a ``.keras`` file keeps the optimizer's class and settings, the loss and the metrics, and
rnnkit keeps and writes those it has (``Adam``, ``SGD``, ``RMSprop``, ... with their settings; losses and metrics
by name). Optimizer *state* (moment estimates, iteration count) is not converted: a loaded model starts its
optimizer afresh, and saving writes none (Keras then starts afresh too).

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense, LSTM
>>> from rnnkit.models import Sequential, load_model
>>> model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.keras")
>>> model.save(path)                                  # the Keras 3 format, chosen by the extension
>>> x = np.ones((1, 5, 3), dtype="float32")
>>> bool(np.array_equal(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)))
True
"""
from __future__ import annotations

import datetime
import io
import json
import os
import warnings

import numpy as np

from rnnkit.errors import ConfigError, DataError, RnnkitError
from rnnkit.interop.keras_model import model_from_keras, model_to_keras, weight_groups

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose file layout this writes (metadata.json)
INSTALL_HINT = "pip install 'rnnkit[keras]'"
MAX_JSON_BYTES = 64 << 20
LEGACY_H5_MESSAGE = (
    "saving a whole model as a legacy HDF5 file (.h5) is not supported. Keras 3 also calls this format legacy "
    "and recommends the native Keras format instead, e.g. model.save('my_model.keras'); for weights only use a "
    "name ending in .weights.h5")


def h5py_module():
    """``h5py``, or ``ModuleNotFoundError`` whose message says how to install it."""
    try:
        import h5py
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"reading and writing Keras files needs the h5py package, which is not "
                                  f"installed; install it with: {INSTALL_HINT}", name="h5py") from error
    return h5py


def is_keras_weights_name(path) -> bool:
    return os.fspath(path).endswith(".weights.h5")


def is_h5_name(path) -> bool:
    return os.fspath(path).endswith((".h5", ".hdf5"))


# --------------------------------------------------------------------------------------------- HDF5 I/O
def _h5_bytes(model) -> bytes:
    """``model.weights.h5`` of ``model``, in Keras 3's layout."""
    h5py = h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for group_path, layer, weights in weight_groups(model):
            group = f.create_group(group_path)
            group.attrs["name"] = layer.name
            for i, w in enumerate(weights):
                group.create_dataset(str(i), data=np.asarray(w.data))
        f.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def _read_groups(f, groups, path, member) -> list:
    """``[(weight Tensor, array), ...]`` for every ``(h5 path, layer, weights)`` group, each dataset checked."""
    h5py = h5py_module()
    pairs = []
    for group_path, layer, weights in groups:
        node = f.get(group_path) if weights else None
        if weights and not isinstance(node, h5py.Group):
            raise DataError(f"{path}: {member} has no group {group_path} (the weights of layer {layer.name!r}, "
                            f"{type(layer).__name__}); the file does not match the model")
        for i, w in enumerate(weights):
            dataset = node.get(str(i))
            label = f"{path}: {member} {group_path}/{i} ({w.name})"
            if not isinstance(dataset, h5py.Dataset):
                raise DataError(f"{label}: dataset missing (truncated file, or a model of another architecture)")
            if tuple(dataset.shape) != tuple(w.shape):
                raise DataError(f"{label} has shape {tuple(dataset.shape)}; the model's weight has shape "
                                f"{tuple(w.shape)}")
            if dataset.dtype.kind not in "fiu":
                raise DataError(f"{label} holds {dataset.dtype} values; expected numbers")
            try:
                array = dataset[()]
            except (OSError, ValueError, RuntimeError) as error:
                raise DataError(f"{label} cannot be read (corrupt file?): {error}") from None
            pairs.append((w, np.asarray(array)))
        extra = sorted(set(node.keys()) - {str(i) for i in range(len(weights))}) if node is not None else []
        if extra:
            raise DataError(f"{path}: {member} {group_path} holds {len(weights) + len(extra)} arrays; layer "
                            f"{layer.name!r} ({type(layer).__name__}) has {len(weights)}")
    return pairs


def _open_h5(data_or_path, path, member):
    h5py = h5py_module()
    try:
        return h5py.File(io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path, "r")
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: {member} is not a readable HDF5 file (corrupt or truncated?): {error}") from None


def _assign(pairs) -> None:
    for w, array in pairs:
        w.data[...] = array.astype(w.dtype, copy=False)


# --------------------------------------------------------------------------------------------- .keras files
def save_keras_model(model, filepath, overwrite: bool = True) -> None:
    """Write ``model`` (Sequential or functional) as a Keras 3 ``.keras`` file that ``keras.models.load_model``
    reads: architecture, weights, and the compile settings Keras has names for (no optimizer state)."""
    from rnnkit.models.saving import write_archive

    h5py_module()
    model._ensure_built()
    if not model.built:
        raise ConfigError(f"model {model.name!r} is not built: call it on a batch or build(input_shape) first")
    try:
        entry = model_to_keras(model)
    except ConfigError as error:
        raise ConfigError(f"cannot save {os.fspath(filepath)} in the Keras format: {error}") from None
    compile_config = compile_to_keras(model)
    if compile_config:
        entry["compile_config"] = compile_config
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"), "saved_by": "rnnkit"}
    members = {"metadata.json": json.dumps(metadata).encode(),
               "config.json": json.dumps(entry, default=_json_default).encode(),
               "model.weights.h5": _h5_bytes(model)}
    write_archive(filepath, members, overwrite)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def load_keras_model(filepath, compile: bool = True):
    """The rnnkit model of a Keras 3 ``.keras`` file (Sequential or functional, of the layers that convert)."""
    from rnnkit.models.saving import read_archive

    path = os.fspath(filepath)
    try:
        members = read_archive(path)
    except DataError as error:
        raise DataError(str(error).replace("readable rnnkit file", "readable .keras file (a zip)")) from None
    for name in ("config.json", "model.weights.h5"):
        if name not in members:
            raise DataError(f"{path} has no {name}; members: {sorted(members)} (not a Keras 3 .keras file, or "
                            "truncated)")
    if len(members["config.json"]) > MAX_JSON_BYTES:
        raise DataError(f"{path}: config.json is {len(members['config.json']):,} bytes; at most {MAX_JSON_BYTES:,}")
    try:
        entry = json.loads(members["config.json"].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DataError(f"{path}: config.json is not valid JSON ({error})") from None
    if not isinstance(entry, dict):
        raise DataError(f"{path}: config.json must hold an object; got {type(entry).__name__}")
    _check_budget(entry, members["model.weights.h5"], path)
    try:
        model, named = model_from_keras(entry, path)
        model._ensure_built()
    except RnnkitError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as error:
        raise ConfigError(f"{path}: the model config is malformed or uses an unsupported option: "
                          f"{type(error).__name__}: {error}") from None
    if not model.built:
        raise DataError(f"{path}: the Keras model was saved before it was built (no input shape), so it holds no "
                        "weights to convert")
    _warn_known_differences(model, path)
    groups = list(weight_groups(model, from_file=True))
    with _open_h5(members["model.weights.h5"], path, "model.weights.h5") as f:
        _assign(_read_groups(f, groups, path, "model.weights.h5"))
    if compile and isinstance(entry.get("compile_config"), dict) and entry["compile_config"]:
        compile_from_keras(model, entry["compile_config"], path)
    return model


def _check_budget(entry: dict, weights: bytes, path) -> None:
    """Before building anything: layer sizes (``units`` ...) must fit in the values the HDF5 file really holds,
    and input shapes in ``MAX_BUILD_ELEMENTS``, so that a corrupt or hostile config cannot allocate without
    bound (the same checks as for rnnkit's own files)."""
    from rnnkit.models.saving import MAX_BUILD_ELEMENTS, _check_sizes

    h5py = h5py_module()
    budget = [0]

    def count(_, item):
        if isinstance(item, h5py.Dataset):
            budget[0] += int(np.prod(item.shape, dtype=np.int64)) if item.shape else 1

    with _open_h5(weights, path, "model.weights.h5") as f:
        f.visititems(count)
    _check_sizes(entry.get("config"), budget[0], path)
    stack = [entry.get("config")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            shape = item.get("batch_shape") if item.get("batch_shape") is not None else item.get("batch_input_shape")
            if isinstance(shape, list):
                dims = [d for d in shape[1:] if isinstance(d, int) and not isinstance(d, bool)]
                if any(d < 0 for d in dims) or int(np.prod([max(d, 1) for d in dims] or [1], dtype=np.float64)) \
                        > MAX_BUILD_ELEMENTS:
                    raise DataError(f"{path}: input shape {shape} is negative or larger than "
                                    f"{MAX_BUILD_ELEMENTS:,} elements per sample (corrupt config)")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _warn_known_differences(model, path) -> None:
    """Warn where rnnkit deliberately computes something else than Keras 3 for the same layers."""
    kinds = {type(layer).__name__ for layer in model.layers}
    masks = "Masking" in kinds or any(getattr(layer, "mask_zero", False) for layer in model.layers)
    if masks and "GlobalMaxPooling1D" in kinds:
        warnings.warn(f"{path}: GlobalMaxPooling1D after a mask: rnnkit leaves masked steps out of the maximum, "
                      "Keras 3 does not (rnnkit.layers.global_pooling1d); predictions differ for padded sequences",
                      stacklevel=3)


# --------------------------------------------------------------------------------------------- weights files
def save_keras_weights(model, filepath, overwrite: bool = True) -> None:
    """Write ``model``'s weights as Keras 3's ``.weights.h5`` (the layout of ``model.weights.h5``)."""
    from rnnkit.fileio import atomic_write

    path = os.fspath(filepath)
    if not is_keras_weights_name(path):
        raise ConfigError(f"The filename must end in `.weights.h5`. Received: filepath={path} (Keras 3 writes "
                          "HDF5 weights only under that name; use '.weights.h5', or '.rnnkit' for rnnkit's format)")
    h5py_module()
    model._ensure_built()
    if not overwrite and os.path.exists(path):
        raise ConfigError(f"{path} exists; pass overwrite=True to replace it")
    data = _h5_bytes(model)
    with atomic_write(path) as f:
        f.write(data)


def load_keras_weights(model, filepath) -> None:
    """Read Keras 3 weights (a ``.weights.h5`` file, or the weights inside a ``.keras`` file) into ``model``."""
    from rnnkit.models.saving import read_archive

    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise DataError(f"no weights file at {path}")
    model._ensure_built()
    if not model.built:
        raise ConfigError(f"model {model.name!r} is not built: call it on a batch or build(input_shape) first, "
                          "then load_weights()")
    groups = list(weight_groups(model))
    if path.endswith(".keras"):
        members = read_archive(path)
        if "model.weights.h5" not in members:
            raise DataError(f"{path} has no model.weights.h5; members: {sorted(members)}")
        source, member = members["model.weights.h5"], "model.weights.h5"
    else:
        source, member = path, "weights file"
    with _open_h5(source, path, member) as f:
        if "layers" not in f and ("model_weights" in f or "layer_names" in f.attrs):
            raise ConfigError(f"{path} is a legacy Keras 2 HDF5 file (layer_names / model_weights); rnnkit reads "
                              "Keras 3 weights (.weights.h5, .keras)")
        pairs = _read_groups(f, groups, path, member)
    _assign(pairs)


# --------------------------------------------------------------------------------------------- compile settings
_OPTIMIZER_KEYS = {  # Keras optimizer settings rnnkit keeps; others must hold Keras' neutral value
    "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "momentum", "nesterov", "rho", "centered",
    "initial_accumulator_value", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay",
}
_OPTIMIZER_NEUTRAL = {"name": None, "use_ema": False, "ema_momentum": None, "ema_overwrite_frequency": None,
                      "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _rnnkit_optimizer(spec, path):
    """An rnnkit optimizer for Keras' serialized one, or None (with a warning) when rnnkit lacks it."""
    from rnnkit import optimizers

    if isinstance(spec, str):
        try:
            return optimizers.get(spec)
        except RnnkitError:
            warnings.warn(f"{path}: optimizer {spec!r} is not available in rnnkit; the model is loaded uncompiled",
                          stacklevel=4)
            return None
    class_name = spec.get("class_name") if isinstance(spec, dict) else None
    config = dict(spec.get("config") or {}) if isinstance(spec, dict) else {}
    dropped = sorted(k for k, v in config.items() if k not in _OPTIMIZER_KEYS and k in _OPTIMIZER_NEUTRAL
                     and v not in (_OPTIMIZER_NEUTRAL[k], False, None) and k != "name"
                     and not (k == "ema_momentum"))
    settings = {k: v for k, v in config.items() if k in _OPTIMIZER_KEYS and v is not None}
    if isinstance(settings.get("learning_rate"), dict):
        warnings.warn(f"{path}: the learning-rate schedule {settings['learning_rate'].get('class_name')!r} is not "
                      "converted; the optimizer starts at its default learning rate", stacklevel=4)
        settings.pop("learning_rate")
    candidates = [settings, {k: v for k, v in settings.items() if k in ("learning_rate",)}]
    for candidate in candidates:
        try:
            optimizer = optimizers.get({"class_name": class_name, "config": candidate})
        except (RnnkitError, TypeError, ValueError):
            continue
        lost = sorted(set(settings) - set(candidate)) + dropped
        if lost:
            warnings.warn(f"{path}: optimizer {class_name} settings {lost} are not converted", stacklevel=4)
        return optimizer
    warnings.warn(f"{path}: optimizer {class_name!r} is not available in rnnkit; the model is loaded uncompiled "
                  "(compile() it before training)", stacklevel=4)
    return None


def compile_from_keras(model, compile_config: dict, path) -> None:
    """Compile ``model`` with the Keras ``compile_config`` it was saved with, as far as rnnkit has its parts."""
    optimizer = _rnnkit_optimizer(compile_config.get("optimizer"), path)
    if optimizer is None:
        return
    loss = _structure(compile_config.get("loss"), _loss_from_keras, path)
    metrics = _structure(compile_config.get("metrics"), _metric_from_keras, path)
    weighted = compile_config.get("weighted_metrics")
    if weighted:
        warnings.warn(f"{path}: weighted_metrics {weighted} are not converted", stacklevel=3)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None,
                      loss_weights=compile_config.get("loss_weights"))
    except RnnkitError as error:
        warnings.warn(f"{path}: the compile settings do not convert ({error}); the model is loaded uncompiled",
                      stacklevel=3)


def _structure(value, convert, path):
    """``convert`` applied to each loss / metric of a (possibly nested list or dict) compile entry."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [_structure(item, convert, path) for item in value]
        return [item for item in items if item is not None]
    if isinstance(value, dict) and "class_name" not in value:
        return {key: _structure(item, convert, path) for key, item in value.items()}
    return convert(value, path)


def _known_config(cls, config: dict, what: str, path) -> dict:
    """The entries of a Keras object config that the rnnkit class has; a warning names the others."""
    try:
        known = set(cls().get_config())
    except (RnnkitError, TypeError):
        known = {"name"}
    kept = {k: v for k, v in config.items() if k in known}
    neutral = {"reduction": "sum_over_batch_size", "ignore_class": None, "axis": -1}
    lost = sorted(k for k, v in config.items() if k not in known and k != "dtype" and neutral.get(k, object()) != v)
    if lost:
        warnings.warn(f"{path}: {what} {cls.__name__} settings {lost} are not converted", stacklevel=5)
    return kept


def _loss_from_keras(value, path):
    from rnnkit import losses

    if isinstance(value, str):
        return value
    cls = losses._CLASSES.get(value.get("class_name")) if isinstance(value, dict) else None
    if cls is None:
        warnings.warn(f"{path}: loss {value!r:.100} is not available in rnnkit; compile() the model with a loss "
                      "before training", stacklevel=4)
        return None
    return cls.from_config(_known_config(cls, dict(value.get("config") or {}), "loss", path))


def _metric_from_keras(value, path):
    from rnnkit import metrics

    if isinstance(value, str):
        return value
    cls = metrics._CLASSES.get(value.get("class_name")) if isinstance(value, dict) else None
    if cls is None:
        warnings.warn(f"{path}: metric {value!r:.100} is not available in rnnkit and is dropped", stacklevel=4)
        return None
    return cls(**_known_config(cls, dict(value.get("config") or {}), "metric", path))


def compile_to_keras(model) -> dict | None:
    """Keras' ``compile_config`` for a compiled rnnkit model (optimizer settings, loss and metrics by name)."""
    from rnnkit.models.saving import _compile_config

    if not getattr(model, "compiled", False):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = _compile_config(model)
    if not config:
        return None
    optimizer = config["optimizer"]
    if isinstance(optimizer, dict):
        optimizer = {"module": "keras.optimizers", "class_name": optimizer.get("class_name"),
                     "config": dict(optimizer.get("config") or {}), "registered_name": None}
    metrics = [m if isinstance(m, str) else {"module": "keras.metrics", "class_name": m["class_name"],
                                             "config": {"name": (m.get("config") or {}).get("name")},
                                             "registered_name": None} for m in config.get("metrics") or []]
    return {"optimizer": optimizer, "loss": _loss_to_keras(config.get("loss")),
            "loss_weights": config.get("loss_weights"), "metrics": metrics or None, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _loss_to_keras(loss):
    if isinstance(loss, list):
        return [_loss_to_keras(item) for item in loss]
    if isinstance(loss, dict) and "class_name" in loss:
        return {"module": "keras.losses", "class_name": loss["class_name"], "config": loss.get("config") or {},
                "registered_name": None}
    return loss
