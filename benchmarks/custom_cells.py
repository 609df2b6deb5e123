"""Speed of a user-defined recurrent cell: rnnkit's ``RNN(cell)`` step loop on the tape, beside rnnkit's fused
``LSTM`` and Keras 3's ``keras.layers.RNN`` with the same cell written in ``keras.ops`` (torch backend, CPU).

One training step (forward + backward of a sum) on a batch of ``(B, T, D)``, LSTM maths with ``H`` units,
float32, repeated and interleaved (rnnkit cell, rnnkit fused, Keras cell, ...) so that all see the same load;
the median per step is printed. Threads: 1 for NumPy/BLAS and PyTorch unless ``--threads`` says otherwise.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.custom_cells [--batch 32 --steps 50 ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def rnnkit_cell_class():
    from rnnkit import ops
    from rnnkit.layers import Layer

    class LSTMLikeCell(Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
            self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

        def call(self, inputs, states):
            h, c = states
            z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
            i, f, g, o = ops.split(z, 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(c)
            return h, [h, c]

    return LSTMLikeCell


def keras_cell_class():
    import keras
    from keras import ops

    class KerasLSTMLikeCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
            self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

        def call(self, inputs, states):
            h, c = states
            z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
            i, f, g, o = ops.split(z, 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(c)
            return h, [h, c]

    return KerasLSTMLikeCell


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.custom_cells", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50, help="time steps T")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import numpy as np
    import torch

    import keras
    from rnnkit import Tensor
    from rnnkit.layers import LSTM, RNN

    torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).standard_normal((args.batch, args.steps, args.features)).astype("float32")
    ours = RNN(rnnkit_cell_class()(args.units), return_sequences=True)
    fused = LSTM(args.units, return_sequences=True)
    theirs = keras.layers.RNN(keras_cell_class()(args.units), return_sequences=True)
    ours(x), fused(x), theirs(torch.tensor(x))
    theirs.set_weights(ours.get_weights())
    fused.set_weights(ours.get_weights())

    def step_rnnkit(layer):
        out = layer(Tensor(x))
        out.sum().backward()
        layer.zero_grad()

    def step_keras():
        out = theirs(torch.tensor(x))
        out.sum().backward()
        theirs.zero_grad() if hasattr(theirs, "zero_grad") else None

    runs = {"rnnkit RNN(user cell)": lambda: step_rnnkit(ours), "rnnkit LSTM (fused)": lambda: step_rnnkit(fused),
            "keras 3 RNN(user cell), torch": step_keras}
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    print(f"B={args.batch} T={args.steps} D={args.features} H={args.units} float32, threads={args.threads}, "
          f"median of {args.repeats} forward+backward steps:")
    for name, values in times.items():
        print(f"  {name:32s} {statistics.median(values) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
