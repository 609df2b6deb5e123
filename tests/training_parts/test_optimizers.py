"""Optimizers: Keras 3 update rules (plain NumPy transcription), PyTorch equivalents, clipping, state, API."""
import json
import math

import numpy as np
import pytest
from helpers.torch_ref import require_torch

from rnnkit import Tensor
from rnnkit import optimizers
from rnnkit.errors import ConfigError, DataError, RnnkitError, ShapeError
from rnnkit.optimizers import SGD, Adam, RMSprop

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 5


def random_problem(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return params, grads


# ---------------------------------------------------------------------------------------------------------
# Keras 3's update rules, transcribed from keras/src/optimizers/{sgd,adam,rmsprop}.py and base_optimizer.py
# (out of place, one statement per line of the original)
# ---------------------------------------------------------------------------------------------------------
def keras_clip(grads, clipnorm=None, global_clipnorm=None, clipvalue=None):
    if clipnorm:
        out = []
        for g in grads:
            l2 = np.sqrt(np.sum(g * g))
            out.append(g * clipnorm / max(l2, clipnorm) if l2 > 0 else g)
        return out
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        scale = global_clipnorm * min(1.0 / norm, 1.0 / global_clipnorm)
        return [g * scale for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def keras_reference(kind, params, grads_seq, lrs, weight_decay=None, clip=None, **hyper):
    params = [p.copy() for p in params]
    n = len(params)
    zeros = lambda: [np.zeros_like(p) for p in params]  # noqa: E731
    m, v, vhat, mom, avg = zeros(), zeros(), zeros(), zeros(), zeros()
    for iteration, (grads, lr) in enumerate(zip(grads_seq, lrs)):
        grads = keras_clip(grads, **(clip or {}))
        if weight_decay is not None:
            params = [p - p * weight_decay * lr for p in params]
        for i in range(n):
            g, w = grads[i], params[i]
            if kind == "sgd":
                mu, nesterov = hyper.get("momentum", 0.0), hyper.get("nesterov", False)
                if mu != 0:
                    m[i] = m[i] * mu - g * lr
                    w = w + (m[i] * mu - g * lr if nesterov else m[i])
                else:
                    w = w - g * lr
            elif kind == "adam":
                b1, b2 = hyper.get("beta_1", 0.9), hyper.get("beta_2", 0.999)
                eps, amsgrad = hyper.get("epsilon", 1e-7), hyper.get("amsgrad", False)
                t = iteration + 1
                alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                m[i] = m[i] + (g - m[i]) * (1 - b1)
                v[i] = v[i] + (g * g - v[i]) * (1 - b2)
                vv = v[i]
                if amsgrad:
                    vhat[i] = np.maximum(vhat[i], v[i])
                    vv = vhat[i]
                w = w - m[i] * alpha / (np.sqrt(vv) + eps)
            elif kind == "rmsprop":
                rho, mu = hyper.get("rho", 0.9), hyper.get("momentum", 0.0)
                eps, centered = hyper.get("epsilon", 1e-7), hyper.get("centered", False)
                v[i] = rho * v[i] + (1 - rho) * g * g
                if centered:
                    avg[i] = rho * avg[i] + (1 - rho) * g
                    denominator = v[i] - avg[i] ** 2 + eps
                else:
                    denominator = v[i] + eps
                increment = lr * g / np.sqrt(denominator)
                if mu > 0:
                    mom[i] = mu * mom[i] + increment
                    w = w - mom[i]
                else:
                    w = w - increment
            params[i] = w
    return params


CASES = [
    ("sgd", SGD, dict(learning_rate=0.1)),
    ("sgd", SGD, dict(learning_rate=0.1, momentum=0.9)),
    ("sgd", SGD, dict(learning_rate=0.05, momentum=0.8, nesterov=True)),
    ("adam", Adam, dict(learning_rate=0.01)),
    ("adam", Adam, dict(learning_rate=0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-3, amsgrad=True)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01, rho=0.8, centered=True)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01, momentum=0.7, epsilon=1e-4)),
    ("rmsprop", RMSprop, dict(learning_rate=0.01, momentum=0.5, centered=True)),
]
CASE_IDS = [f"{kind}-{'-'.join(f'{k}={v}' for k, v in cfg.items())}" for kind, _, cfg in CASES]
EXTRAS = [
    {},
    {"weight_decay": 0.1},
    {"clip": {"clipnorm": 0.5}},
    {"clip": {"global_clipnorm": 1.0}},
    {"clip": {"clipvalue": 0.3}},
]


