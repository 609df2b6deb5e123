"""Learning-rate schedules (Keras 3 names and formulas): pure functions of the optimizer's step count.

Pass one as an optimizer's ``learning_rate``; at every update the optimizer uses ``schedule(iterations)``,
``iterations`` being the number of updates done before this one (0 for the first):

    ExponentialDecay        lr = initial * decay_rate ^ (step / decay_steps)       (floor of the power: staircase)
    InverseTimeDecay        lr = initial / (1 + decay_rate * step / decay_steps)   (floor of the ratio: staircase)
    PiecewiseConstantDecay  lr = values[i] for boundaries[i-1] < step <= boundaries[i]
    CosineDecay             lr = initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2
                                 + alpha), after an optional linear warm-up from initial to warmup_target

>>> from rnnkit.optimizers import SGD, schedules
>>> schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> schedule(0), schedule(10), round(schedule(5), 6)
(0.1, 0.05, 0.070711)
>>> opt = SGD(learning_rate=schedule)
>>> opt.iterations = 20
>>> round(opt.learning_rate, 6)
0.025
"""
from __future__ import annotations

import math

from rnnkit.errors import ConfigError


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float``, with ``get_config`` / ``from_config``."""

    def __call__(self, step) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _positive(name: str, value) -> float:
    if not value > 0:
        raise ConfigError(f"{name} must be > 0; got {value!r}")
    return value


class _StepDecay(LearningRateSchedule):
    """The arguments ExponentialDecay and InverseTimeDecay share; subclasses define ``__call__``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (Keras ``ExponentialDecay``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps over which the rate is multiplied by ``decay_rate`` once.
        decay_rate: the factor per ``decay_steps``.
        staircase: decay in whole steps of ``decay_steps`` (``floor(step / decay_steps)``). Default False.
    """

    def __call__(self, step) -> float:
        power = step / self.decay_steps
        if self.staircase:
            power = math.floor(power)
        return self.initial_learning_rate * self.decay_rate**power


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (Keras ``InverseTimeDecay``)."""

    def __call__(self, step) -> float:
        ratio = step / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return self.initial_learning_rate / (1 + self.decay_rate * ratio)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[1]`` up to ``boundaries[1]``, ...,
    ``values[-1]`` after the last boundary (Keras ``PiecewiseConstantDecay``)."""

    def __init__(self, boundaries, values, name=None):
        if len(values) != len(boundaries) + 1:
            raise ConfigError(f"values needs one more entry than boundaries; got {len(boundaries)} boundaries and "
                              f"{len(values)} values")
        if list(boundaries) != sorted(boundaries):
            raise ConfigError(f"boundaries must increase; got {list(boundaries)}")
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]
        self.name = name

    def __call__(self, step) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warm-up (Keras ``CosineDecay``).

    Without warm-up: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) +
    alpha)``. With ``warmup_target``: the rate rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps``, then decays from ``warmup_target`` as above.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps

    def _decay(self, step, start) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}`` (JSON-able)."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """The schedule described by a ``serialize`` dict."""
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ConfigError(f"unknown learning-rate schedule {config!r}; expected class_name in {sorted(_CLASSES)}")
    return cls.from_config(dict(config.get("config", {})))
