"""Saving and loading models: one zip file (``.rnnkit``) read with ``json`` and ``np.load(allow_pickle=False)``.

A model file holds three members::

    config.json     {"format": "rnnkit-model", "format_version": 1,
                     "model": {"class_name", "config"},       layer configs, through the layer registry
                     "build_input_spec": [[shape, dtype], ...],  to build a lazily built model before loading
                     "weights": [{"name", "shape", "dtype"}, ...],
                     "compile": {"optimizer", "loss", "loss_weights", "metrics"} or null,
                     "optimizer_variables": [index into "weights", ...], "optimizer_state_keys": [...]}
    weights.npz     w0000, w0001, ... in ``model.weights`` order
    optimizer.npz   s0000, ... the optimizer's ``get_state()`` arrays (slots and iteration count)

A weights file (``save_weights``) holds ``weights.json`` (names, shapes, build spec) and ``weights.npz``.

Opening a file never runs code: only JSON, plain numeric arrays (each ``.npy`` header is parsed and checked
against its length, never unpickled: the equivalent of ``np.load(allow_pickle=False)`` with bounded memory), and
the layer classes of the registry (unknown class names raise ``ConfigError``). Nothing is trusted before it is
checked: zip members' declared sizes against the file's size, layer sizes (``units`` ...) against the weights
really present, the build shape against ``MAX_BUILD_ELEMENTS``, so a corrupt or hostile file fails fast with
``DataError`` / ``ConfigError`` instead of allocating without bound. Training checkpoints
(``rnnkit.models.checkpoint``) are model files with two more members. Writes are atomic (``fileio.atomic_write``: a temporary file in the same
directory, flushed, fsynced, renamed over the target), so a failure mid-write leaves the previous file intact.
Missing, truncated or corrupt files raise ``DataError`` naming the path.

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential, load_model
>>> model = Sequential([Dense(2, input_shape=(3,))])
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.rnnkit")
>>> model.save(path)
>>> x = np.ones((1, 3), dtype="float32")
>>> bool(np.array_equal(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)))
True
"""
from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from rnnkit.errors import ConfigError, DataError, RnnkitError
from rnnkit.fileio import atomic_write

FORMAT = "rnnkit-model"
WEIGHTS_FORMAT = "rnnkit-weights"
FORMAT_VERSION = 1


# ------------------------------------------------------------------------------------------ writing
def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write_archive(path, members: dict, overwrite: bool = True) -> None:
    """Write ``members`` (name -> bytes) as one zip file, atomically."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise ConfigError(f"{path} exists; pass overwrite=True to replace it")
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _weight_entries(model) -> list:
    return [{"name": getattr(w, "name", f"weight_{i}"), "shape": list(w.shape), "dtype": w.dtype.name}
            for i, w in enumerate(model.weights)]


def _build_spec(model):
    spec = model._input_spec
    return None if spec is None else [[list(shape), dtype] for shape, dtype in spec]


def _serialize_metric(metric):
    from rnnkit import metrics

    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics.Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    raise ConfigError(f"cannot save metric {metric!r}")


def _serialize_loss(loss):
    from rnnkit import losses

    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, (list, tuple)):
        return [_serialize_loss(item) for item in loss]
    return losses.serialize(losses.get(loss))


def _compile_config(model):
    from rnnkit import optimizers

    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    try:
        config = {
            "optimizer": optimizers.serialize(model.optimizer),
            "loss": _serialize_loss(model.loss),
            "loss_weights": model._loss_weights,
            "metrics": [_serialize_metric(m) for m in model._metric_identifiers],
        }
        json.dumps(config, default=_json_default)
        return config
    except (RnnkitError, TypeError) as error:
        warnings.warn(f"the compile settings of model {model.name!r} cannot be saved ({error}); the file holds the "
                      "architecture and weights, and load_model() returns an uncompiled model", stacklevel=3)
        return None


def _optimizer_part(model, weights: list):
    """``(variable indices, state keys, arrays)`` of the optimizer state, or ``(None, None, {})``."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.variables:
        return None, None, {}
    position = {id(w): i for i, w in enumerate(weights)}
    if any(id(v) not in position for v in optimizer.variables):
        return None, None, {}  # the optimizer also updates tensors outside the model: its state is not saved
    state = optimizer.get_state()
    keys = list(state)
    return ([position[id(v)] for v in optimizer.variables], keys,
            {f"s{i:04d}": np.asarray(state[k]) for i, k in enumerate(keys)})