def split_hyper(kind, cfg):
    hyper = {k: v for k, v in cfg.items() if k != "learning_rate"}
    return hyper


@pytest.mark.parametrize("extra", EXTRAS, ids=["plain", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("kind,cls,cfg", CASES, ids=CASE_IDS)
def test_matches_keras_update_rule(kind, cls, cfg, extra):
    params0, grads = random_problem(seed=len(CASE_IDS))
    lr = cfg["learning_rate"]
    expected = keras_reference(kind, params0, grads, [lr] * STEPS, weight_decay=extra.get("weight_decay"),
                               clip=extra.get("clip"), **split_hyper(kind, cfg))
    kwargs = dict(cfg, **extra.get("clip", {}))
    if "weight_decay" in extra:
        kwargs["weight_decay"] = extra["weight_decay"]
    opt = cls(**kwargs)
    variables = [Tensor(p.copy(), dtype="float64") for p in params0]
    for step_grads in grads:
        opt.apply_gradients(zip(step_grads, variables))
    assert opt.iterations == STEPS
    for got, want in zip(variables, expected):
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind,cls,cfg", CASES, ids=CASE_IDS)
def test_changing_learning_rate_follows_keras(kind, cls, cfg):
    """The learning rate is read at every step (as LearningRateScheduler changes it between epochs)."""
    params0, grads = random_problem(seed=3)
    lrs = [cfg["learning_rate"] * f for f in (1.0, 1.0, 0.5, 0.25, 2.0)]
    expected = keras_reference(kind, params0, grads, lrs, **split_hyper(kind, cfg))
    opt = cls(**cfg)
    variables = [Tensor(p.copy(), dtype="float64") for p in params0]
    for step_grads, lr in zip(grads, lrs):
        opt.learning_rate = lr
        opt.apply(step_grads, variables)
    for got, want in zip(variables, expected):
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------------------
# PyTorch equivalents
# ---------------------------------------------------------------------------------------------------------
def run_torch(torch_opt_factory, params0, grads_seq, lrs=None):
    torch = require_torch()
    tparams = [torch.tensor(p, requires_grad=True) for p in params0]
    opt = torch_opt_factory(tparams)
    for step, grads in enumerate(grads_seq):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[step]
        for p, g in zip(tparams, grads):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in tparams]


def run_rnnkit(opt, params0, grads_seq, lrs=None):
    variables = [Tensor(p.copy(), dtype="float64", requires_grad=True) for p in params0]
    for step, grads in enumerate(grads_seq):
        if lrs is not None:
            opt.learning_rate = lrs[step]
        for v, g in zip(variables, grads):
            v.grad = g.copy()
        opt.step(variables)
    return [v.data for v in variables]


TORCH_CASES = [
    # (rnnkit optimizer, torch factory): mathematically identical formulations
    ("sgd", lambda: SGD(learning_rate=0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    ("sgd-momentum", lambda: SGD(learning_rate=0.1, momentum=0.9),
     lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("sgd-nesterov", lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
     lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True)),
    # epsilon placement differs (see adam.py); with epsilon 0 the rules are identical
    ("adam-eps0", lambda: Adam(learning_rate=0.01, epsilon=0.0),
     lambda t, ps: t.optim.Adam(ps, lr=0.01, eps=0.0)),
    ("adam-amsgrad-eps0", lambda: Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=0.0, amsgrad=True),
     lambda t, ps: t.optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=0.0, amsgrad=True)),
    # Keras' weight_decay is decoupled: torch's AdamW
    ("adam-weight-decay-eps0", lambda: Adam(learning_rate=0.01, epsilon=0.0, weight_decay=0.1),
     lambda t, ps: t.optim.AdamW(ps, lr=0.01, eps=0.0, weight_decay=0.1)),
    # eps inside vs outside the square root, and momentum buffer without / with lr: identical for eps 0
    ("rmsprop-eps0", lambda: RMSprop(learning_rate=0.01, epsilon=0.0),
     lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0)),
    ("rmsprop-centered-momentum-eps0", lambda: RMSprop(learning_rate=0.01, rho=0.8, momentum=0.6, centered=True,
                                                       epsilon=0.0),
     lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.6, centered=True, eps=0.0)),
]


