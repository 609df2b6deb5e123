"""Accuracy parity: the same models trained with rnnkit and PyTorch on full Fashion-MNIST, test accuracy of each.

Cases (issue 4): the seed model (SimpleRNN 32 + Dense 10) for 10 epochs and LSTM 128 for 3 epochs; Adam 1e-3,
batch 64, rows as time steps. Each framework keeps its own default initialisation (Keras' for rnnkit).

    python -m benchmarks.accuracy [--threads 2] [--json runs/accuracy.json] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

RUNS = [("seed SimpleRNN 32", "simple_rnn", 32, 10), ("LSTM 128", "lstm", 128, 3)]


def load(limit: int | None):
    import numpy as np

    from rnnkit.datasets import fashion_mnist, mnist_sample

    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except Exception:  # neither installed nor downloadable: the bundled real MNIST sample
        print("Fashion-MNIST not available; using the bundled MNIST sample", file=sys.stderr)
        (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[: limit // 6], y_test[: limit // 6]
    scale = lambda x: (x / 255.0).astype(np.float32)  # noqa: E731  (N, 28, 28): rows are time steps
    return scale(x_train), y_train.astype(np.int64), scale(x_test), y_test.astype(np.int64)


def train_rnnkit(cell: str, units: int, epochs: int, data, seed: int = 0) -> float:
    from rnnkit import layers
    from rnnkit.models import Sequential
    from rnnkit.random import set_random_seed

    set_random_seed(seed)
    x_train, y_train, x_test, y_test = data
    rnn = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM}[cell]
    model = Sequential([rnn(units, input_shape=(28, 28)), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1])


def train_torch(cell: str, units: int, epochs: int, data, seed: int = 0) -> float:
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in data)
    rnn = {"simple_rnn": nn.RNN, "lstm": nn.LSTM}[cell](28, units, batch_first=True)
    head = nn.Linear(units, 10)
    params = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x_train)))
        for start in range(0, len(order), 64):
            index = order[start : start + 64]
            out, _ = rnn(x_train[index])
            loss = criterion(head(out[:, -1, :]), y_train[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        out, _ = rnn(x_test)
        return float((head(out[:, -1, :]).argmax(1) == y_test).float().mean())


def worker(framework: str, run_name: str, threads: int, limit: int | None) -> dict:
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
    name, cell, units, epochs = next(r for r in RUNS if r[0] == run_name)
    data = load(limit)
    start = time.perf_counter()
    accuracy = (train_torch if framework == "torch" else train_rnnkit)(cell, units, epochs, data)
    return {"framework": framework, "case": name, "epochs": epochs, "test_accuracy": accuracy,
            "seconds": time.perf_counter() - start}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default="runs/accuracy.json")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.threads, args.limit)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    rows = []
    for name, *_ in RUNS:
        row = {"case": name}
        for framework in ("rnnkit", "torch"):
            command = [sys.executable, "-m", "benchmarks.accuracy", "--threads", str(args.threads),
                       "--worker", framework, name] + (["--limit", str(args.limit)] if args.limit else [])
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"{framework} failed on {name}:\n{done.stderr[-2000:]}")
            row[framework] = json.loads(done.stdout.strip().splitlines()[-1])
        row["difference_points"] = 100 * (row["rnnkit"]["test_accuracy"] - row["torch"]["test_accuracy"])
        rows.append(row)
        print(f"{name:<20} epochs={row['rnnkit']['epochs']:<3} rnnkit={row['rnnkit']['test_accuracy']:.4f} "
              f"({row['rnnkit']['seconds']:.1f}s)  torch={row['torch']['test_accuracy']:.4f} "
              f"({row['torch']['seconds']:.1f}s)  difference={row['difference_points']:+.2f} points", flush=True)
    if args.json:
        from rnnkit.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps({"threads": args.threads, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
