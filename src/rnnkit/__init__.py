"""rnnkit: recurrent neural networks from first principles on NumPy, with verified gradients.

The Keras-named modules are importable from the package: ``rnnkit.layers``, ``rnnkit.models``,
``rnnkit.optimizers``, ``rnnkit.losses``, ``rnnkit.metrics``, ``rnnkit.callbacks``, ``rnnkit.datasets``,
``rnnkit.utils``; ``rnnkit.Input`` and ``rnnkit.Sequential`` / ``rnnkit.Model`` as in Keras.

>>> import rnnkit
>>> x = rnnkit.Tensor([0.5], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([1.], dtype=float32)
>>> rnnkit.layers.LSTM(4).name.startswith("lstm")
True
"""
from rnnkit import ops  # noqa: F401  (binds Tensor operators)
from rnnkit import callbacks, datasets, initializers, layers, losses, metrics, models, optimizers, utils  # noqa: F401
from rnnkit import saving, tree  # noqa: F401
from rnnkit.autograd import Tensor, no_grad
from rnnkit.errors import RnnkitError
from rnnkit.models import Input, Model, Sequential

__all__ = [
    "Tensor", "no_grad", "RnnkitError", "Input", "Model", "Sequential", "callbacks", "datasets", "initializers",
    "layers", "losses", "metrics", "models", "optimizers", "ops", "saving", "tree", "utils",
]
__version__ = "0.1.0"