@pytest.mark.parametrize("name,make_ours,make_theirs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_where_identical(name, make_ours, make_theirs):
    torch = require_torch()
    params0, grads = random_problem(seed=7)
    theirs = run_torch(lambda ps: make_theirs(torch, ps), params0, grads)
    ours = run_rnnkit(make_ours(), params0, grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_adam_default_epsilon_differs_from_torch_by_its_placement():
    """Keras' epsilon is torch's eps / sqrt(1 - beta_2^t): with one step and a tiny gradient this is visible."""
    torch = require_torch()
    params0 = [np.zeros(3)]
    grads = [[np.array([1e-6, -2e-6, 3e-6])]]
    ours = run_rnnkit(Adam(learning_rate=0.1, epsilon=1e-7), params0, grads)[0]
    same_eps = run_torch(lambda ps: torch.optim.Adam(ps, lr=0.1, eps=1e-7), params0, grads)[0]
    scaled_eps = run_torch(lambda ps: torch.optim.Adam(ps, lr=0.1, eps=1e-7 / math.sqrt(1 - 0.999)), params0, grads)[0]
    assert not np.allclose(ours, same_eps, rtol=1e-3)
    np.testing.assert_allclose(ours, scaled_eps, rtol=1e-10)


def test_sgd_momentum_differs_from_torch_when_the_learning_rate_changes():
    """Keras' velocity stores lr-scaled steps; torch's buffer is rescaled by the new lr. Both match their own
    rule: ours the Keras transcription (checked above), torch's not ours."""
    torch = require_torch()
    params0, grads = random_problem(seed=11)
    lrs = [0.1, 0.1, 0.01, 0.01, 0.01]
    ours = run_rnnkit(SGD(learning_rate=0.1, momentum=0.9), params0, grads, lrs)
    theirs = run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), params0, grads, lrs)
    keras = keras_reference("sgd", params0, grads, lrs, momentum=0.9)
    for a, b, k in zip(ours, theirs, keras):
        np.testing.assert_allclose(a, k, rtol=1e-12)
        assert not np.allclose(a, b, rtol=1e-6)


def test_global_clipnorm_matches_torch_clip_grad_norm():
    torch = require_torch()
    params0, grads = random_problem(seed=5, steps=1)
    tparams = [torch.tensor(p, requires_grad=True) for p in params0]
    for p, g in zip(tparams, grads[0]):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_(tparams, max_norm=0.5)
    torch.optim.SGD(tparams, lr=1.0).step()
    ours = run_rnnkit(SGD(learning_rate=1.0, global_clipnorm=0.5), params0, grads)
    for a, b in zip(ours, tparams):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5)  # torch divides by (norm + 1e-6)


# ---------------------------------------------------------------------------------------------------------
# clipping by hand
# ---------------------------------------------------------------------------------------------------------
def sgd_step(grads, **kwargs):
    variables = [Tensor(np.zeros(np.shape(g)), dtype="float64") for g in grads]
    SGD(learning_rate=1.0, **kwargs).apply(grads, variables)
    return [-v.data for v in variables]  # the (clipped) gradients


