"""One timed benchmark run of one framework on one case, in its own process; prints one JSON line.

``python -m benchmarks.worker --framework rnnkit --case "LSTM 128" --threads 2``
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def _status_mb(key: str) -> float | None:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in MB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the resident-set high-water mark (Linux >= 4.0), so that loading the data set, which needs more
    memory than some models' training, does not hide the training peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_rnnkit(case):
    from rnnkit import layers
    from rnnkit.losses import SparseCategoricalCrossentropy
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam

    cell = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[case.cell]
    model = Sequential()
    for i in range(case.layers):
        kwargs = {"input_shape": (case.time_steps, case.features)} if i == 0 else {}
        rnn = cell(case.units, return_sequences=i < case.layers - 1)
        model.add(layers.Bidirectional(rnn, **kwargs) if case.bidirectional else cell(
            case.units, return_sequences=i < case.layers - 1, **kwargs))
    model.add(layers.Dense(case.classes))
    model.compile(optimizer=Adam(learning_rate=1e-3), loss=SparseCategoricalCrossentropy(from_logits=True))
    return model


def run_rnnkit(case, batches):
    model = build_rnnkit(case)
    if case.mode == "train":
        step = lambda x, y: model.train_on_batch(x, y)  # noqa: E731
    else:
        step = lambda x, y: model.predict_on_batch(x)  # noqa: E731
    return _time(step, batches)


def build_torch(case):
    import torch
    from torch import nn

    cls = {"simple_rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[case.cell]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(case.features, case.units, num_layers=case.layers, batch_first=True,
                           bidirectional=case.bidirectional)
            self.fc = nn.Linear(case.units * (2 if case.bidirectional else 1), case.classes)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1, :])

    return Net(), torch


def run_torch(case, batches):
    model, torch = build_torch(case)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    if case.mode == "train":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        criterion = torch.nn.CrossEntropyLoss()

        def step(x, y):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    else:
        model.eval()

        def step(x, y):
            with torch.inference_mode():
                model(x)

    return _time(step, data)


def _time(step, batches, warmup: int = 2):
    # Load the framework's lazily loaded code first (rnnkit's compiled kernels, PyTorch's kernels) with a one-row
    # step, so that the peak below measures the training steps, not a one-off compiler or library load.
    step(batches[0][0][:1], batches[0][1][:1])
    # Model and data exist; the peak resident set above the current one is what the steps themselves need.
    baseline = _status_mb("VmRSS") if _reset_peak() else _peak_rss_mb()
    for x, y in batches[:warmup]:
        step(x, y)
    start = time.perf_counter()
    for x, y in batches:
        step(x, y)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": max(0.0, _peak_rss_mb() - baseline), "peak_rss_mb": _peak_rss_mb()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=("rnnkit", "torch"), required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # effective only before NumPy loads BLAS; the parent also sets them
    from benchmarks.cases import by_name
    from benchmarks.data import batches as make_batches

    case = by_name(args.case)
    batches = make_batches(case)
    if args.framework == "torch":
        import torch

        torch.set_num_threads(args.threads)
        result = run_torch(case, batches)
    else:
        from benchmarks.gemm_floor import floor_seconds_per_step
        from rnnkit import config

        config.set_num_threads(args.threads)  # batch shards (and OpenBLAS outside them, from the environment)
        result = run_rnnkit(case, batches)
        result["floor_seconds"] = floor_seconds_per_step(case) * case.steps
    result["samples_per_s"] = case.batch * case.steps / result["seconds"]
    result["latency_ms"] = 1000 * result["seconds"] / case.steps
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
