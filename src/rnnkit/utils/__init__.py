"""Helpers with Keras' names: ``to_categorical``, ``pad_sequences``, ``set_random_seed``,
``timeseries_dataset_from_array``, ``PyDataset`` (alias ``Sequence``) and ``get_file``; and ``gradient_check``
(finite differences for any model).

>>> from rnnkit.utils import to_categorical
>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""
from rnnkit.random import set_random_seed
from rnnkit.saving.object_registration import register_keras_serializable  # also keras.utils' name
from rnnkit.utils.categorical import to_categorical
from rnnkit.utils.files import get_file
from rnnkit.utils.gradient_check import GradientCheck, gradient_check
from rnnkit.utils.py_dataset import PyDataset, Sequence
from rnnkit.utils.sequences import pad_sequences
from rnnkit.utils.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["GradientCheck", "PyDataset", "Sequence", "TimeseriesDataset", "get_file", "gradient_check", "pad_sequences",
           "register_keras_serializable", "set_random_seed", "timeseries_dataset_from_array", "to_categorical"]