def test_clipnorm_clips_each_gradient_to_its_own_norm():
    got = sgd_step([np.array([3.0, 4.0]), np.array([0.3, 0.4])], clipnorm=1.0)
    np.testing.assert_allclose(got[0], [0.6, 0.8])
    np.testing.assert_allclose(got[1], [0.3, 0.4])  # norm 0.5 < 1: unchanged


def test_global_clipnorm_scales_all_gradients_together():
    got = sgd_step([np.array([3.0]), np.array([4.0])], global_clipnorm=1.0)
    np.testing.assert_allclose(np.concatenate(got), [0.6, 0.8])
    got = sgd_step([np.array([0.3]), np.array([0.4])], global_clipnorm=1.0)
    np.testing.assert_allclose(np.concatenate(got), [0.3, 0.4])


def test_clipvalue_clips_elements():
    got = sgd_step([np.array([-3.0, 0.5, 2.0])], clipvalue=1.0)
    np.testing.assert_allclose(got[0], [-1.0, 0.5, 1.0])


def test_zero_gradient_is_not_clipped_to_nan():
    np.testing.assert_array_equal(sgd_step([np.zeros(3)], clipnorm=1.0)[0], np.zeros(3))
    np.testing.assert_array_equal(sgd_step([np.zeros(3)], global_clipnorm=1.0)[0], np.zeros(3))


def test_clipping_leaves_the_callers_gradients_alone():
    g = np.array([3.0, 4.0])
    sgd_step([g], clipnorm=1.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_only_one_clipping_argument():
    with pytest.raises(ConfigError, match="only one of"):
        SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ConfigError, match="only one of"):
        Adam(clipnorm=1.0, clipvalue=1.0)


# ---------------------------------------------------------------------------------------------------------
# PyTorch-style use
# ---------------------------------------------------------------------------------------------------------
def test_pytorch_style_construction_step_and_zero_grad():
    from rnnkit.ops.reductions import sum_

    w = Tensor([1.0, -2.0], requires_grad=True, dtype="float64")
    b = Tensor([0.5], requires_grad=True, dtype="float64")
    unused = Tensor([7.0], requires_grad=True, dtype="float64")
    opt = SGD([w, b, unused], lr=0.1)
    assert opt.learning_rate == 0.1
    loss = sum_(w * w) + sum_(b * 3.0)
    loss.backward()
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.1 * 2.0, -2.0 + 0.1 * 4.0])
    np.testing.assert_allclose(b.data, [0.5 - 0.3])
    np.testing.assert_array_equal(unused.data, [7.0])  # grad None: skipped
    assert opt.iterations == 1
    opt.zero_grad()
    assert w.grad is None and b.grad is None


def test_pytorch_style_positional_learning_rate_and_generators():
    w = Tensor([1.0], requires_grad=True, dtype="float64")
    opt = Adam((p for p in [w]), 0.5)
    assert opt.learning_rate == 0.5 and opt.beta_1 == 0.9
    w.grad = np.array([2.0])
    opt.step()
    # first step: m_hat = g, sqrt(v_hat) = |g|, Keras' epsilon is scaled by 1 / sqrt(1 - beta_2)
    np.testing.assert_allclose(w.data, [1.0 - 0.5 * 2.0 / (2.0 + 1e-7 / math.sqrt(1 - 0.999))], rtol=1e-12)


def test_pytorch_style_errors():
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(ConfigError, match="by keyword"):
        SGD([w], 0.1, 0.9)
    with pytest.raises(ConfigError, match="twice"):
        SGD(learning_rate=0.1, lr=0.2)
    with pytest.raises(ConfigError, match="needs parameters"):
        SGD().step()
    with pytest.raises(ConfigError, match="only Tensors"):
        SGD([np.zeros(2)])


