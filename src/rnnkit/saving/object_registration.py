"""The table of user-registered classes behind ``rnnkit.saving.register_keras_serializable`` (Keras 3's
semantics: the name ``"package>ClassName"``, a later registration of the same name replaces the earlier one).

>>> from rnnkit.layers import Layer
>>> @register_keras_serializable(package="example", name="Cell")
... class MyCell(Layer):
...     pass
>>> get_registered_name(MyCell), get_registered_object("example>Cell") is MyCell
('example>Cell', True)
>>> get_registered_name(Layer)
'Layer'
"""
from __future__ import annotations

import inspect

from rnnkit.errors import ConfigError

_GLOBAL_OBJECTS: dict = {}  # registered name -> class
_GLOBAL_NAMES: dict = {}  # class -> registered name
_SCOPES: list = []  # custom_object_scope dicts, innermost last


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: register a class (a Layer such as a recurrent cell) under ``"package>name"`` (``name``
    defaults to the class name) so that a saved model refers to it by that name and loading finds it."""
    if not isinstance(package, str) or ">" in package or not package:
        raise ConfigError(f"register_keras_serializable: package must be a non-empty string without '>'; got "
                          f"{package!r}")

    def decorator(cls):
        class_name = name if name is not None else getattr(cls, "__name__", None)
        if not isinstance(class_name, str) or not class_name:
            raise ConfigError(f"register_keras_serializable: cannot name {cls!r}; pass name=")
        if inspect.isclass(cls) and not hasattr(cls, "get_config"):
            raise ConfigError(f"cannot register {cls.__name__}: it has no get_config() method (a class to save "
                              "must have get_config() and from_config())")
        registered = f"{package}>{class_name}"
        _GLOBAL_OBJECTS[registered] = cls
        _GLOBAL_NAMES[cls] = registered
        return cls

    return decorator


def get_registered_name(obj) -> str:
    """The name ``obj`` (a class) is saved under: its registered ``"package>Name"``, else its ``__name__``."""
    return _GLOBAL_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name: str, custom_objects=None, module_objects=None):
    """The class registered (or given in ``custom_objects`` / an active ``custom_object_scope``) as ``name``,
    or None."""
    for table in (custom_objects or {}, *reversed(_SCOPES), _GLOBAL_OBJECTS, module_objects or {}):
        if name in table:
            return table[name]
    return None


def get_custom_objects() -> dict:
    """The global table of registered classes (name -> class), as Keras (changes to it register classes)."""
    return _GLOBAL_OBJECTS


class CustomObjectScope:
    """``with custom_object_scope({"MyCell": MyCell}):`` makes those names loadable inside the block."""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPES.remove(self.custom_objects)
        return False


custom_object_scope = CustomObjectScope
