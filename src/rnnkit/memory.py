"""How much memory a training configuration needs, estimated before anything is allocated, and the limit it
must fit in.

A training run holds the weights, one gradient per weight, the optimizer's slots (Adam 2 per weight, RMSprop 1,
SGD without momentum 0), the values each recurrent layer keeps for backpropagation through time (per batch:
``batch * timesteps * units`` times a factor of the cell, per direction), and the data. Building a recurrent
layer also needs, for a moment, the float64 QR decomposition of its ``units x units`` orthogonal initial
recurrent kernel (about ``24 * units**2`` bytes). The factors were measured with ``tracemalloc`` (see
``tests/models/test_memory_estimate.py``, which checks estimates against measured peaks).

The limit is ``$RNNKIT_MEMORY_LIMIT`` (``"12GiB"``, ``"500MB"``, bytes) when set, else the memory available
now (``MemAvailable`` in ``/proc/meminfo``, else ``os.sysconf``'s available pages).

>>> estimate = estimate_recurrent_training("lstm", units=128, timesteps=28, features=28, outputs=10,
...                                        batch_size=64)
>>> estimate.parts["weights"], round(estimate.total / 2**20)
(326696, 12)
>>> check_memory(estimate, "rnnkit train --units 128", limit=2**30)  # fits: nothing happens
>>> parse_size("1.5GiB"), parse_size("500MB"), parse_size("1024")
(1610612736, 500000000, 1024)
"""
from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from rnnkit.errors import ConfigError

FLOAT_BYTES = 4  # float32, rnnkit's floatx
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per recurrent cell
KEPT_PER_STEP = {"simple_rnn": 4, "lstm": 12, "gru": 8}  # floats kept per (sample, step, unit) for BPTT (measured)
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "rmsprop": 1, "adagrad": 1, "sgd": 0}
ORTHOGONAL_BYTES_PER_ENTRY = 24  # float64 normal matrix, Q and R of its QR decomposition
LIMIT_ENV = "RNNKIT_MEMORY_LIMIT"
GIB = 1 << 30


class MemoryLimitError(ConfigError):
    """A configuration needs more memory than the limit (``estimate`` and ``limit`` in bytes)."""


@dataclasses.dataclass
class MemoryEstimate:
    """Bytes per part of a training run; ``total`` is the larger of building (weights plus the initializer's
    transient) and training (everything else).

    >>> MemoryEstimate({"weights": 4 * GIB, "gradients": 4 * GIB}, build_extra=GIB).total / GIB
    8.0
    """

    parts: dict
    build_extra: int = 0  # transient bytes while the weights are initialised

    @property
    def total(self) -> int:
        return max(sum(self.parts.values()), self.parts.get("weights", 0) + self.build_extra)

    def describe(self) -> str:
        parts = [f"{name} {gib(size)}" for name, size in self.parts.items() if size]
        if self.build_extra:
            parts.append(f"initialising {gib(self.build_extra + self.parts.get('weights', 0))}")
        return ", ".join(parts)


def gib(size: float) -> str:
    """``"74.5 GiB"``; small sizes keep two significant digits (``"0.012 GiB"``)."""
    value = size / GIB
    return f"{value:.1f} GiB" if value >= 1 else f"{value:.2g} GiB"


def recurrent_params(kind: str, units: int, input_dim: int, bidirectional: bool = False) -> int:
    """Weights of one SimpleRNN / LSTM / GRU layer (GRU with Keras' default ``reset_after=True``)."""
    if kind not in GATES:
        raise ConfigError(f"unknown recurrent layer {kind!r}; expected one of {tuple(GATES)}")
    gates = GATES[kind]
    count = gates * units * (input_dim + units) + gates * units * (2 if kind == "gru" else 1)
    return count * (2 if bidirectional else 1)


def estimate_training(params: int, activations: int, optimizer: str = "adam", data: int = 0,
                      build_extra: int = 0) -> MemoryEstimate:
    """The memory of a training run from its parts: ``params`` weights, ``activations`` floats kept per batch,
    ``data`` bytes of data held in memory, ``build_extra`` transient bytes while initialising."""
    slots = OPTIMIZER_SLOTS.get(str(optimizer).lower(), 2)
    parts = {"weights": params * FLOAT_BYTES, "gradients": params * FLOAT_BYTES,
             "optimizer": slots * params * FLOAT_BYTES, "activations": activations * FLOAT_BYTES, "data": int(data)}
    return MemoryEstimate(parts, build_extra)


