"""The sharded training, test and prediction steps that ``fit``, ``evaluate`` and ``predict`` run under a
``DataParallel`` (called from small hooks in ``rnnkit.models.training``).

Loss: a ``"sum_over_batch_size"`` loss over the global batch is ``S / D``: ``S`` the sum of the (sample- and
mask-) weighted per-sample values, ``D`` their number (the valid steps' number under a mask). Rank ``r`` computes
``S_r / D`` with the global ``D`` (known locally without a mask: values per row times the global rows; one
extra all-reduce with a mask), so the ranks' losses, and their gradients, add up to the one-process loss and
gradient. Gradients are summed over the ranks in flat buckets together with the loss value; every rank then
applies the same summed gradient with its own (identical) optimizer, so weights and optimizer state stay equal.

Metrics: each rank adds its rows to zeroed metric states; the ``(total, count)`` pairs are summed over the
ranks and added to the running states, which are then what one process would hold (sums and counts, not means
of means). In a training or test step these sums travel in the same all-reduce as the gradients and the loss
(one collective per step); ``fit`` then adds them when it updates its metrics.

>>> from rnnkit.distribution.sharding import make_shard
>>> make_shard(5, 2, 1)
Shard(rows=5, lo=3, hi=5, stand_in=False)
"""
from __future__ import annotations

import math

import numpy as np

from rnnkit import losses as losses_module
from rnnkit.autograd import Tensor
from rnnkit.distribution.sharding import find_generators, make_shard, sliced_dropout
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.models.progress import first_nonfinite, nonfinite_error


