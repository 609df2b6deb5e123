"""Why plain RNNs forget: SimpleRNN vs LSTM vs GRU on the adding problem, with the gradient flow measured.

The adding problem (Hochreiter & Schmidhuber 1997): each sequence has T steps of two features, a random number
in [0, 1] and a marker that is 1 at exactly two steps (one in the first half, one in the second) and 0
elsewhere; the target is the sum of the two marked numbers. Predicting the mean (1.0) gives MSE 1/6 = 0.167;
a model that remembers the first marked number across up to T steps gets near 0. "Solved" counts predictions
within 0.04 of the target.

For each sequence length, each model trains with the same budget (the same number of Adam updates on the same
data), and ``rnnkit.diagnostics.gradient_flow`` measures, on a test batch before training, how much of the
loss's gradient reaches the first step: ``||dL/dh_0|| / ||dL/dh_T||``. Variants show what the seeds' cures
change: a recurrent kernel initialised with glorot_uniform instead of orthogonal (Keras' default), gradient
clipping (``clipnorm=1``), and LSTM without the forget-gate bias of 1 (``unit_forget_bias=False``).

Run (single-threaded; about 20 minutes of one core with the defaults)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python examples/long_memory.py --out runs/long-memory

It writes ``results.json`` and ``long-memory.png`` (MSE against T per model, and the gradient flow at T=100)
into ``--out`` and prints one table row per run.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.diagnostics import gradient_flow
from rnnkit.layers import GRU, LSTM, Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.optimizers import Adam
from rnnkit.random import set_random_seed

SOLVED_TOLERANCE = 0.04  # |prediction - target| below this counts as solved
MEAN_GUESS_MSE = 1 / 6  # predicting 1.0: the variance of the sum of two U(0, 1)


@dataclass
class Variant:
    """One model: the cell and the cures applied (name is the table's label)."""

    name: str
    cell: str  # "simple_rnn", "lstm", "gru"
    recurrent_initializer: str = "orthogonal"
    clipnorm: float | None = None
    unit_forget_bias: bool = True


VARIANTS = (
    Variant("SimpleRNN", "simple_rnn"),
    Variant("LSTM", "lstm"),
    Variant("GRU", "gru"),
    Variant("SimpleRNN glorot recurrent init", "simple_rnn", recurrent_initializer="glorot_uniform"),
    Variant("SimpleRNN clipnorm=1", "simple_rnn", clipnorm=1.0),
    Variant("LSTM no forget bias", "lstm", unit_forget_bias=False),
)


def adding_problem(n: int, steps: int, rng: np.random.Generator) -> tuple:
    """``x (n, steps, 2)`` and ``y (n, 1)``: random values, two markers (first half, second half), their sum."""
    values = rng.random((n, steps))
    first = rng.integers(0, max(steps // 2, 1), size=n)
    second = rng.integers(steps // 2, steps, size=n)
    second = np.where(second == first, (first + 1) % steps, second)  # T=1 corner case: never the same step
    markers = np.zeros((n, steps))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1)  # (n, steps, 2)
    y = (values * markers).sum(axis=1, keepdims=True)  # (n, 1)
    return x.astype(np.float32), y.astype(np.float32)


def build(variant: Variant, units: int, clip: bool = True) -> Sequential:
    layer_class = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[variant.cell]
    kwargs = {"recurrent_initializer": variant.recurrent_initializer}
    if variant.cell == "lstm":
        kwargs["unit_forget_bias"] = variant.unit_forget_bias
    model = Sequential([layer_class(units, **kwargs), Dense(1)])
    model.compile(optimizer=Adam(learning_rate=2e-3, clipnorm=variant.clipnorm if clip else None), loss="mse")
    return model


def run_one(variant: Variant, steps: int, args, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed + steps)
    x_train, y_train = adding_problem(args.train_size, steps, rng)
    x_test, y_test = adding_problem(args.test_size, steps, rng)
    set_random_seed(seed)
    model = build(variant, args.units)
    probe = slice(0, min(64, args.test_size))
    flow = gradient_flow(model, x_test[probe], y_test[probe])  # at initialisation
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start
    after = gradient_flow(model, x_test[probe], y_test[probe])
    prediction = model.predict(x_test, verbose=0)
    errors = np.abs(prediction - y_test)
    return {
        "model": variant.name, "steps": steps, "test_mse": float(np.mean(errors ** 2)),
        "solved": float(np.mean(errors < SOLVED_TOLERANCE)), "train_loss": float(history.history["loss"][-1]),
        "decay_init": flow.layers[0].decay(), "decay_trained": after.layers[0].decay(),
        "flow_init": flow.layers[0].h.tolist(), "seconds": seconds,
    }


def plot(results: list, path: str, flow_steps: int) -> bool:
    from rnnkit.tasks.report import figure

    with figure(path, ncols=2, figsize=(13, 4.8)) as drawing:
        if drawing is None:
            return False
        fig, (left, right) = drawing
        names = list(dict.fromkeys(r["model"] for r in results))
        for name in names:
            rows = sorted((r for r in results if r["model"] == name), key=lambda r: r["steps"])
            left.plot([r["steps"] for r in rows], [r["test_mse"] for r in rows], "-o", label=name, markersize=4)
            shown = [r for r in rows if r["steps"] == flow_steps]
            if shown:
                flow = np.asarray(shown[0]["flow_init"], dtype=float)
                right.plot(np.arange(len(flow)), flow / flow[-1], label=name)
        left.axhline(MEAN_GUESS_MSE, color="grey", linestyle=":", label="predict the mean (1/6)")
        left.set_xlabel("sequence length T")
        left.set_ylabel("test MSE after the budget")
        left.set_yscale("log")
        left.set_title("Adding problem: error after a fixed budget")
        left.legend(fontsize=7)
        left.grid(alpha=0.3, which="both")
        right.set_yscale("log")
        right.set_xlabel("time step t")
        right.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
        right.set_title(f"Gradient reaching each step at initialisation (T={flow_steps})")
        right.legend(fontsize=7)
        right.grid(alpha=0.3, which="both")
    return True


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--models", nargs="+", default=[v.name for v in VARIANTS], metavar="NAME")
    parser.add_argument("--flow-steps", type=int, default=100, help="the length whose gradient flow is drawn")
    parser.add_argument("--out", default="runs/long-memory")
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    variants = [v for v in VARIANTS if v.name in args.models]
    os.makedirs(args.out, exist_ok=True)
    results = []
    print(f"{'model':34s} {'T':>4s} {'test MSE':>9s} {'solved':>7s} {'dh0/dhT init':>13s} {'trained':>10s} {'s':>6s}")
    for steps in args.lengths:
        for variant in variants:
            row = run_one(variant, steps, args)
            results.append(row)
            print(f"{row['model']:34s} {steps:4d} {row['test_mse']:9.4f} {row['solved']:7.3f} "
                  f"{row['decay_init']:13.3g} {row['decay_trained']:10.3g} {row['seconds']:6.1f}", flush=True)
            with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
                json.dump({"settings": vars(args), "variants": [asdict(v) for v in variants], "results": results},
                          f, indent=1)
    flow_steps = args.flow_steps if args.flow_steps in args.lengths else max(args.lengths)
    drawn = plot(results, os.path.join(args.out, "long-memory.png"), flow_steps)
    print(f"wrote {args.out}/results.json" + (" and long-memory.png" if drawn else " (no plot: matplotlib missing)"))
    return results


if __name__ == "__main__":
    main()