def test_step_with_every_grad_none_is_a_no_op_but_apply_is_an_error():
    w = Tensor([1.0], requires_grad=True)
    opt = SGD([w])
    opt.step()
    assert opt.iterations == 0
    with pytest.raises(RnnkitError, match="no gradients"):
        opt.apply([None], [w])


def test_updates_are_in_place_and_keep_float32():
    w = Tensor(np.ones((4, 3)), requires_grad=True)
    before = w.data
    for cls in (SGD, Adam, RMSprop):
        opt = cls(learning_rate=0.1, momentum=0.5) if cls is not Adam else cls(learning_rate=0.1)
        opt.apply_gradients([(np.full((4, 3), 0.5, dtype=np.float64), w)])
        assert w.data is before and w.data.dtype == np.float32


def test_gradient_shape_is_checked():
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        SGD().apply([np.zeros(3)], [Tensor(np.zeros(2))])


def test_learning_rate_is_a_settable_float():
    opt = Adam()
    opt.learning_rate = np.float32(0.5)
    assert type(opt.learning_rate) is float and opt.learning_rate == 0.5
    with pytest.raises(ConfigError, match="learning_rate"):
        opt.learning_rate = -1.0


# ---------------------------------------------------------------------------------------------------------
# state, config, registry
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,cls,cfg", CASES, ids=CASE_IDS)
def test_state_round_trip_continues_identically(kind, cls, cfg):
    params0, grads = random_problem(seed=9, steps=6)
    first = cls(**cfg)
    variables = [Tensor(p.copy(), dtype="float64") for p in params0]
    for g in grads[:3]:
        first.apply(g, variables)
    state = first.get_state()
    assert sorted(state) == sorted(["iterations"] + [f"{s}/{i}" for s in first.slot_names() for i in range(3)])
    resumed_vars = [Tensor(v.data.copy(), dtype="float64") for v in variables]
    resumed = cls.from_config(json.loads(json.dumps(first.get_config())))
    resumed.set_state({k: v.copy() for k, v in state.items()}, resumed_vars)
    assert resumed.iterations == 3
    for g in grads[3:]:
        first.apply(g, variables)
        resumed.apply(g, resumed_vars)
    for a, b in zip(variables, resumed_vars):
        np.testing.assert_array_equal(a.data, b.data)


def test_set_state_rejects_mismatched_state():
    w = Tensor(np.zeros(3))
    opt = Adam()
    opt.apply([np.ones(3)], [w])
    state = opt.get_state()
    with pytest.raises(DataError, match="missing keys"):
        Adam(amsgrad=True).set_state(state, [w])
    bad = dict(state, **{"momentum/0": np.zeros(4)})
    with pytest.raises(DataError, match="shape"):
        Adam().set_state(bad, [w])


def test_slots_are_keyed_by_first_seen_order():
    a, b = Tensor(np.zeros(2)), Tensor(np.zeros(3))
    opt = SGD(momentum=0.5)
    opt.apply([None, np.ones(3)], [a, b])  # a has no gradient but still gets index 0
    state = opt.get_state()
    assert state["momentum/0"].shape == (2,) and state["momentum/1"].shape == (3,)
    np.testing.assert_array_equal(state["momentum/0"], 0.0)
    np.testing.assert_allclose(state["momentum/1"], -0.01)


def test_get_resolves_names_dicts_and_instances():
    assert isinstance(optimizers.get("ADAM"), Adam)
    assert isinstance(optimizers.get("rmsprop"), RMSprop)
    opt = SGD(learning_rate=0.3, momentum=0.9, nesterov=True, clipnorm=2.0)
    assert optimizers.get(opt) is opt
    clone = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
    assert isinstance(clone, SGD) and clone.get_config() == opt.get_config()
    with pytest.raises(ConfigError, match=r"\['adam', 'rmsprop', 'sgd'\]"):
        optimizers.get("adagrad")
    with pytest.raises(ConfigError):
        optimizers.get(3)


