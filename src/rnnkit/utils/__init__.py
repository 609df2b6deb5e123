"""Helpers with Keras' names: ``to_categorical``, ``pad_sequences``, ``set_random_seed`` and
``timeseries_dataset_from_array``; and ``gradient_check`` (finite differences for any model).

>>> from rnnkit.utils import to_categorical
>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""
from rnnkit.random import set_random_seed
from rnnkit.utils.categorical import to_categorical
from rnnkit.utils.gradient_check import GradientCheck, gradient_check
from rnnkit.utils.sequences import pad_sequences
from rnnkit.utils.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["TimeseriesDataset", "pad_sequences", "set_random_seed", "timeseries_dataset_from_array", "to_categorical",
           "gradient_check", "GradientCheck"]