def model_members(model) -> dict:
    """The archive members (``config.json``, ``weights.npz``, ``optimizer.npz``) of a model file, as bytes."""
    from rnnkit.layers.registry import serialize

    model._ensure_built()
    try:
        spec = serialize(model)
    except ConfigError as error:
        raise ConfigError(
            f"cannot save model {model.name!r}: {error}. A subclassed model must be registered with "
            "rnnkit.layers.register(cls) (its config is its constructor arguments); or use save_weights()"
        ) from None
    weights = model.weights
    indices, keys, state = _optimizer_part(model, weights)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": spec,
        "build_input_spec": _build_spec(model),
        "weights": _weight_entries(model),
        "compile": _compile_config(model),
        "optimizer_variables": indices,
        "optimizer_state_keys": keys,
    }
    return {
        "config.json": json.dumps(config, indent=1, default=_json_default).encode("utf-8"),
        "weights.npz": _npz_bytes({f"w{i:04d}": w.data for i, w in enumerate(weights)}),
        "optimizer.npz": _npz_bytes(state),
    }


# ------------------------------------------------------------------------------------------ file formats
# The extension chooses the format: ``.keras`` / ``.weights.h5`` are Keras 3's (rnnkit.interop.keras_file,
# needs h5py), any other name rnnkit's own zip. A zip never goes under an ``.h5`` name.
def _is_keras_model_name(path) -> bool:
    return os.fspath(path).endswith(".keras")


def _is_h5_name(path) -> bool:
    return os.fspath(path).endswith((".h5", ".hdf5"))


def _holds_rnnkit_archive(path) -> bool:
    """True for a file rnnkit wrote in its own format whatever its name (older rnnkit wrote any name)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return "weights.npz" in names and ("config.json" in names or "weights.json" in names)


def save_model(model, filepath, overwrite: bool = True) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to ``filepath``: rnnkit's
    format, or Keras 3's for a ``.keras`` name (``.h5`` is refused: Keras' legacy format)."""
    if _is_keras_model_name(filepath):
        from rnnkit.interop.keras_file import save_keras_model

        save_keras_model(model, filepath, overwrite)
        return
    if _is_h5_name(filepath):
        from rnnkit.interop.keras_file import LEGACY_H5_MESSAGE

        raise ConfigError(f"cannot save {os.fspath(filepath)}: {LEGACY_H5_MESSAGE}")
    write_archive(filepath, model_members(model), overwrite)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write only ``model.weights`` (with names, shapes and the build spec) to ``filepath``: rnnkit's format, or
    Keras 3's HDF5 weights for a ``.weights.h5`` name (another ``.h5`` or ``.keras`` name is refused, as Keras
    refuses it)."""
    if _is_h5_name(filepath) or _is_keras_model_name(filepath):
        from rnnkit.interop.keras_file import save_keras_weights

        save_keras_weights(model, filepath, overwrite)
        return
    model._ensure_built()
    weights = model.weights
    manifest = {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION, "weights": _weight_entries(model),
                "build_input_spec": _build_spec(model)}
    members = {
        "weights.json": json.dumps(manifest, indent=1, default=_json_default).encode("utf-8"),
        "weights.npz": _npz_bytes({f"w{i:04d}": w.data for i, w in enumerate(weights)}),
    }
    write_archive(filepath, members, overwrite)


# ------------------------------------------------------------------------------------------ reading
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, OSError, UnicodeDecodeError,
                NotImplementedError, RuntimeError)
MAX_MEMBERS = 64  # an rnnkit file has 2 to 5 members; a long list is not one
MAX_MEMBER_BYTES = 1 << 32  # 4 GiB: the largest uncompressed member accepted
_DEFLATE_RATIO = 1100  # deflate expands at most ~1032x: a member declaring more is corrupt


def _bounded_infos(archive: zipfile.ZipFile, size: int, where) -> list:
    """The archive's entries, after checking that reading them cannot allocate more than the file justifies."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise DataError(f"{where} lists {len(infos)} members; an rnnkit file has at most {MAX_MEMBERS}")
    for info in infos:
        limit = min(MAX_MEMBER_BYTES, size if info.compress_type == zipfile.ZIP_STORED
                    else _DEFLATE_RATIO * info.compress_size + 1024)
        if info.compress_size > size or info.file_size > limit:
            raise DataError(f"{where}: member {info.filename!r} declares {info.file_size:,} bytes "
                            f"({info.compress_size:,} compressed) in a {size:,}-byte file (corrupt header, or "
                            f"larger than the {MAX_MEMBER_BYTES:,}-byte limit)")
    return infos


