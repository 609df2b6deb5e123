"""Per-step state gradients: what recording costs and what the fused source saves (docs/diagnostics.md).

Two measurements, single-threaded (set OMP/OPENBLAS/MKL_NUM_THREADS=1 in the environment), CPU time:

``ab``: the recurrent ops' forward + backward with recording off, this checkout against another copy of rnnkit's
sources (``--other``, e.g. main's: ``git -C ../main archive HEAD src | tar -x -C /tmp/main``), each measurement
in a fresh process, the two alternating; LSTM 128, GRU 128, SimpleRNN 32 on B 64, T 28, D 28, float32. Prints
each pair's ratio (this / other) and the medians.

``bits``: with recording off, the ops' outputs and every gradient (4 ops x float32/float64 x mask, B 64, T 9) from
this checkout and from ``--other``, each in a fresh process that loads its cached kernels (one warm-up process
each first), compared bit for bit.

``flow``: ``gradient_flow`` on ``LSTM(128) -> Dense(10)`` (B 64, T 28 and 200), fused source against replay, and
a plain forward + backward of the same model (the floor), alternating in one process after a warm-up; prints the
medians.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m benchmarks.step_gradients ab \\
        --other /tmp/main/src --pairs 5
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m benchmarks.step_gradients flow
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.step_gradients bits --other /tmp/main/src
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CASES = {"lstm128": ("lstm", 128), "gru128": ("gru", 128), "simple_rnn32": ("simple_rnn", 32)}
HERE = Path(__file__).resolve().parents[1] / "src"

# Run in a fresh process with PYTHONPATH set to the sources measured: median CPU ms of one forward + backward.
_WORKER = r"""
import json, sys, time
import numpy as np
import rnnkit
from rnnkit import Tensor
from rnnkit.ops.recurrent import gru, lstm, simple_rnn
op, H, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
B, T, D = 64, 28, 28
G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[op]
rng = np.random.default_rng(0)
x = Tensor(rng.standard_normal((B, T, D)).astype("float32"))
W = Tensor((rng.standard_normal((D, G * H)) * 0.1).astype("float32"), requires_grad=True)
U = Tensor((rng.standard_normal((H, G * H)) * 0.1).astype("float32"), requires_grad=True)
b = Tensor(np.zeros((2, G * H) if op == "gru" else G * H, "float32"), requires_grad=True)
g = rng.standard_normal((B, T, H)).astype("float32")
def once():
    if op == "lstm":
        out = lstm(x, W, U, b, None, None)[0]
    elif op == "gru":
        out = gru(x, W, U, b, None)[0]
    else:
        out = simple_rnn(x, W, U, b, None)[0]
    out.backward(g)
for _ in range(5):
    once()
times = []
for _ in range(repeats):
    start = time.process_time()
    once()
    times.append(time.process_time() - start)
print(json.dumps({"file": rnnkit.__file__, "ms": 1000 * float(np.median(times))}))
"""


# Run in a fresh process: every op's outputs and gradients, saved to the .npz file named by argv[1].
_DUMP = r"""
import sys
import numpy as np
import rnnkit
from rnnkit import Tensor
from rnnkit.ops.recurrent import gru, lstm, simple_rnn
B, T, D, H = 64, 9, 5, 16
mask = np.ones((B, T), bool)
mask[0, T - 2 :] = False
mask[1, 1 : T - 1] = False
out = {}
for op, gates, options in (("simple_rnn", 1, {}), ("lstm", 4, {}), ("gru", 3, {"reset_after": True}),
                           ("gru", 3, {"reset_after": False})):
    for dtype in ("float32", "float64"):
        for masked in (False, True):
            rng = np.random.default_rng(4)
            bias_shape = (2, gates * H) if options.get("reset_after") else (gates * H,)
            arrays = [rng.standard_normal((B, T, D)), rng.standard_normal((D, gates * H)) * 0.6,
                      rng.standard_normal((H, gates * H)) * 0.6, rng.standard_normal(bias_shape) * 0.3,
                      rng.standard_normal((B, H)) * 0.5] + ([rng.standard_normal((B, H)) * 0.5] if op == "lstm" else [])
            leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
            fn = {"simple_rnn": simple_rnn, "lstm": lstm, "gru": gru}[op]
            results = fn(*leaves, mask=mask if masked else None, **options)
            sum((r * Tensor(rng.standard_normal(r.shape), dtype=dtype)).sum() for r in results).backward()
            for i, a in enumerate([r.data for r in results] + [leaf.grad for leaf in leaves]):
                out[f"{op}{options}-{dtype}-{'mask' if masked else 'nomask'}-{i}"] = a
