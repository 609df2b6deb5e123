"""Inference latency of an exported LSTM model under onnxruntime beside rnnkit's own ``predict`` and ``__call__``.

The model is the seed program's shape: 28 steps of 28 features -> LSTM 128 -> Dense 10 softmax (float32,
random weights; ``--embedding`` puts Embedding(1000, 64, mask_zero=True) in front instead, with ids of varying
lengths). Both run single-threaded: the BLAS / OpenMP threads are set to 1 before NumPy loads, and
onnxruntime gets ``intra_op_num_threads = inter_op_num_threads = 1`` and sequential execution. Each repeat
times one batch through every runner in turn (interleaved, so machine noise hits all of them) after warm-up
calls; the table has the medians in milliseconds per batch, and the outputs are checked equal first.

    python -m benchmarks.onnx_latency [--repeats 50] [--batches 1 256] [--embedding [--padding post]] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.onnx_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed repeats per runner and batch size")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256], help="batch sizes")
    parser.add_argument("--steps", type=int, default=28)
    parser.add_argument("--features", type=int, default=28)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--embedding", action="store_true", help="Embedding(1000, 64, mask_zero=True) first")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--padding", choices=("any", "post"), default="any",
                        help="the export's mask handling (see rnnkit.interop.onnx)")
    parser.add_argument("--json", default=None, help="also write the results here")
    return parser.parse_args(argv)


def build_model(args):
    import numpy as np

    from rnnkit.layers import LSTM, Dense, Embedding
    from rnnkit.models import Input, Sequential

    first = [Input((None,), dtype="int64"), Embedding(1000, 64, mask_zero=True)] if args.embedding else [
        Input((None, args.features))]
    model = Sequential(first + [LSTM(args.units), Dense(10, activation="softmax")], dtype="float32")
    model.build()
    rng = np.random.default_rng(0)
    model.set_weights([(0.3 * rng.standard_normal(w.shape)).astype(np.float32) for w in model.get_weights()])
    return model


def make_batch(args, batch: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    if not args.embedding:
        return rng.standard_normal((batch, args.steps, args.features)).astype(np.float32)
    ids = rng.integers(1, 1000, size=(batch, args.steps))
    lengths = rng.integers(args.steps // 2, args.steps + 1, size=batch)
    ids[np.arange(args.steps)[None, :] >= lengths[:, None]] = 0  # padding at the end
    return ids.astype(np.int64)


def runners(model, onnx_path):
    import onnxruntime

    from rnnkit.autograd import no_grad

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])

    def call(x):
        with no_grad():
            return model(x).numpy()

    return {
        "onnxruntime": lambda x: session.run(["output"], {"input": x})[0],
        "rnnkit predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
        "rnnkit __call__": call,
    }


def measure(args) -> dict:
    import numpy as np

    from rnnkit.interop.onnx import export

    model = build_model(args)
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.onnx")
        export(model, path, opset=args.opset, padding=args.padding)
        run = runners(model, path)
        for batch in args.batches:
            x = make_batch(args, batch, seed=batch)
            outputs = {name: fn(x) for name, fn in run.items()}  # warm-up, and the outputs agree
            for name, out in outputs.items():
                np.testing.assert_allclose(out, outputs["rnnkit predict"], rtol=1e-4, atol=1e-5, err_msg=name)
            for fn in run.values():
                fn(x)
            times = {name: [] for name in run}
            for _ in range(args.repeats):
                for name, fn in run.items():
                    start = time.perf_counter()
                    fn(x)
                    times[name].append(time.perf_counter() - start)
            results[batch] = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
    return results


def table(results: dict) -> str:
    lines = ["| batch | onnxruntime (ms) | rnnkit predict (ms) | rnnkit `__call__` (ms) | predict / onnxruntime |",
             "|---:|---:|---:|---:|---:|"]
    for batch, row in results.items():
        lines.append(f"| {batch} | {row['onnxruntime']:.3f} | {row['rnnkit predict']:.3f} | "
                     f"{row['rnnkit __call__']:.3f} | {row['rnnkit predict'] / row['onnxruntime']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = measure(args)
    what = (f"Embedding(1000, 64, mask_zero), export padding={args.padding!r}" if args.embedding
            else f"{args.steps} x {args.features} input")
    print(f"{what} -> LSTM {args.units} -> Dense 10, float32, 1 thread each, median of {args.repeats} repeats")
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"settings": vars(args), "results_ms": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
