"""Optimizers with Keras 3 names, defaults and update rules: ``SGD``, ``Adam``, ``RMSprop``; learning-rate
schedules in ``optimizers.schedules``.

``get`` resolves what ``model.compile(optimizer=...)`` accepts: a name (``"adam"``, any case), an
instance, or a config dict ``{"class_name": "Adam", "config": {...}}`` as written by ``serialize``.

>>> from rnnkit import optimizers
>>> opt = optimizers.get("Adam")
>>> opt.learning_rate, opt.beta_1
(0.001, 0.9)
>>> optimizers.get(optimizers.serialize(optimizers.SGD(momentum=0.9)))
SGD(momentum=0.9)
"""
from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.optimizers import schedules
from rnnkit.optimizers.adam import Adam
from rnnkit.optimizers.base import Optimizer
from rnnkit.optimizers.rmsprop import RMSprop
from rnnkit.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get", "serialize", "deserialize", "schedules"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def _class_for(name: str) -> type:
    cls = _BY_NAME.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"unknown optimizer {name!r}; expected one of {sorted(_BY_NAME)}")
    return cls


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": ..., "config": ...}`` (JSON-able) for ``get`` / ``deserialize``."""
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(f"serialize() expects an Optimizer; got {type(optimizer).__name__}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """The optimizer described by a ``serialize`` dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"an optimizer config must be a dict with 'class_name' and 'config'; got {config!r}")
    return _class_for(config["class_name"]).from_config(dict(config.get("config", {})))


def get(identifier) -> Optimizer:
    """Resolve a name (case-insensitive), a config dict or an instance to an optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _class_for(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ConfigError(
        f"cannot interpret {identifier!r} as an optimizer; expected a name in {sorted(_BY_NAME)}, an Optimizer "
        "or a config dict"
    )