def test_keras_defaults_and_repr():
    assert (SGD().learning_rate, SGD().momentum, SGD().nesterov) == (0.01, 0.0, False)
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (
        0.001, 0.9, 0.999, 1e-7, False)
    rms = RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    assert repr(Adam(learning_rate=0.01)) == "Adam(learning_rate=0.01)"


# ---------------------------------------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------------------------------------
def test_schedule_formulas_by_hand():
    from rnnkit.optimizers import schedules

    exp = schedules.ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5)
    assert exp(2) == pytest.approx(0.5**0.5) and exp(8) == pytest.approx(0.25)
    stairs = schedules.ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5, staircase=True)
    assert [stairs(s) for s in (0, 3, 4, 7, 8)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    inv = schedules.InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5)
    assert inv(2) == pytest.approx(1 / 1.5) and inv(3) == pytest.approx(1 / 1.75)
    assert schedules.InverseTimeDecay(1.0, 2, 0.5, staircase=True)(3) == pytest.approx(1 / 1.5)
    piecewise = schedules.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in (0, 2, 3, 5, 6, 100)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    cosine = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.1)
    assert cosine(0) == pytest.approx(1.0) and cosine(5) == pytest.approx(0.9 * 0.5 + 0.1)
    assert cosine(10) == pytest.approx(0.1) and cosine(50) == pytest.approx(0.1)
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=2.0, warmup_steps=4)
    assert [warm(s) for s in (0, 2, 4)] == pytest.approx([0.0, 1.0, 2.0])
    assert warm(9) == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))
    with pytest.raises(ConfigError, match="one more"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])


@pytest.mark.parametrize("kind,cls,cfg", CASES[:5], ids=CASE_IDS[:5])
def test_optimizer_follows_its_schedule_at_every_step(kind, cls, cfg):
    from rnnkit.optimizers import schedules

    schedule = schedules.ExponentialDecay(cfg["learning_rate"], decay_steps=2, decay_rate=0.3)
    params0, grads = random_problem(seed=13)
    expected = keras_reference(kind, params0, grads, [schedule(i) for i in range(STEPS)], **split_hyper(kind, cfg))
    opt = cls(**dict(cfg, learning_rate=schedule))
    variables = [Tensor(p.copy(), dtype="float64") for p in params0]
    for g in grads:
        opt.apply(g, variables)
    for got, want in zip(variables, expected):
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)
    assert opt.learning_rate == pytest.approx(schedule(STEPS))


def test_scheduled_optimizer_config_round_trip_and_fixed_rate():
    from rnnkit.optimizers import schedules

    opt = Adam(learning_rate=schedules.PiecewiseConstantDecay([3], [0.1, 0.01]))
    clone = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
    clone.iterations = 4
    assert clone.learning_rate == 0.01
    with pytest.raises(ConfigError, match="schedule"):
        opt.learning_rate = 0.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_compiled_update_matches_the_numpy_path(dtype):
    # A C-contiguous gradient takes the compiled one-pass kernel, its transposed (non-contiguous) twin the NumPy
    # ufunc path; ten steps of each must agree to rounding.
    rng = np.random.default_rng(3)
    start = rng.standard_normal((6, 5)).astype(dtype)
    grads = [rng.standard_normal((5, 6)).astype(dtype) for _ in range(10)]
    compiled, ufuncs = Tensor(start.copy(), dtype=dtype), Tensor(start.copy(), dtype=dtype)
    opt_compiled, opt_ufuncs = Adam(learning_rate=0.05), Adam(learning_rate=0.05)
    for g in grads:
        opt_compiled.apply([np.ascontiguousarray(g.T)], [compiled])
        opt_ufuncs.apply([g.T], [ufuncs])
    assert not np.array_equal(compiled.data, start)
    tol = 2e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(compiled.data, ufuncs.data, rtol=tol, atol=tol)
    for name in ("momentum", "velocity"):
        np.testing.assert_allclose(opt_compiled._slots[name][0], opt_ufuncs._slots[name][0], rtol=tol, atol=tol)
