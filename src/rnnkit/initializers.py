"""Weight initializers with Keras names and defaults; each takes an explicit ``seed``.

An initializer is a callable ``init(shape, dtype) -> ndarray``. ``get(name_or_object)`` resolves the names
that Keras accepts (``"glorot_uniform"``, ``"orthogonal"``, ...).

>>> from rnnkit import initializers
>>> w = initializers.get("glorot_uniform")((4, 6), "float32")
>>> w.shape, w.dtype.name, bool(abs(w).max() <= (6 / 10) ** 0.5)
((4, 6), 'float32', True)
>>> q = initializers.Orthogonal(seed=0)((3, 3), "float64")
>>> bool(abs(q @ q.T - __import__("numpy").eye(3)).max() < 1e-12)
True
"""
from __future__ import annotations

import math

import numpy as np

from rnnkit.backend import as_float_dtype
from rnnkit.errors import ConfigError
from rnnkit.random import generator


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``sample(shape, rng)`` returning float64 values."""

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = tuple(int(n) for n in shape)
        # C order always (Orthogonal's transposed QR factor would otherwise stay Fortran-ordered)
        values = np.ascontiguousarray(self.sample(shape, generator(self.seed)), dtype=as_float_dtype(dtype))
        return values.reshape(shape)  # ascontiguousarray makes a 0-d array 1-d; a scalar weight stays ()

    def sample(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape, rng):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Initializer):
    """All ones."""

    def sample(self, shape, rng):
        return np.ones(shape)

    def get_config(self):
        return {}


class Constant(Initializer):
    """Every element equal to ``value``."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev`` (Keras defaults 0.0, 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)`` (Keras defaults -0.05, 0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class GlorotUniform(Initializer):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


class GlorotNormal(Initializer):
    """Truncated-normal-free variant: normal with ``stddev = sqrt(2 / (fan_in + fan_out))``."""

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


class HeUniform(Initializer):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    def sample(self, shape, rng):
        fan_in, _ = _fans(shape)
        limit = math.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=shape)


class HeNormal(Initializer):
    """Normal with ``stddev = sqrt(2 / fan_in)``."""

    def sample(self, shape, rng):
        fan_in, _ = _fans(shape)
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix scaled by ``gain``, from the QR decomposition of a normal matrix."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ConfigError(f"Orthogonal initializer needs a shape of rank >= 2; got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)  # (rows, cols) -> shape

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "orthogonal": Orthogonal,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}
# Keras' short aliases: ``Embedding(embeddings_initializer="uniform")`` is RandomUniform(-0.05, 0.05).
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal})


def get(identifier) -> Initializer:
    """Resolve a Keras initializer name, class name, config dict or instance to an initializer."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, (str, dict))):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _BY_CLASS.get(identifier)
        if cls is None:
            raise ConfigError(f"unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS:
        return _BY_CLASS[identifier["class_name"]](**identifier.get("config", {}))
    raise ConfigError(f"cannot interpret {identifier!r} as an initializer; expected a name such as 'glorot_uniform'")


def serialize(initializer) -> dict | str:
    """A JSON-able description that :func:`get` turns back into the same initializer."""
    if isinstance(initializer, Initializer) and type(initializer).__name__ in _BY_CLASS:
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    raise ConfigError(f"cannot save custom initializer {initializer!r}; use one of {sorted(_BY_NAME)}")