np.savez(sys.argv[1], **out)
print(rnnkit.__file__)
"""


def bits(other: Path) -> None:
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name, src in (("this", HERE), ("other", other)):
            env = {**os.environ, "PYTHONPATH": str(src)}
            for attempt in ("warm-up", "measured"):  # the first process may compile the kernels (see the docs)
                files[name] = os.path.join(folder, f"{name}-{attempt}.npz")
                printed = subprocess.run([sys.executable, "-c", _DUMP, files[name]], env=env, check=True, cwd="/",
                                         capture_output=True, text=True).stdout
                if not printed.strip().startswith(str(src)):
                    raise RuntimeError(f"ran {printed.strip()}, not the sources in {src}")
        mine, theirs = np.load(files["this"]), np.load(files["other"])
        differ = [k for k in mine.files if not np.array_equal(mine[k], theirs[k])]
        print(f"{len(mine.files)} arrays compared, {len(differ)} differ" + (f": {differ}" if differ else ""))


def _measure(src: Path, op: str, H: int, repeats: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", _WORKER, op, str(H), str(repeats)], env=env, check=True,
                         capture_output=True, text=True, cwd="/").stdout
    result = json.loads(out.strip().splitlines()[-1])
    if not result["file"].startswith(str(src)):
        raise RuntimeError(f"measured {result['file']}, not the sources in {src}")
    return result["ms"]


def ab(other: Path, pairs: int, repeats: int) -> None:
    import numpy as np

    for name, (op, H) in CASES.items():
        _measure(HERE, op, H, 1), _measure(other, op, H, 1)  # compile both copies' kernels first
        ratios, mine, theirs = [], [], []
        for i in range(pairs):
            order = [(HERE, mine), (other, theirs)] if i % 2 == 0 else [(other, theirs), (HERE, mine)]
            for src, into in order:
                into.append(_measure(src, op, H, repeats))
            ratios.append(mine[-1] / theirs[-1])
        print(f"{name}: this {np.median(mine):.3f} ms, other {np.median(theirs):.3f} ms, ratio median "
              f"{np.median(ratios):.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)})", flush=True)


def flow(steps: list, repeats: int) -> None:
    import numpy as np

    from rnnkit.diagnostics import gradient_flow
    from rnnkit.layers import LSTM, Dense
    from rnnkit.models import Sequential

    for T in steps:
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((64, T, 28)).astype("float32"), rng.integers(0, 10, 64)
        model = Sequential([LSTM(128), Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        def step():
            model.zero_grad()
            model._compute_loss([y], [model(x)]).backward()

        runs = {"fused": lambda: gradient_flow(model, x, y, source="fused"),
                "replay": lambda: gradient_flow(model, x, y, source="replay"), "step": step}
        times = {name: [] for name in runs}
        for run in runs.values():
            run()  # warm-up
        for i in range(repeats):
            for name in (list(runs) if i % 2 == 0 else list(runs)[::-1]):
                start = time.process_time()
                runs[name]()
                times[name].append(time.process_time() - start)
        fused, replay, step_ms = (1000 * float(np.median(times[s])) for s in runs)
        print(f"T={T}: fused {fused:.1f} ms, replay {replay:.1f} ms, replay/fused {replay / fused:.1f}x; "
              f"plain forward + backward {step_ms:.1f} ms ({repeats} each, medians)", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_gradients", allow_abbrev=False)
    sub = parser.add_subparsers(dest="what", required=True)
    p_ab = sub.add_parser("ab", help="recording off against another copy of the sources")
    p_ab.add_argument("--other", type=Path, required=True, help="the other copy's src folder")
    p_ab.add_argument("--pairs", type=int, default=5)
    p_ab.add_argument("--repeats", type=int, default=30, help="timed calls per process (median)")
    p_bits = sub.add_parser("bits", help="recording off: results bit for bit against another copy")
    p_bits.add_argument("--other", type=Path, required=True, help="the other copy's src folder")
    p_flow = sub.add_parser("flow", help="gradient_flow, fused against replay")
    p_flow.add_argument("--steps", type=int, nargs="+", default=[28, 200])
    p_flow.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.what == "ab":
        ab(args.other.resolve(), args.pairs, args.repeats)
    elif args.what == "bits":
        bits(args.other.resolve())
    else:
        flow(args.steps, args.repeats)


if __name__ == "__main__":
    main()
