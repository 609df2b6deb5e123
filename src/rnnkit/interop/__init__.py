"""Exchange weights with other frameworks (NumPy arrays in, NumPy arrays out; no framework import).

>>> from rnnkit.interop import keras_to_torch, torch_to_keras
>>> callable(keras_to_torch) and callable(torch_to_keras)
True
"""
from rnnkit.interop.pytorch import keras_to_torch, torch_to_keras

__all__ = ["keras_to_torch", "torch_to_keras"]
