"""Training checkpoints: everything a stopped ``fit`` needs to continue bit for bit, in one model file.

A checkpoint is a model file (``saving.model_members``: config, weights, optimizer slots and iteration count;
``load_model`` opens it like any model) with two more members::

    training_state.json   {"format": "rnnkit-checkpoint", "format_version": 1,
                           "epoch", "step"            the next step to run (0-based), see FitProgress
                           "samples", "batch_size", "steps", "shuffle", "epochs"   the fit it belongs to
                           "loss_sum", "seen", "metric_states", "epoch_logs", "global_step", "position",
                           "learning_rate",           the optimizer's float rate (a scheduler may change it)
                           "rng": {"shuffle": state, "global": state, "layers": [{"path", "attr", "state"}]},
                           "metadata": {...}}         free JSON from the caller (the CLI keeps its run config)
    order.npz             o0000: this epoch's sample order, when the checkpoint is inside a shuffled epoch

Random states are NumPy ``bit_generator.state`` dicts (plain integers), so nothing is pickled. Every dropout
layer's (and recurrent cell's) ``Generator`` is found by walking the layer tree and named by its path of
child indices. Writes are atomic (``fileio.atomic_write``); a checkpoint is never written while any weight is
NaN or infinite, so the last good one survives a diverging run.

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.layers import Dense, Dropout
>>> from rnnkit.models import Sequential
>>> model = Sequential([Dense(4, input_shape=(3,)), Dropout(0.5), Dense(1)])
>>> [path for path, attr, _ in layer_generators(model)]
[[1]]
"""
from __future__ import annotations

import json
import os

import numpy as np

from rnnkit import random as rnnkit_random
from rnnkit.errors import ConfigError, DataError, RnnkitError
from rnnkit.models import saving
from rnnkit.models.progress import first_nonfinite, nonfinite_error

FORMAT = "rnnkit-checkpoint"
FORMAT_VERSION = 1
STATE_MEMBER = "training_state.json"
ORDER_MEMBER = "order.npz"


def layer_generators(model) -> list:
    """``[(path, attribute, Generator), ...]`` for every NumPy Generator held by a layer inside ``model``, in a
    fixed order (``path`` lists child indices from the model down)."""
    found = []
    stack = [([], model)]
    while stack:
        path, layer = stack.pop()
        for attr, value in sorted(vars(layer).items()):
            if isinstance(value, np.random.Generator):
                found.append((path, attr, value))
        children = layer.__dict__.get("_layers", [])
        stack.extend((path + [i], child) for i, child in reversed(list(enumerate(children))))
    return found


def _learning_rate(optimizer):
    from rnnkit.optimizers.schedules import LearningRateSchedule

    if optimizer is None or isinstance(getattr(optimizer, "_learning_rate", None), LearningRateSchedule):
        return None
    return float(optimizer.learning_rate)


def save_checkpoint(path, model, progress, metadata=None) -> None:
    """Write ``model`` and the ``fit`` position ``progress`` (a ``FitProgress``) to ``path``, atomically.

    Raises ``NonFiniteError`` (and writes nothing) when a weight is NaN or infinite."""
    bad = first_nonfinite([w.data for w in model.weights], model.weights)
    if bad is not None:
        raise nonfinite_error(
            f"weight {bad[0]!r} holds {bad[1]} values after epoch {progress.epoch + 1}, step {progress.step}; "
            "the checkpoint was not written (the previous one is kept). Lower the learning rate or clip the "
            "gradients (clipnorm=...)", epoch=progress.epoch + 1, step=progress.step, parameter=bad[0])
    members = saving.model_members(model)
    state = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "epoch": progress.epoch, "step": progress.step, "epochs": progress.epochs, "steps": progress.steps,
        "samples": progress.samples, "batch_size": progress.batch_size, "shuffle": progress.shuffle,
        "loss_sum": progress.loss_sum, "seen": progress.seen, "metric_states": progress.metric_states,
        "epoch_logs": [[e, logs] for e, logs in progress.epoch_logs], "global_step": progress.global_step,
        "position": progress.position,
        "learning_rate": _learning_rate(getattr(model, "optimizer", None)),
        "rng": {
            "shuffle": progress.rng.bit_generator.state,
            "global": rnnkit_random.get_state(),
            "layers": [{"path": p, "attr": a, "state": g.bit_generator.state} for p, a, g in layer_generators(model)],
        },
        "metadata": metadata,
    }
    members[STATE_MEMBER] = json.dumps(state).encode("utf-8")
    if (progress.step > 0 or progress.position > 0) and progress.order is not None:
        members[ORDER_MEMBER] = saving._npz_bytes({"o0000": np.asarray(progress.order, dtype=np.int64)})
    saving.write_archive(path, members)


