"""``.safetensors`` files of PyTorch state dicts, read and written with ``safetensors.numpy`` (no pickle, no torch).

``save_safetensors(model, path)`` writes ``to_state_dict(model)`` and, in the file's metadata, the architecture
(``{"rnnkit_architecture": JSON}``), so that ``load_safetensors(path)`` rebuilds the model alone. A file written
by PyTorch (``safetensors.torch.save_file(module.state_dict(), path)``) has no architecture: give it as
``architecture=`` unless the file holds a single module. PyTorch loads rnnkit's files with
``module.load_state_dict(safetensors.torch.load_file(path))``. The ``safetensors`` package comes with
``pip install 'rnnkit[pytorch]'``. Writes are atomic.

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import GRU
>>> from rnnkit.models import Sequential
>>> model = Sequential([GRU(3, input_shape=(None, 2), name="gru")]); model.build()
>>> path = os.path.join(tempfile.mkdtemp(), "gru.safetensors")
>>> save_safetensors(model, path)
>>> sorted(read_state_dict(path)[0])
['gru.bias_hh_l0', 'gru.bias_ih_l0', 'gru.weight_hh_l0', 'gru.weight_ih_l0']
>>> x = np.ones((1, 4, 2), dtype="float32")
>>> bool(np.array_equal(load_safetensors(path).predict(x, verbose=0), model.predict(x, verbose=0)))
True
"""
from __future__ import annotations

import json
import os

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.fileio import atomic_write

METADATA_KEY = "rnnkit_architecture"


def _numpy_api():
    import safetensors.numpy  # the optional 'pytorch' extra: a ModuleNotFoundError names the package

    return safetensors.numpy


def write_state_dict(path, state_dict: dict, architecture=None) -> None:
    """Write a state dict (name -> array) to ``path``, with ``architecture`` (a list) in the metadata."""
    api = _numpy_api()
    metadata = None if architecture is None else {METADATA_KEY: json.dumps(architecture)}
    data = api.save({k: np.ascontiguousarray(v) for k, v in state_dict.items()}, metadata=metadata)
    with atomic_write(os.fspath(path)) as f:
        f.write(data)


def _metadata(path, raw: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file: its header is an 8-byte little-endian length, then JSON."""
    if len(raw) < 8:
        raise DataError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    size = int.from_bytes(raw[:8], "little")
    if size > len(raw) - 8:
        raise DataError(f"{path}: not a safetensors file (header length {size} beyond the file's {len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not a safetensors file (unreadable header: {error})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def read_state_dict(path) -> tuple:
    """``(state_dict, architecture or None)`` of a safetensors file."""
    api = _numpy_api()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    metadata = _metadata(path, raw)
    try:
        state = api.load(raw)
    except Exception as error:  # safetensors raises its own SafetensorError on corrupt data
        raise DataError(f"{path}: not a readable safetensors file: {error}") from None
    architecture = metadata.get(METADATA_KEY)
    if architecture is not None:
        try:
            architecture = json.loads(architecture)
        except json.JSONDecodeError:
            raise DataError(f"{path}: the {METADATA_KEY!r} metadata is not JSON") from None
    return state, architecture


def save_safetensors(model_or_layer, path, prefixes=None) -> None:
    """Write ``to_state_dict(model_or_layer, prefixes)`` and its architecture to a ``.safetensors`` file."""
    from rnnkit.interop.pytorch_state import pytorch_architecture, to_state_dict

    write_state_dict(path, to_state_dict(model_or_layer, prefixes), pytorch_architecture(model_or_layer, prefixes))


def load_safetensors(path, architecture=None, dtype=None):
    """The ``Sequential`` of a ``.safetensors`` state dict: ``architecture`` if given, else the one rnnkit saved
    in the file, else inferred (a single module)."""
    from rnnkit.interop.pytorch_state import from_state_dict

    state, saved = read_state_dict(path)
    if not state:
        raise DataError(f"{path}: the file holds no tensors")
    try:
        return from_state_dict(state, architecture if architecture is not None else saved, dtype=dtype)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
