"""Conv2D, BatchNormalization and MaxPooling2D forward+backward: rnnkit beside PyTorch on a CRNN's shapes.

The shapes are those of a CRNN reading 32-pixel-high text lines (batch 32, input 32x128x1): three 3x3 "same"
convolutions of 32, 64 and 128 filters with 2x2 max pooling between them, and the batch normalisation and
pooling at the widest feature map. Both run single-threaded (threads set before NumPy and PyTorch load), in
float32, in one process; each repeat times rnnkit and then PyTorch on the same arrays, so machine noise hits
both, and the table reports the medians. rnnkit works in Keras' ``channels_last`` layout, PyTorch in its own
``NCHW``; each is timed on what a model written for it would use. The first convolution's input needs no
gradient (it is the image), the others' do.

    python -m benchmarks.conv [--repeats 15] [--threads 1] [--json runs/conv-bench.json]
"""
from __future__ import annotations

import argparse
import os
import sys


def _set_threads(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per case (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="threads for both frameworks")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write the results here")
    return parser.parse_args(argv)


# (name, input (B, H, W, C) with B from --batch, op, details, input needs a gradient)
CASES = [
    ("Conv2D 1->32, 32x128", (32, 128, 1), "conv", 32, False),
    ("Conv2D 32->64, 16x64", (16, 64, 32), "conv", 64, True),
    ("Conv2D 64->128, 8x32", (8, 32, 64), "conv", 128, True),
    ("BatchNormalization, 32x128x32", (32, 128, 32), "bn", None, True),
    ("MaxPooling2D 2x2, 32x128x32", (32, 128, 32), "pool", None, True),
]


def rnnkit_step(kind, x, param, needs_grad):
    """A closure running one forward+backward in rnnkit, and the rnnkit objects it uses."""
    import numpy as np

    from rnnkit import Tensor
    from rnnkit.ops.conv import conv2d
    from rnnkit.ops.normalization import batch_norm
    from rnnkit.ops.pooling import max_pool2d

    rng = np.random.default_rng(1)
    xt = Tensor(x, requires_grad=needs_grad)
    if kind == "conv":
        kernel = Tensor(rng.standard_normal((3, 3, x.shape[-1], param)).astype(np.float32) * 0.1, requires_grad=True)
        bias = Tensor(np.zeros(param, np.float32), requires_grad=True)
        leaves = [xt, kernel, bias]

        def forward():
            return conv2d(xt, kernel, bias, 1, "same")
    elif kind == "bn":
        gamma = Tensor(np.ones(x.shape[-1], np.float32), requires_grad=True)
        beta = Tensor(np.zeros(x.shape[-1], np.float32), requires_grad=True)
        leaves = [xt, gamma, beta]

        def forward():
            return batch_norm(xt, gamma, beta, epsilon=1e-3)[0]
    else:
        leaves = [xt]

        def forward():
            return max_pool2d(xt, 2)
    grad = None

    def step():
        nonlocal grad
        for leaf in leaves:
            leaf.grad = None
        y = forward()
        if grad is None:
            grad = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(grad)

    return step


def torch_step(kind, x, param, needs_grad):
    import numpy as np
    import torch

    F = torch.nn.functional
    rng = np.random.default_rng(1)
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=needs_grad)  # NHWC -> NCHW
    channels = x.shape[-1]
    if kind == "conv":
        weight = torch.tensor(rng.standard_normal((param, channels, 3, 3)).astype(np.float32) * 0.1,
                              requires_grad=True)
        bias = torch.zeros(param, requires_grad=True)
        leaves = [xt, weight, bias]

        def forward():
            return F.conv2d(xt, weight, bias, padding=1)
    elif kind == "bn":
        gamma = torch.ones(channels, requires_grad=True)
        beta = torch.zeros(channels, requires_grad=True)
        running_mean, running_var = torch.zeros(channels), torch.ones(channels)
        leaves = [xt, gamma, beta]

        def forward():
            return F.batch_norm(xt, running_mean, running_var, gamma, beta, training=True, momentum=0.01, eps=1e-3)
    else:
        leaves = [xt]

        def forward():
            return F.max_pool2d(xt, 2)
    grad = None

    def step():
        nonlocal grad
        for leaf in leaves:
            leaf.grad = None
        y = forward()
        if grad is None:
            grad = torch.tensor(rng.standard_normal(tuple(y.shape)).astype(np.float32))
        y.backward(grad)

    return step


def main(argv=None) -> int:
    args = parse_args(argv)
    _set_threads(args.threads)  # before NumPy and PyTorch are imported
    import json
    import platform
    import statistics
    import time

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    results = []
    print(f"threads={args.threads} batch={args.batch} repeats={args.repeats} float32, numpy {np.__version__}, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'case':32s} {'rnnkit ms':>10s} {'torch ms':>10s} {'rnnkit/torch':>13s}")
    for name, sample_shape, kind, param, needs_grad in CASES:
        x = np.random.default_rng(0).standard_normal((args.batch,) + sample_shape).astype(np.float32)
        ours, theirs = rnnkit_step(kind, x, param, needs_grad), torch_step(kind, x, param, needs_grad)
        ours(), theirs()  # warm-up (allocations, first-call costs)
        times = {"rnnkit": [], "torch": []}
        for _ in range(args.repeats):
            for label, step in (("rnnkit", ours), ("torch", theirs)):
                start = time.perf_counter()
                step()
                times[label].append(time.perf_counter() - start)
        ms = {label: 1000 * statistics.median(values) for label, values in times.items()}
        ratio = ms["rnnkit"] / ms["torch"]
        print(f"{name:32s} {ms['rnnkit']:10.2f} {ms['torch']:10.2f} {ratio:13.2f}", flush=True)
        results.append({"case": name, "rnnkit_ms": ms["rnnkit"], "torch_ms": ms["torch"], "ratio": ratio})
    total = {label: sum(r[f"{label}_ms"] for r in results) for label in ("rnnkit", "torch")}
    print(f"{'total':32s} {total['rnnkit']:10.2f} {total['torch']:10.2f} {total['rnnkit'] / total['torch']:13.2f}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "batch": args.batch, "repeats": args.repeats,
                       "results": results}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