def estimate_recurrent_training(kind: str, units: int, timesteps: int, features: int, outputs: int,
                                batch_size: int, layers: int = 1, bidirectional: bool = False,
                                optimizer: str = "adam", data: int = 0) -> MemoryEstimate:
    """Training memory of ``layers`` stacked recurrent layers (``kind``) then ``Dense(outputs)``, on batches of
    ``batch_size`` sequences of ``timesteps`` steps of ``features`` values."""
    directions = 2 if bidirectional else 1
    params, width = 0, features
    for _ in range(layers):
        params += recurrent_params(kind, units, width, bidirectional)
        width = units * directions
    params += width * outputs + outputs
    kept = layers * directions * batch_size * timesteps * units * KEPT_PER_STEP[kind]
    kept += batch_size * timesteps * features  # the batch itself and its gradient-free copy
    return estimate_training(params, kept, optimizer, data, ORTHOGONAL_BYTES_PER_ENTRY * units * units)


def _recurrent_layers(layers):
    """``(kind, units)`` of every SimpleRNN / LSTM / GRU among ``layers`` (inside Bidirectional and nested
    models too)."""
    kinds = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
    for layer in layers:
        name = type(layer).__name__
        if name in kinds:
            yield kinds[name], int(layer.units)
        elif name == "Bidirectional":
            yield from _recurrent_layers([layer.forward_layer, layer.backward_layer])
        elif hasattr(layer, "layers"):
            yield from _recurrent_layers(layer.layers)


def estimate_model_training(model, batch_size: int, timesteps: int, optimizer: str = "adam",
                            data: int = 0) -> MemoryEstimate:
    """The training memory of a built ``model`` (its exact weight count) on batches of ``batch_size`` sequences
    of ``timesteps`` steps: what a task can check before ``fit``.

    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.models import Sequential
    >>> model = Sequential([LSTM(128, input_shape=(28, 28)), Dense(10)])
    >>> estimate_model_training(model, 64, 28).parts == estimate_recurrent_training("lstm", 128, 28, 28, 10, 64).parts
    True
    """
    params = int(model.count_params())
    kept = sum(batch_size * timesteps * units * KEPT_PER_STEP[kind] for kind, units in _recurrent_layers(model.layers))
    input_shape = getattr(model, "input_shape_arg", None) or getattr(model.layers[0], "input_shape_arg", None)
    if input_shape:
        kept += batch_size * int(np.prod([d for d in input_shape if d]))  # the batch itself
    return estimate_training(params, kept, optimizer, data)


def parse_size(text) -> int:
    """Bytes from ``"12GiB"``, ``"12 GB"``, ``"500MiB"``, ``"1.5G"`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?)b?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ConfigError(f"memory size {text!r} not understood; expected e.g. 12GiB, 500MB or a number of bytes")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), match.group(3)
    power = "_kmgt".index(prefix) if prefix else 0
    return int(number * ((1024 if binary or not prefix else 1000) ** power if prefix else 1))


def available_memory() -> tuple:
    """``(bytes, where)``: the memory available now, from ``/proc/meminfo`` (``MemAvailable``) or
    ``os.sysconf``; ``(None, ...)`` when neither tells."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "the memory available now, MemAvailable"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "the memory available now"
    except (ValueError, OSError, AttributeError):
        return None, "unknown"


def memory_limit(limit=None) -> tuple:
    """``(bytes, where)``: ``limit`` when given (bytes or a size such as ``"8GiB"``), else
    ``$RNNKIT_MEMORY_LIMIT``, else the available memory."""
    if limit is not None:
        return parse_size(limit), "--memory-limit"
    if os.environ.get(LIMIT_ENV):
        return parse_size(os.environ[LIMIT_ENV]), f"${LIMIT_ENV}"
    return available_memory()


def check_memory(estimate: MemoryEstimate, what: str, limit=None, hint: str = "") -> None:
    """Raise ``MemoryLimitError`` when ``estimate`` does not fit in the limit (see ``memory_limit``); the
    message is one line: ``"<what> needs about X GiB; the limit is Y GiB (...)"``."""
    size, where = memory_limit(limit)
    if size is None or estimate.total <= size:
        return
    change = f"--memory-limit or ${LIMIT_ENV}" if where.startswith("the memory") else where
    raise MemoryLimitError(
        f"{what} needs about {gib(estimate.total)} ({estimate.describe()}); the limit is {gib(size)} ({where}; "
        f"set {change} to change it){'. ' + hint[:1].upper() + hint[1:] if hint else ''}")
