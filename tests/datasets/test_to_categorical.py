"""rnnkit.utils.to_categorical against a one-hot built element by element, and its errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import ConfigError, DataError
from rnnkit.utils import set_random_seed, to_categorical


def one_hot_loop(ids: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros(ids.shape + (num_classes,))
    for index in itertools.product(*map(range, ids.shape)):
        out[index + (int(ids[index]),)] = 1
    return out


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), ()])
@pytest.mark.parametrize("num_classes", [None, 6, 11])
def test_matches_loop(shape, num_classes):
    ids = np.random.default_rng(len(shape)).integers(0, 6, shape)
    got = to_categorical(ids, num_classes)
    expected_classes = num_classes if num_classes is not None else int(ids.max()) + 1
    assert got.dtype == np.float32
    assert got.shape == ids.shape + (expected_classes,)
    np.testing.assert_array_equal(got, one_hot_loop(ids, expected_classes))


def test_keras_examples():
    np.testing.assert_array_equal(to_categorical([0, 1, 2, 3], num_classes=4), np.eye(4))
    # trailing axis of size 1 is dropped, as in Keras
    assert to_categorical(np.array([[0], [2], [1]]), 3).shape == (3, 3)
    assert to_categorical(np.array([[0, 1]]), 3).shape == (1, 2, 3)
    assert to_categorical(np.array([2])).shape == (1, 3)  # 1-D of length 1 keeps its axis


def test_input_types():
    expected = to_categorical([1, 0], 2)
    for ids in ([1.0, 0.0], np.array([1, 0], dtype=np.uint8), [True, False], rnnkit.Tensor(np.array([1, 0]))):
        np.testing.assert_array_equal(to_categorical(ids, 2), expected)
    assert to_categorical(np.zeros(0, dtype=int), num_classes=4).shape == (0, 4)
    assert to_categorical(np.int64(3), num_classes=np.int32(5)).shape == (5,)


@pytest.mark.parametrize("ids, num_classes, words", [
    ([0, -1, 2], None, "must be >= 0, got -1"),
    ([0, 3], 3, "class id 3 is out of range for num_classes=3"),
    ([[0], [10]], 10, "class id 10"),
    ([0.5, 1.0], None, "whole numbers, got 0.5"),
    ([np.nan], 3, "whole numbers"),
    (["a", "b"], 3, "dtype <U1"),
    ([], None, "empty"),
])
def test_bad_ids(ids, num_classes, words):
    with pytest.raises(DataError, match=words):
        to_categorical(ids, num_classes)


@pytest.mark.parametrize("num_classes", [0, -2, 2.5, True, "3"])
def test_bad_num_classes(num_classes):
    with pytest.raises(ConfigError, match="num_classes must be a positive integer"):
        to_categorical([0, 1], num_classes)


def test_errors_are_value_errors_as_in_keras():
    with pytest.raises(ValueError):
        to_categorical([5], 2)


def test_set_random_seed_exported():
    from rnnkit.random import next_seed

    set_random_seed(3)
    a = next_seed()
    set_random_seed(3)
    assert next_seed() == a
