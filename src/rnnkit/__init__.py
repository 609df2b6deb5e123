"""rnnkit: recurrent neural networks from first principles on NumPy, with verified gradients.

>>> import rnnkit
>>> x = rnnkit.Tensor([0.5], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([1.], dtype=float32)
"""
from rnnkit import ops  # noqa: F401  (binds Tensor operators)
from rnnkit.autograd import Tensor, no_grad
from rnnkit.errors import RnnkitError

__all__ = ["Tensor", "no_grad", "RnnkitError"]
__version__ = "0.1.0"
