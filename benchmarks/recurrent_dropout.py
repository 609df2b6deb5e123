"""What ``recurrent_dropout`` costs inside the fused recurrent ops, and that the ops without it are not slower.

One measurement is one fresh process timing forward + backward of one op (LSTM 128, GRU 128, SimpleRNN 32 by
default; batch 64, 28 steps of 28 features, float32, the shapes of the Fashion-MNIST benchmark) in CPU seconds per
call, the median of ``--reps`` calls after warm-up. A *pair* runs two such processes at the same time, side by
side, so that both see the same load; the table gives the medians of each side and of the per-pair ratios.

    # no-regression A/B: this tree against another copy of rnnkit's sources (e.g. main's), no dropout
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.recurrent_dropout --against /tmp/main/src
    # the cost of recurrent_dropout: rate 0.25 against 0 in this tree
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.recurrent_dropout --rate 0.25
    # Keras 3 (torch backend, one thread) LSTM/GRU/SimpleRNN layers with and without recurrent_dropout
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.recurrent_dropout --keras

Threads: one (rnnkit.config.set_num_threads(1), OpenBLAS by the environment, torch.set_num_threads(1)).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {"lstm": 128, "gru": 128, "simple_rnn": 32}
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
B, T, D = 64, 28, 28
HERE = Path(__file__).resolve().parents[1] / "src"


def measure(src: str, kind: str, rate: float, reps: int) -> float:
    """Median CPU seconds of one forward + backward of the op ``kind`` with rnnkit from ``src``."""
    sys.path.insert(0, src)
    import numpy as np

    import rnnkit
    from rnnkit import Tensor, config
    from rnnkit.ops import recurrent

    assert Path(rnnkit.__file__).resolve().is_relative_to(Path(src).resolve()), rnnkit.__file__
    config.set_num_threads(1)
    H, G = CASES[kind], GATES[kind]
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((B, T, D)).astype("float32"), requires_grad=True)
    kernel = Tensor((rng.standard_normal((D, G * H)) * 0.1).astype("float32"), requires_grad=True)
    recurrent_kernel = Tensor((rng.standard_normal((H, G * H)) * 0.1).astype("float32"), requires_grad=True)
    bias = Tensor(np.zeros((2, G * H) if kind == "gru" else G * H, "float32"), requires_grad=True)
    extra = {}
    if rate:
        keep = (rng.random((G, B, H)) >= rate) / (1 - rate)
        extra = {"recurrent_masks": keep.astype("float32")}
    op = getattr(recurrent, kind)
    args = (x, kernel, recurrent_kernel, bias, None) + ((None,) if kind == "lstm" else ())
    times = []
    for i in range(reps + 3):
        start = time.process_time()
        outputs = op(*args, **extra)[0]
        outputs.sum().backward()
        if i >= 3:
            times.append(time.process_time() - start)
        for t in (x, kernel, recurrent_kernel, bias):
            t.grad = None
    return statistics.median(times)


def measure_keras(kind: str, rate: float, reps: int) -> float:
    """Median CPU seconds of one forward + backward of Keras 3's layer (torch backend, one thread)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import numpy as np
    import torch

    import keras

    torch.set_num_threads(1)
    name = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}[kind]
    layer = getattr(keras.layers, name)(CASES[kind], return_sequences=True, recurrent_dropout=rate)
    x = torch.tensor(np.random.default_rng(0).standard_normal((B, T, D)).astype("float32"), requires_grad=True)
    times = []
    for i in range(reps + 2):
        start = time.process_time()
        layer(x, training=True).sum().backward()
        if i >= 2:
            times.append(time.process_time() - start)
    return statistics.median(times)


def _spawn(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.recurrent_dropout", *args], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])


def pairs(left: tuple, right: tuple, kind: str, count: int, reps: int) -> tuple:
    """``count`` pairs of fresh processes measuring ``left`` and ``right`` (each ``(src, rate)``) at once."""
    lefts, rights = [], []
    for _ in range(count):
        a = _spawn("--one", left[0], kind, str(left[1]), str(reps))
        b = _spawn("--one", right[0], kind, str(right[1]), str(reps))
        lefts.append(float(a.communicate()[0]))
        rights.append(float(b.communicate()[0]))
    return lefts, rights


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recurrent_dropout", description=__doc__.split("\n")[0])
    parser.add_argument("--against", help="another rnnkit src folder: A/B without dropout, this tree / that one")
    parser.add_argument("--rate", type=float, default=0.25, help="recurrent_dropout rate against 0 (default 0.25)")
    parser.add_argument("--keras", action="store_true", help="Keras 3 layers with and without recurrent_dropout")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # src kind rate reps: one measurement
    args = parser.parse_args(argv)
    if args.one:
        src, kind, rate, reps = args.one
        value = measure_keras(kind, float(rate), int(reps)) if src == "keras" else measure(src, kind, float(rate),
                                                                                           int(reps))
        print(value)
        return
    rows = []
    for kind in CASES:
        if args.keras:
            left, right = ("keras", args.rate), ("keras", 0.0)
        elif args.against:
            left, right = (str(HERE), 0.0), (args.against, 0.0)
        else:
            left, right = (str(HERE), args.rate), (str(HERE), 0.0)
        _spawn("--one", left[0], kind, str(left[1]), "1").communicate()  # warm the kernel caches
        _spawn("--one", right[0], kind, str(right[1]), "1").communicate()
        a, b = pairs(left, right, kind, args.pairs, args.reps)
        ratio = statistics.median(x / y for x, y in zip(a, b))
        rows.append({"case": f"{kind} {CASES[kind]}", "left_ms": round(statistics.median(a) * 1e3, 3),
                     "right_ms": round(statistics.median(b) * 1e3, 3), "left/right": round(ratio, 3),
                     "ratios": [round(x / y, 3) for x, y in zip(a, b)], "left": left, "right": right})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
