"""Optimizer: the shared machinery of SGD, Adam and RMSprop (Keras 3 semantics, PyTorch spellings too).

One ``apply`` does, in Keras 3's order:

1. drop the variables whose gradient is ``None``;
2. clip the gradients: ``clipnorm`` (each gradient to L2 norm <= c: ``g * c / max(||g||, c)``),
   ``global_clipnorm`` (all gradients together: ``g * c / max(sqrt(sum ||g_i||^2), c)``) or ``clipvalue``
   (each element into ``[-c, c]``); at most one of the three may be set;
3. decoupled weight decay, when ``weight_decay`` is set: ``w <- w - w * weight_decay * learning_rate``;
4. the optimizer's own update of every variable (``update_step``), in place on ``variable.data``;
5. ``iterations += 1``.

State ("slots": momentum, velocity, ...) is created, zero-filled, the first time a variable is seen; a
variable's slots are keyed by the order in which the optimizer first saw it, so ``get_state()`` returns
``{"iterations": ..., "momentum/0": ..., "velocity/0": ..., ...}`` and ``set_state`` restores it for the
same variables in the same order.

Two ways to drive it:

* Keras: ``opt.apply_gradients(zip(grads, variables))`` or ``opt.apply(grads, variables)``;
* PyTorch: ``opt = Adam(model.parameters(), lr=1e-3)``, then ``loss.backward(); opt.step(); opt.zero_grad()``.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.optimizers import SGD
>>> w = Tensor([1.0, -2.0])
>>> opt = SGD(learning_rate=0.5)
>>> opt.apply_gradients([(np.array([1.0, 1.0]), w)])
>>> w.data, opt.iterations
(array([ 0.5, -2.5], dtype=float32), 1)
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Iterable

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, DataError, RnnkitError, ShapeError
from rnnkit.optimizers import schedules
from rnnkit.optimizers.schedules import LearningRateSchedule


def _is_parameter_list(value) -> bool:
    """Whether ``value`` is an iterable of Tensors (``model.parameters()``) rather than a learning rate."""
    if isinstance(value, (numbers.Number, str, bytes, dict)) or value is None:
        return False
    return isinstance(value, Iterable)


def _check_nonnegative(name: str, value, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        raise ConfigError(f"{name} must be a number >= 0{' or None' if allow_none else ''}; got {value!r}")
    return float(value)


class Optimizer:
    """Base class: clipping, weight decay, slots, iteration count, state and config.

    Args:
        learning_rate: step size: a float (settable later, e.g. by ``LearningRateScheduler``), or a
            ``schedules.LearningRateSchedule`` evaluated at ``iterations`` before every update.
        weight_decay: decoupled weight decay factor, or None.
        clipnorm: clip each gradient to this L2 norm, or None.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``, or None.
        global_clipnorm: clip all gradients together to this global L2 norm, or None.
        name: a name for the optimizer (default: the class name in lower case).
        params: the PyTorch-style parameter list used by ``step()`` / ``zero_grad()``. It can also be given as
            the first positional argument: ``Adam(model.parameters(), lr=1e-3)``.

    Subclasses define ``slot_names()`` (the per-variable state arrays they need) and
    ``update_step(grad, value, slots, lr, scratch)``, which updates ``value`` (the variable's array) and
    its ``slots`` in place.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _accept_pytorch_style(cls.__init__)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, params=None):
        set_clips = [k for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                    ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(set_clips) > 1:
            raise ConfigError(
                f"only one of clipnorm, clipvalue and global_clipnorm can be set; got clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.learning_rate = learning_rate
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.clipnorm = _check_nonnegative("clipnorm", clipnorm)
        self.clipvalue = _check_nonnegative("clipvalue", clipvalue)
        self.global_clipnorm = _check_nonnegative("global_clipnorm", global_clipnorm)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._params = None if params is None else list(params)
        if self._params is not None and not all(isinstance(p, Tensor) for p in self._params):
            kinds = sorted({type(p).__name__ for p in self._params if not isinstance(p, Tensor)})
            raise ConfigError(f"the parameter list must hold only Tensors; got items of type {kinds}")
        self._variables: list[Tensor] = []  # every variable seen, in first-seen order (slot key = position)
        self._index: dict[int, int] = {}  # id(variable) -> position in self._variables
        self._slots: dict[str, list[np.ndarray]] = {}  # slot name -> one array per variable
        self._scratch: dict[np.dtype, np.ndarray] = {}  # one flat work buffer per dtype, shared by variables

    # ------------------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The current step size, a plain float (settable). With a schedule, ``schedule(iterations)``."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, dict):
            value = schedules.deserialize(value)
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(getattr(self, "_learning_rate", None), LearningRateSchedule):
            raise ConfigError(
                f"this optimizer follows the schedule {self._learning_rate!r}, so its learning rate cannot be set "
                f"to {value!r}; construct it with a float learning_rate to set the rate by hand"
            )
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        self._learning_rate = _check_nonnegative("learning_rate", value, allow_none=False)

    # ------------------------------------------------------------------------------ subclass hooks
    def slot_names(self) -> tuple:
        """Names of the per-variable state arrays this optimizer keeps (given its settings)."""
        return ()

    def update_step(self, grad: np.ndarray, value: np.ndarray, slots: dict, lr: float, scratch: np.ndarray):
        """Update ``value`` and ``slots`` in place from ``grad``. ``scratch`` is free work space of ``value``'s
        shape and dtype."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ building state
    @property
    def variables(self) -> list:
        """The variables this optimizer has state for, in slot-key order."""
        return list(self._variables)

    def build(self, variables) -> None:
        """Create zero slots for every variable not seen before, in order (idempotent)."""
        for variable in variables:
            if not isinstance(variable, Tensor):
                raise ConfigError(f"optimizers update Tensors; got a {type(variable).__name__}")
            if id(variable) in self._index:
                continue
            self._index[id(variable)] = len(self._variables)
            self._variables.append(variable)
            for slot in self.slot_names():
                self._slots.setdefault(slot, []).append(np.zeros_like(variable.data))

    def _work_buffer(self, value: np.ndarray) -> np.ndarray:
        """A view of shape ``value.shape`` into the shared work buffer of ``value``'s dtype."""
        buffer = self._scratch.get(value.dtype)
        if buffer is None or buffer.size < value.size:
            buffer = np.empty(value.size, dtype=value.dtype)
            self._scratch[value.dtype] = buffer
        return buffer[: value.size].reshape(value.shape)  # (size,) -> variable's shape, a view

    # ------------------------------------------------------------------------------ Keras API
    def apply_gradients(self, grads_and_vars) -> None:
        """Keras: update each variable from its gradient, ``grads_and_vars`` being ``(grad, variable)`` pairs."""
        pairs = list(grads_and_vars)
        if not pairs:
            return
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))

    def apply(self, grads, variables=None) -> None:
        """Keras: update ``variables`` (Tensors, in place) from ``grads`` (arrays; None entries are skipped).

        Without ``variables``, ``grads`` must match the variables the optimizer has already seen, one to one.
        """
        grads = list(grads)
        if variables is None:
            if len(grads) != len(self._variables):
                raise ConfigError(
                    f"apply() without variables needs one gradient per known variable ({len(self._variables)}); "
                    f"got {len(grads)} gradients"
                )
            variables = self._variables
        else:
            variables = list(variables)
            if len(variables) != len(grads):
                raise ConfigError(f"got {len(grads)} gradients for {len(variables)} variables")
        if not grads:
            return
        self.build(variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            raise RnnkitError("no gradients provided for any variable (every gradient is None)")
        grads = [self._as_gradient(g, v) for g, v in pairs]
        variables = [v for _, v in pairs]
        grads = self._clip_gradients(grads)
        lr = self.learning_rate
        for grad, variable in zip(grads, variables):
            value = variable.data
            scratch = self._work_buffer(value)
            if self.weight_decay:
                np.multiply(value, self.weight_decay * lr, out=scratch)
                value -= scratch
            index = self._index[id(variable)]
            slots = {name: arrays[index] for name, arrays in self._slots.items()}
            self.update_step(grad, value, slots, lr, scratch)
        self.iterations += 1

    @staticmethod
    def _as_gradient(grad, variable: Tensor) -> np.ndarray:
        grad = grad.data if isinstance(grad, Tensor) else grad
        grad = np.asarray(grad, dtype=variable.dtype)
        if grad.shape != variable.shape:
            raise ShapeError(f"gradient of shape {grad.shape} for a variable of shape {variable.shape}")
        return grad

    def _clip_gradients(self, grads: list) -> list:
        """Keras' clipping; returns new arrays (the callers' gradients are never modified)."""
        if self.clipnorm:
            clipped = []
            for g in grads:
                norm = math.sqrt(float(np.vdot(g, g)))
                clipped.append(g * (self.clipnorm / max(norm, self.clipnorm)) if norm > 0 else g)
            return clipped
        if self.global_clipnorm:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            # c * min(1/norm, 1/c): 1 when norm <= c; NaN when the norm is not finite (as Keras)
            scale = self.global_clipnorm / max(norm, self.global_clipnorm) if math.isfinite(norm) else math.nan
            return [g * scale for g in grads]
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # ------------------------------------------------------------------------------ PyTorch API
    def _parameter_list(self, params) -> list:
        if params is not None:
            return list(params)
        if self._params is None:
            raise ConfigError(
                "step() needs parameters: construct the optimizer with them (Adam(model.parameters(), lr=...)) "
                "or call step(params)"
            )
        return self._params

    def step(self, params=None) -> None:
        """PyTorch: update each parameter from its ``.grad`` (parameters whose grad is None are skipped)."""
        params = self._parameter_list(params)
        self.build(params)
        with_grad = [p for p in params if p.grad is not None]
        if with_grad:
            self.apply([p.grad for p in with_grad], with_grad)

    def zero_grad(self, params=None) -> None:
        """PyTorch: set ``.grad = None`` on the parameters (those given at construction, else every known one)."""
        if params is None:
            params = self._params if self._params is not None else self._variables
        for p in params:
            p.grad = None

    # ------------------------------------------------------------------------------ state and config
    def get_state(self) -> dict:
        """``{"iterations": int64 array, "<slot>/<variable index>": array, ...}`` (copies)."""
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        for name in self.slot_names():
            for i, array in enumerate(self._slots.get(name, [])):
                state[f"{name}/{i}"] = array.copy()
        return state

    def set_state(self, state: dict, variables) -> None:
        """Restore ``get_state()`` output for ``variables`` (the same variables, in the same order)."""
        variables = list(variables)
        expected = {"iterations"} | {f"{n}/{i}" for n in self.slot_names() for i in range(len(variables))}
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise DataError(
                f"optimizer state does not match {type(self).__name__} with {len(variables)} variables: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        self._variables, self._index, self._slots = [], {}, {}
        self.build(variables)
        for name in self.slot_names():
            for i, variable in enumerate(variables):
                array = np.asarray(state[f"{name}/{i}"])
                if array.shape != variable.shape:
                    raise DataError(
                        f"optimizer state {name}/{i} has shape {array.shape}; its variable has shape {variable.shape}"
                    )
                self._slots[name][i][...] = array
        self.iterations = int(np.asarray(state["iterations"]))

    def get_config(self) -> dict:
        """The constructor arguments (JSON-able), as Keras' ``get_config``."""
        return {
            "name": self.name,
            "learning_rate": (schedules.serialize(self._learning_rate)
                              if isinstance(self._learning_rate, LearningRateSchedule) else self._learning_rate),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        return cls(**config)

    def __repr__(self) -> str:
        defaults = {}
        for klass in reversed(type(self).__mro__[:-1]):  # base defaults first, subclasses override
            if "__init__" in klass.__dict__:
                parameters = inspect.signature(klass.__dict__["__init__"]).parameters.items()
                defaults.update({k: p.default for k, p in parameters if p.default is not inspect.Parameter.empty})
        defaults["name"] = type(self).__name__.lower()
        shown = [f"{k}={v!r}" for k, v in self.get_config().items() if k not in defaults or defaults[k] != v]
        return f"{type(self).__name__}({', '.join(shown)})"


def _accept_pytorch_style(init):
    """Wrap a subclass ``__init__`` so that ``Opt(params, lr)`` / ``Opt(params, lr=...)`` work as in PyTorch.

    When the first positional argument is an iterable of Tensors it is the parameter list; a second positional
    argument is then the learning rate, and further ones must be passed by keyword (their order differs
    between Keras and PyTorch). ``lr=`` is an alias of ``learning_rate=`` in either style.
    """

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if args and _is_parameter_list(args[0]):
            if "params" in kwargs:
                raise ConfigError("the parameter list was given twice (positionally and as params=)")
            kwargs["params"] = args[0]
            if len(args) > 2:
                raise ConfigError(
                    f"{type(self).__name__}(params, lr, ...): pass the arguments after the learning rate by "
                    f"keyword; got {len(args) - 2} more positional argument(s)"
                )
            if len(args) == 2:
                kwargs["lr"] = args[1]
            args = ()
        if "lr" in kwargs:
            if "learning_rate" in kwargs or args:
                raise ConfigError("the learning rate was given twice (learning_rate and lr)")
            kwargs["learning_rate"] = kwargs.pop("lr")
        init(self, *args, **kwargs)

    return wrapper