def _arrays(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _take_input(x, shard):
    if isinstance(x, (list, tuple)):
        return [shard.take(a) for a in x]
    return shard.take(x)


def _shard_for(strategy, rows: int):
    shard = make_shard(rows, strategy.world_size, strategy.rank)
    strategy.shard = shard
    return shard


# ------------------------------------------------------------------------------------------------ loss
def local_loss(strategy, model, shard, ys: list, outs: list, sw) -> Tensor:
    """This rank's share of the global-batch loss (see the module docstring)."""
    loss_objects = model._loss_objects
    if not isinstance(loss_objects, list):
        loss_objects = [loss_objects] * len(outs)
    if len(loss_objects) != len(outs) or len(ys) != len(outs):
        model._compute_loss(ys, outs, sw)  # raises its own error naming outputs, targets and losses
    sums, denominators, masked = [], [], []
    try:
        for fn, y, out in zip(loss_objects, ys, outs):
            if not isinstance(fn, losses_module.Loss) or type(fn).__call__ is not losses_module.Loss.__call__ \
                    or fn.reduction not in ("sum_over_batch_size", "mean", "sum"):
                raise ConfigError(f"DataParallel supports rnnkit Loss objects with the 'sum_over_batch_size' or "
                                  f"'sum' reduction; got {fn!r}")
            values = fn.call(y, out)
            mask = getattr(out, "_keras_mask", None)
            if mask is not None and np.shape(mask) != values.shape:
                mask = None  # as Loss.__call__: a (batch, time) mask applies to a per-step loss only
            sums.append(losses_module.reduce_weighted(values, sw, mask, "sum"))
            if fn.reduction == "sum":
                denominators.append(1.0)
            elif mask is not None:
                denominators.append(0.0 if shard.stand_in else float(np.asarray(mask).sum()))
                masked.append(len(denominators) - 1)
            else:
                denominators.append(values.size / shard.local_rows * shard.rows)  # per row x global rows
    except ShapeError:
        model._compute_loss(ys, outs, sw)  # the same error with the single-process hints
        raise
    if masked:
        local = np.array([denominators[k] for k in masked], dtype=np.float64)
        strategy.all_reduce([local], f"summing the loss's valid steps {strategy.where}".strip())
        for k, total in zip(masked, local):
            denominators[k] = float(total)
    total = None
    for k, (s, d) in enumerate(zip(sums, denominators)):
        weight = 0.0 if shard.stand_in else (1.0 if model._loss_weights is None else model._loss_weights[k])
        term = s * (weight / d if d else 0.0)
        total = term if total is None else total + term
    return total


# ----------------------------------------------------------------------------------------------- steps
def _generators(strategy, model) -> list:
    """The model's layer generators, found once per ``fit`` (keyed by its trainable-weight list, which ``fit``
    rebuilds when it starts) rather than on every step; a generator replaced since (a restored checkpoint
    assigns states in place) is found again."""
    key = (id(model), id(model._trainable_list()))
    cached = getattr(strategy, "_generator_cache", None)
    if cached is None or cached[0] != key or any(getattr(layer, attr) is not g for layer, attr, g in cached[1]):
        cached = strategy._generator_cache = (key, find_generators(model))
    return cached[1]



def train_step(strategy, model, x, ys: list, sw, where: str) -> tuple:
    """One update on this rank's slice of the global batch; returns ``(global loss value, local outputs)``."""
    shard = _shard_for(strategy, len(ys[0]))
    strategy.where = where
    check_agreement(strategy, model)
    x_local, ys_local, sw_local = _take_input(x, shard), [shard.take(y) for y in ys], shard.take(sw)
    with sliced_dropout(model, shard, _generators(strategy, model)):
        out = model(x_local, training=True)
    outs = model._outputs_list(out)
    loss = local_loss(strategy, model, shard, ys_local, outs, sw_local)
    metric_objects = model._resolve_metrics(ys_local, outs)
    scalars = np.concatenate([[float(loss.data)], local_metric_sums(model, shard, metric_objects, ys_local, outs)])
    weights = model._trainable_list()
    grads = None
    if weights and loss.requires_grad:
        for w in weights:
            w.grad = None
        loss.backward()  # even for a non-finite loss: every rank must join the all-reduce
        grads = strategy.reduce_gradients(weights, [w.grad for w in weights], scalars)
    else:
        strategy.all_reduce([scalars], f"summing the loss {where}".strip())
    strategy.pending_metrics = (metric_objects, scalars[1:].reshape(-1, 2))  # (metrics, 2) summed
    value = float(scalars[0])
    if not math.isfinite(value) or grads is None:
        return value, outs
    bad = first_nonfinite(grads, weights)
    if bad is not None:
        reason = f"parameter {bad[0]!r} has {bad[1]} gradient values (the loss was {value:.6g})"
        raise nonfinite_error(f"non-finite gradient {where or 'in train_on_batch()'}: {reason}; the weights were "
                              "not updated. Clip the gradients (clipnorm=...) or lower the learning rate",
                              parameter=bad[0], reason=reason)
    model.optimizer.apply(grads, weights)
    return value, outs


def test_step(strategy, model, x, ys: list, sw) -> tuple:
    """The global-batch loss value and this rank's outputs, without gradients."""
    shard = _shard_for(strategy, len(ys[0]))
    out = model(_take_input(x, shard), training=False)
    outs = model._outputs_list(out)
    ys_local = [shard.take(y) for y in ys]
    loss = local_loss(strategy, model, shard, ys_local, outs, shard.take(sw))
    metric_objects = model._resolve_metrics(ys_local, outs)
    scalars = np.concatenate([[float(loss.data)], local_metric_sums(model, shard, metric_objects, ys_local, outs)])
    strategy.all_reduce([scalars], "summing the evaluation loss and metrics")
    strategy.pending_metrics = (metric_objects, scalars[1:].reshape(-1, 2))
    return float(scalars[0]), outs


def predict_step(strategy, model, x):
    """The outputs of the whole global batch on every rank: each rank computes its slice, then all-gather."""
    rows = len(_arrays(x)[0])
    shard = _shard_for(strategy, rows)
    out = model(_take_input(x, shard), training=False)
    share = -(-rows // strategy.world_size)  # the largest share: every rank sends this many rows
    gathered = []
    for o in model._outputs_list(out):
        local = np.zeros((share,) + o.shape[1:], dtype=o.data.dtype)  # (share, ...) padded
        if not shard.stand_in:
            local[:shard.hi - shard.lo] = o.data
        parts = strategy.all_gather(local, "gathering predictions")
        from rnnkit.distribution.sharding import shard_bounds

        pieces = [p[:hi - lo] for r, p in enumerate(parts) for lo, hi in [shard_bounds(rows, strategy.world_size, r)]]
        gathered.append(Tensor(np.concatenate(pieces), dtype=o.data.dtype))  # (rows, ...)
    return gathered if isinstance(out, (list, tuple)) else gathered[0]


# --------------------------------------------------------------------------------------------- metrics
def local_metric_sums(model, shard, metric_objects, ys_local: list, outs: list) -> np.ndarray:
    """``[total, count, total, count, ...]`` of this rank's rows for each metric; the running states are kept."""
    running = [(m._total, m._count) for m in metric_objects]
    for m in metric_objects:
        m._total, m._count = 0.0, 0.0
    if metric_objects and not shard.stand_in:
        model._update_metric_states(metric_objects, ys_local, outs)
    sums = np.array([v for m in metric_objects for v in (m._total, m._count)], dtype=np.float64)
    for m, (total, count) in zip(metric_objects, running):
        m._total, m._count = total, count
    return sums


def update_metrics(strategy, metric_objects, ys: list, outs: list, local_update) -> None:
    """Add the step's metric sums over all ranks to the running states: those the step already all-reduced, or
    (outside a step) this rank's rows summed over the ranks now."""
    pending, strategy.pending_metrics = getattr(strategy, "pending_metrics", None), None
    if pending is not None and pending[0] is metric_objects:
        for m, (d_total, d_count) in zip(metric_objects, pending[1]):
            m._total, m._count = m._total + float(d_total), m._count + float(d_count)
        return
    shard = strategy.shard
    running = [(m._total, m._count) for m in metric_objects]
    for m in metric_objects:
        m._total, m._count = 0.0, 0.0
    if shard is not None and not shard.stand_in:
        local_ys = [shard.take(y) if len(y) == shard.rows else y for y in ys]
        local_update(metric_objects, local_ys, outs)
    sums = np.array([[m._total, m._count] for m in metric_objects], dtype=np.float64)  # (metrics, 2)
    strategy.all_reduce([sums], "summing the metrics")
    for m, (total, count), (d_total, d_count) in zip(metric_objects, running, sums):
        m._total, m._count = total + float(d_total), count + float(d_count)


# ------------------------------------------------------------------------------------------- agreement
def _generator_key(generator) -> list:
    state = generator.bit_generator.state.get("state", {})
    return [float(int(v) % 2**52) for v in state.values()] if isinstance(state, dict) else []


def check_agreement(strategy, model) -> None:
    """Once per ``fit``: check that every rank holds the same weights, data order, position and generators."""
    from rnnkit.models.checkpoint import layer_generators

    progress = getattr(model, "_fit_progress", None)
    if progress is None or getattr(strategy, "_checked", None) is progress:
        return
    strategy._checked = progress
    weights = model.trainable_weights  # (BatchNormalization's moving statistics are per rank: not compared)
    parts = {
        "initial weights": [float(np.asarray(w.data, dtype=np.float64).sum()) for w in weights],
        "position in fit (epoch, step)": [float(progress.epoch), float(progress.step)],
        "data order (shuffling)": [] if progress.order is None else
        [float(np.dot(np.asarray(progress.order, dtype=np.float64), np.arange(1.0, len(progress.order) + 1)))],
        "random generators (dropout, shuffling)": _generator_key(progress.rng) +
        [v for _, _, g in layer_generators(model) for v in _generator_key(g)],
    }
    vector = np.array([v for values in parts.values() for v in values], dtype=np.float64)
    lengths = strategy.all_gather(np.array([len(vector)], dtype=np.float64), "checking that the ranks agree")
    if any(int(n[0]) != len(vector) for n in lengths):
        raise ConfigError("the ranks hold different models (their weight counts differ); build the same model "
                          "on every rank")
    everyone = strategy.all_gather(vector, "checking that the ranks agree")
    differ, start = [], 0
    for name, values in parts.items():
        block = slice(start, start + len(values))
        start += len(values)
        if any(not np.array_equal(v[block], everyone[0][block]) for v in everyone[1:]):
            differ.append(name)
    if differ:
        ranks = [r for r, v in enumerate(everyone) if not np.array_equal(v, everyone[0])]
        raise ConfigError(f"the ranks disagree on the {' and '.join(differ)} (ranks {ranks} differ from rank 0): "
                          "call rnnkit.distribution.set_distribution(DataParallel()) before building the model "
                          "(it shares rank 0's seeds), or rnnkit.random.set_random_seed(seed) with one seed on "
                          "every rank, and resume every rank from the same checkpoint")
