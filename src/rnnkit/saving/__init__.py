"""Saving with Keras 3's ``keras.saving`` names: register user-defined classes so that models using them save
and load.

A model file stores each layer as ``{"class_name", "config"}`` and loading creates only classes it knows: the
built-in layers, and the classes registered here. ``@register_keras_serializable(package="my_pkg")`` records a
class under ``"my_pkg>ClassName"``; that name is what the file stores, and loading looks it up again, so the
code that defines the class must have run (been imported) before ``load_model``. Nothing is ever imported from
the file. ``custom_objects={"ClassName": cls}`` (or ``custom_object_scope``) works as in Keras for classes
saved under their plain name.

>>> import os, tempfile
>>> import numpy as np
>>> import rnnkit
>>> from rnnkit import ops
>>> @rnnkit.saving.register_keras_serializable(package="docs")
... class Doubler(rnnkit.layers.Layer):
...     def call(self, x):
...         return ops.multiply(x, 2.0)
>>> rnnkit.saving.get_registered_name(Doubler)
'docs>Doubler'
>>> model = rnnkit.Sequential([rnnkit.layers.Dense(2, input_shape=(3,)), Doubler()])
>>> path = os.path.join(tempfile.mkdtemp(), "doubler.rnnkit")
>>> model.save(path)
>>> loaded = rnnkit.saving.load_model(path)
>>> type(loaded.layers[-1]).__name__
'Doubler'
"""
from rnnkit.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = [
    "CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name", "get_registered_object",
    "load_model", "register_keras_serializable", "save_model",
]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``rnnkit.models.load_model`` with Keras 3's ``custom_objects=`` (a dict name -> class, used while
    loading); ``safe_mode`` is accepted (loading never runs code from the file anyway)."""
    from rnnkit.models import load_model as _load

    with custom_object_scope(custom_objects or {}):
        return _load(filepath, compile=compile)


def save_model(model, filepath, overwrite=True, **kwargs):
    """``model.save(filepath, overwrite=overwrite)``."""
    return model.save(filepath, overwrite=overwrite, **kwargs)