def read_archive(path) -> dict:
    """The members (name -> bytes) of an rnnkit zip file; ``DataError`` for a missing, corrupt or bloated one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"no model file at {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory; expected a model file written by model.save()")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = _bounded_infos(archive, os.path.getsize(path), path)
            return {info.filename: archive.read(info) for info in infos}
    except DataError:
        raise
    except _READ_ERRORS as error:
        raise DataError(f"{path} is not a readable rnnkit file (corrupt or truncated?): {error}") from None



def _member(members: dict, name: str, path) -> bytes:
    if name not in members:
        listing = ", ".join(sorted(members)[:5]) + (", ..." if len(members) > 5 else "")
        if name.endswith(".json"):  # the member that says what the file is: another kind of zip archive
            raise DataError(f"{path} is not an rnnkit model file: it is a zip archive without {name} (it holds "
                            f"{listing or 'nothing'})")
        raise DataError(f"{path} is an incomplete rnnkit file: {name} is missing (it holds {listing}); "
                        "truncated or damaged?")
    return members[name]


def _load_json(members: dict, name: str, path) -> dict:
    raw = _member(members, name, path)
    try:
        config = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DataError(f"{path}: {name} is not valid JSON: {type(error).__name__}: {error}") from None
    if not isinstance(config, dict):
        raise DataError(f"{path}: {name} must hold a JSON object; got {type(config).__name__}")
    return config


def parse_npy(data: bytes, label: str) -> np.ndarray:
    """Parse one ``.npy`` member after checking its header against its length (no pickles, no object arrays,
    no allocation beyond the bytes present)."""
    fmt = np.lib.format
    f = io.BytesIO(data)
    try:
        version = fmt.read_magic(f)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = reader(f, max_header_size=10000)
    except Exception as error:  # the header is untrusted text: any parse failure means a corrupt file
        raise DataError(f"{label} has a corrupt array header: {type(error).__name__}: {error}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise DataError(f"{label} holds {dtype} values; expected a numeric array")
    count = 1
    for d in shape:
        count *= int(d)
    body = len(data) - f.tell()
    if count * dtype.itemsize != body:
        raise DataError(f"{label}: its header claims shape {shape} of {dtype} = {count * dtype.itemsize:,} bytes; "
                        f"the member holds {body:,} (truncated or corrupt)")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=f.tell())
    return array.reshape(shape, order="F" if fortran else "C").copy()


def load_arrays(members: dict, name: str, path) -> dict:
    """``{key: array}`` of the ``.npz`` member ``name``, read with bounded memory and no pickles."""
    try:
        with zipfile.ZipFile(io.BytesIO(_member(members, name, path))) as archive:
            infos = _bounded_infos(archive, len(members[name]), f"{path}: {name}")
            raw = {info.filename: archive.read(info) for info in infos}
    except DataError:
        raise
    except _READ_ERRORS as error:
        raise DataError(f"{path}: {name} is corrupt: {type(error).__name__}: {error}") from None
    return {key[:-4] if key.endswith(".npy") else key: parse_npy(data, f"{path}: {name}/{key}")
            for key, data in raw.items()}


def _load_npz(members: dict, name: str, path, count: int, prefix: str) -> list:
    arrays = load_arrays(members, name, path)
    keys = [f"{prefix}{i:04d}" for i in range(count)]
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(f"{path}: {name} lacks arrays {missing[:5]} (truncated or mismatched file)")
    extra = sorted(set(arrays) - set(keys))
    if extra:
        raise DataError(f"{path}: {name} holds unexpected arrays {extra[:5]}; the config lists {count}")
    return [arrays[k] for k in keys]


def _check_format(config: dict, expected: str, path) -> None:
    if config.get("format") != expected:
        raise DataError(f"{path} is not an {expected} file (format {config.get('format')!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path} has format_version {config.get('format_version')!r}; this rnnkit reads "
                        f"version {FORMAT_VERSION}")


def _entries(config: dict, path) -> list:
    entries = config.get("weights")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("shape"), list)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in e["shape"])
            for e in entries):
        raise DataError(f"{path}: the weight list in the config is missing or malformed (expected a list of "
                        "{'name', 'shape': [non-negative ints], 'dtype'} objects)")
    return entries


def _assign_weights(model, arrays: list, entries: list, path) -> None:
    weights = model.weights
    if len(weights) != len(arrays):
        raise DataError(f"{path} holds {len(arrays)} weight arrays; model {model.name!r} has {len(weights)}")
    for w, a, entry in zip(weights, arrays, entries):
        if tuple(a.shape) != tuple(w.shape) or list(a.shape) != list(entry["shape"]):
            raise DataError(f"{path}: weight {entry.get('name')!r} has shape {tuple(a.shape)}; model weight "
                            f"{w.name!r} has shape {tuple(w.shape)}")
        if a.dtype.kind != "f":
            raise DataError(f"{path}: weight {entry.get('name')!r} has non-float dtype {a.dtype}")
    model.set_weights(arrays)


MAX_BUILD_ELEMENTS = 1 << 26  # the zero batch a saved build spec asks for (batch 1): 64 Mi elements at most
_SIZE_KEYS = ("units", "input_dim", "output_dim")  # layer arguments that become weight dimensions
# what a malformed (but JSON-valid) config can make a constructor or build raise; turned into ConfigError
_CONFIG_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def _check_build_spec(spec, path) -> None:
    if spec is None:
        return
    if not isinstance(spec, list) or not spec:
        raise DataError(f"{path}: build_input_spec must be a list of [shape, dtype] pairs; got {spec!r:.200}")
    for item in spec:
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) and isinstance(item[1], str)
        dims = item[0] if ok else []
        ok = ok and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in dims)
        if ok:
            try:
                ok = np.dtype(item[1]).kind in "biufU"  # U: texts for a first TextVectorization layer
            except TypeError:
                ok = False
        if not ok:
            raise DataError(f"{path}: build_input_spec entry {item!r:.200} is malformed; expected "
                            "[[None or int, ...], 'float32']")
        count = 1
        for d in dims:
            count *= 1 if d is None else d
        if count > MAX_BUILD_ELEMENTS:
            raise DataError(f"{path}: build_input_spec shape {dims} asks for {count:,} elements; at most "
                            f"{MAX_BUILD_ELEMENTS:,} are accepted")


def _check_sizes(spec, budget: int, path) -> None:
    """Every layer size in the config (``units`` ...) must fit in the weights the file really holds, so that a
    corrupt config cannot make building the model allocate without bound."""
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _SIZE_KEYS and isinstance(value, int) and not isinstance(value, bool) \
                        and value > max(budget, 1):
                    raise DataError(f"{path}: the config sets {key}={value}, but the file holds only {budget:,} "
                                    "weight values in all (corrupt config)")
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _model_from_config(config: dict, budget: int, path):
    """Validate the config, create the model from the layer registry, and build it."""
    from rnnkit.layers.registry import deserialize
    from rnnkit.models.model import Model

    _check_sizes(config.get("model"), budget, path)
    _check_build_spec(config.get("build_input_spec"), path)
    try:
        model = deserialize(config.get("model"))
        if not isinstance(model, Model):
            raise ConfigError(f"it describes a {type(model).__name__} layer, not a model")
        _build_if_needed(model, config.get("build_input_spec"), path)
    except RnnkitError as error:
        raise type(error)(f"{path}: {error}") from None
    except _CONFIG_ERRORS as error:
        raise ConfigError(f"{path}: the model config is malformed: {type(error).__name__}: {error}") from None
    return model


def _build_if_needed(model, spec, path) -> None:
    if model.built or spec is None:
        model._ensure_built()
        return
    try:
        model.build_from_spec([(tuple(shape), dtype) for shape, dtype in spec])
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: the saved build_input_spec {spec!r} is malformed: {error}") from None


def load_model(filepath, compile: bool = True):
    """Read a model written by ``model.save``: same architecture, weights, compile settings and optimizer
    state, so that it predicts identically and continues training as if never interrupted.

    The file is checked before it is trusted: member sizes against the file size, array headers against their
    lengths, layer classes against the registry, layer sizes against the weights present. Every problem raises
    ``DataError`` or ``ConfigError`` naming the file.

    A ``.keras`` file written by Keras 3 is converted (``rnnkit.interop.keras_file``)."""
    if (_is_keras_model_name(filepath) or _is_h5_name(filepath)) and os.path.isfile(filepath) \
            and not _holds_rnnkit_archive(filepath):
        if os.fspath(filepath).endswith(".weights.h5"):
            raise ConfigError(f"{os.fspath(filepath)} holds only weights (Keras' .weights.h5): build the model, "
                              "then model.load_weights() it; or load a whole-model .keras file")
        if _is_h5_name(filepath):
            raise ConfigError(f"{os.fspath(filepath)}: legacy Keras HDF5 model files (.h5) are not supported; "
                              "save the model from Keras with model.save('model.keras') and load that")
        from rnnkit.interop.keras_file import load_keras_model

        return load_keras_model(filepath, compile=compile)
    members = read_archive(filepath)
    return model_from_members(members, filepath, compile)


def model_from_members(members: dict, filepath, compile: bool = True):
    """The model of an archive's members (``read_archive``), as ``load_model`` makes it."""
    config = _load_json(members, "config.json", filepath)
    _check_format(config, FORMAT, filepath)
    entries = _entries(config, filepath)
    arrays = _load_npz(members, "weights.npz", filepath, len(entries), "w")
    model = _model_from_config(config, sum(a.size for a in arrays), filepath)
    _assign_weights(model, arrays, entries, filepath)
    compile_config = config.get("compile")
    if compile and compile_config:
        try:
            _restore_compile(model, compile_config, config, members, filepath)
        except RnnkitError:
            raise
        except _CONFIG_ERRORS as error:
            raise ConfigError(f"{filepath}: malformed compile config: {type(error).__name__}: {error}") from None
    return model