def read_metadata(path) -> dict:
    """The caller's ``metadata`` and the position (``epoch``, ``step``) saved in the checkpoint at ``path``."""
    state = _read_state(saving.read_archive(path), path)
    return {"metadata": state.get("metadata"), "epoch": state["epoch"], "step": state["step"]}


def _read_state(members: dict, path) -> dict:
    state = saving._load_json(members, STATE_MEMBER, path)
    if state.get("format") != FORMAT or state.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path} is not an rnnkit checkpoint (format {state.get('format')!r}, version "
                        f"{state.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION})")
    for key in ("epoch", "step", "steps", "samples", "batch_size", "seen", "global_step"):
        value = state.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DataError(f"{path}: training state {key!r} must be a non-negative integer; got {value!r:.100}")
    return state


def _set_generator(generator: np.random.Generator, state, what: str, path) -> None:
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise DataError(f"{path}: the saved random state of {what} is malformed: {error}") from None


def restore_checkpoint(path, model, progress) -> None:
    """Load the checkpoint at ``path`` into ``model`` (weights, optimizer state, random states) and move
    ``progress`` to the saved position. The checkpoint must come from a ``fit`` over the same number of samples
    with the same batch size and shuffling; otherwise ``ConfigError`` says what differs."""
    members = saving.read_archive(path)
    state = _read_state(members, path)
    for key in ("samples", "batch_size", "shuffle"):
        if state.get(key) != getattr(progress, key):
            raise ConfigError(f"the checkpoint {path} belongs to a fit with {key}={state.get(key)!r}; this fit has "
                              f"{key}={getattr(progress, key)!r}. Resume with the same data and settings, or "
                              "delete the checkpoint to start over")
    if (progress.steps and state["step"] > progress.steps) or (state["step"] > 0 and state["epoch"] >= progress.epochs):
        raise DataError(f"{path}: saved position epoch {state['epoch']} step {state['step']} lies outside this fit "
                        f"({progress.epochs} epochs of {progress.steps} steps)")
    config = saving._load_json(members, "config.json", path)
    saving._check_format(config, saving.FORMAT, path)
    entries = saving._entries(config, path)
    arrays = saving._load_npz(members, "weights.npz", path, len(entries), "w")
    try:
        saving._build_if_needed(model, config.get("build_input_spec"), path)
        saving._assign_weights(model, arrays, entries, path)
        if getattr(model, "optimizer", None) is not None:
            model._trainable_list()  # optimizer slots in trainable-weight order, as fit builds them
            saving.restore_optimizer(model, config, members, path)
            if state.get("learning_rate") is not None:
                model.optimizer.learning_rate = float(state["learning_rate"])
        order = None
        position = state.get("position", 0)
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise DataError(f"{path}: training state 'position' must be a non-negative integer; got {position!r:.100}")
        if (state["step"] > 0 or position > 0) and state.get("shuffle"):
            order = saving._load_npz(members, ORDER_MEMBER, path, 1, "o")[0]
            if order.shape != (progress.samples,) or order.dtype.kind not in "iu" or \
                    not np.array_equal(np.sort(order), np.arange(progress.samples)):
                raise DataError(f"{path}: the saved data order is not a permutation of {progress.samples} samples")
        rng = state.get("rng") or {}
        _set_generator(progress.rng, rng.get("shuffle"), "the shuffling", path)
        generators = layer_generators(model)
        saved = rng.get("layers") or []
        if [[list(p), a] for p, a, _ in generators] != [[s.get("path"), s.get("attr")] for s in saved
                                                        if isinstance(s, dict)]:
            raise DataError(f"{path}: the saved dropout random states do not match the model's layers")
        for (p, a, g), s in zip(generators, saved):
            _set_generator(g, s["state"], f"layer path {p}", path)
        global_stream = np.random.default_rng()
        _set_generator(global_stream, rng.get("global"), "rnnkit.random", path)
        rnnkit_random.set_state(global_stream.bit_generator.state)
        progress.epoch, progress.step, progress.order = state["epoch"], state["step"], order
        progress.position = position
        progress.loss_sum, progress.seen = float(state["loss_sum"]), state["seen"]
        metric_values = state.get("metric_states")
        if metric_values is not None and not (isinstance(metric_values, list) and all(
                isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair)
                for pair in metric_values)):
            raise DataError(f"{path}: the saved metric states {metric_values!r:.100} are malformed")
        progress.metric_states = metric_values
        progress.epoch_logs = [(int(e), {str(k): float(v) for k, v in logs.items()})
                               for e, logs in state.get("epoch_logs") or []]
        progress.global_step = state["global_step"]
    except RnnkitError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as error:
        raise DataError(f"{path}: corrupt training state: {type(error).__name__}: {error}") from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def remove_checkpoint(path) -> None:
    """Delete a checkpoint file if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