def _restore_compile(model, compile_config: dict, config: dict, members: dict, path) -> None:
    from rnnkit import metrics, optimizers

    if not isinstance(compile_config, dict):
        raise ConfigError(f"{path}: the compile config must be an object; got {type(compile_config).__name__}")
    try:
        metric_ids = []
        for m in compile_config.get("metrics") or []:
            if isinstance(m, dict):
                cls = type(metrics.get(m["class_name"]))
                metric_ids.append(cls(**m.get("config", {})))
            else:
                metric_ids.append(m)
        loss = compile_config.get("loss")
        model.compile(optimizer=optimizers.get(compile_config["optimizer"]), loss=loss,
                      loss_weights=compile_config.get("loss_weights"), metrics=metric_ids)
    except (KeyError, TypeError) as error:
        raise ConfigError(f"{path}: malformed compile config: {error}") from None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    restore_optimizer(model, config, members, path)


def restore_optimizer(model, config: dict, members: dict, path) -> None:
    """Set ``model.optimizer``'s state (slots, iterations) from a model archive, if it holds one."""
    indices, keys = config.get("optimizer_variables"), config.get("optimizer_state_keys")
    if indices is None or keys is None:
        return
    weights = model.weights
    if not isinstance(indices, list) or not all(isinstance(i, int) and 0 <= i < len(weights) for i in indices):
        raise DataError(f"{path}: optimizer_variables {indices!r:.200} do not index the model's {len(weights)} "
                        "weights")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise DataError(f"{path}: optimizer_state_keys must be a list of strings; got {keys!r:.200}")
    arrays = _load_npz(members, "optimizer.npz", path, len(keys), "s")
    state = dict(zip(keys, arrays))
    if np.asarray(state.get("iterations", 0)).size != 1:
        raise DataError(f"{path}: the optimizer's iteration count must be one number")
    try:
        model.optimizer.set_state(state, [weights[i] for i in indices])
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def load_weights(model, filepath) -> None:
    """Read the weights of a ``save_weights`` (or ``save``) file into ``model``; Keras 3 weights from a
    ``.weights.h5`` or ``.keras`` file."""
    if (_is_keras_model_name(filepath) or _is_h5_name(filepath)) and os.path.isfile(filepath) \
            and not _holds_rnnkit_archive(filepath):
        from rnnkit.interop.keras_file import load_keras_weights

        load_keras_weights(model, filepath)
        return
    members = read_archive(filepath)
    name = "weights.json" if "weights.json" in members else "config.json"
    config = _load_json(members, name, filepath)
    _check_format(config, WEIGHTS_FORMAT if name == "weights.json" else FORMAT, filepath)
    entries = _entries(config, filepath)
    _build_if_needed(model, config.get("build_input_spec"), filepath)
    arrays = _load_npz(members, "weights.npz", filepath, len(entries), "w")
    _assign_weights(model, arrays, entries, filepath)
