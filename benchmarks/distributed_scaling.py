"""Data-parallel scaling on one machine: throughput of ``fit`` under ``DataParallel`` with 1, 2 and 4 processes.

Each process runs single-threaded (OMP/OPENBLAS/MKL_NUM_THREADS=1) and trains the seed model (``SimpleRNN(32)``
+ ``Dense(10)``, Adam, 28x28 MNIST rows as 28 steps of 28 features; or ``--model lstm --units 128``) on the same
global batches (``--batch`` rows, split across the processes). Reported per process count: samples per second
(the fastest of ``--rounds`` x ``--repeats`` timed runs of ``--steps`` steps, each launch warmed up first;
the rounds interleave the process counts so that changes in the machine's load hit every count alike),
scaling efficiency = throughput(N) / (N x throughput(1 process, no distribution)), and the time per step spent
in collectives (gradient all-reduce, loss and metric sums; measured inside the ranks, waiting for a slower rank
included), and the CPU time per step of all the ranks together, whose ratio to one process's ("work
efficiency") shows what the distribution adds in work whatever the machine's load; the last column divides it by
the CPU time of one process running the per-rank batch (B/N) N times, separating what talking costs from what
smaller per-rank batches cost. A last table times a bare all-reduce of the seed model's and LSTM-128's gradient sizes over loopback
gloo, and the paper model of docs/distributed.md is printed for the measured one-process step.

The machine running it has as many cores as it has (this one: 2, shared with other engineers): with more
processes than idle cores, the processes share cores and the efficiency says so.

    python -m benchmarks.distributed_scaling [--processes 1 2 4] [--model simple_rnn] [--units 32] [--batch 64]
        [--steps 40] [--repeats 3] [--rounds 2] [--json runs/distributed.json]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed_scaling",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model", choices=("simple_rnn", "lstm", "gru"), default="simple_rnn")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64, help="global batch size")
    parser.add_argument("--steps", type=int, default=40, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per launch")
    parser.add_argument("--rounds", type=int, default=2, help="launches per process count, interleaved")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # "plain" or "dp": run as one rank
    return parser.parse_args(argv)


def _data(args):
    import numpy as np

    from rnnkit.cli.train import load_dataset, prepare_images
    from rnnkit.utils import to_categorical

    (x, y), _ = load_dataset("mnist-sample")
    need = args.batch * args.steps
    reps = -(-need // len(x))
    x, y = np.concatenate([x] * reps)[:need], np.concatenate([y] * reps)[:need]
    return prepare_images(x), to_categorical(y, 10)


def worker(args) -> None:
    """One rank: warm up, then time ``repeats`` fits of ``steps`` steps; rank 0 prints a JSON line."""
    from rnnkit.cli.train import TrainConfig, build_model, make_optimizer
    from rnnkit.random import set_random_seed

    strategy = None
    if args.worker == "dp":
        from rnnkit.distribution import DataParallel, set_distribution

        strategy = DataParallel()
        set_distribution(strategy)
    set_random_seed(0)
    x, y = _data(args)
    config = TrainConfig(model=args.model, units=args.units)
    model = build_model(config, x.shape[1:], 10)
    model.compile(loss="categorical_crossentropy", optimizer=make_optimizer(config), metrics=["accuracy"])
    model.fit(x[:args.batch * 3], y[:args.batch * 3], batch_size=args.batch, epochs=1, verbose=0)  # warm-up
    times, comms, cpus = [], [], []
    for _ in range(args.repeats):
        comm0 = strategy.comm_seconds if strategy else 0.0
        start, cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        comms.append((strategy.comm_seconds - comm0) if strategy else 0.0)
    if strategy is not None:  # CPU seconds of all the ranks together: the work, whatever the machine's load
        import numpy as np

        cpus = strategy.all_reduce([np.array(cpus)], "benchmark")[0].tolist()
    result = {"seconds": times, "comm_seconds": comms, "cpu_seconds": cpus}
    if strategy is not None:
        result["allreduce"] = _allreduce_times(strategy)
    if strategy is None or strategy.rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


def _allreduce_times(strategy) -> dict:
    """Median seconds of one all-reduce of a float32 buffer the size of each model's gradients."""
    import numpy as np

    sizes = {"SimpleRNN-32 (seed)": 28 * 32 + 32 * 32 + 32 + 32 * 10 + 10,
             "LSTM-128": 28 * 512 + 128 * 512 + 512 + 128 * 10 + 10}
    out = {}
    for name, n in sizes.items():
        buffer = np.ones(n, dtype=np.float32)
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            strategy.all_reduce([buffer], "benchmark")
            samples.append(time.perf_counter() - start)
        out[name] = {"bytes": int(buffer.nbytes), "seconds": statistics.median(samples[5:])}
    return out


def _gradient_bytes(model: str, units: int, features: int = 28, classes: int = 10) -> int:
    gates = {"simple_rnn": 1, "gru": 3, "lstm": 4}[model]
    bias = gates * units * (2 if model == "gru" else 1)  # Keras' GRU (reset_after) has two bias rows
    return 4 * (gates * units * (features + units) + bias + units * classes + classes)


def step_model(step_ms: float, grad_bytes: int, machines: int, gbit: float, latency_us: float = 50.0) -> float:
    """Milliseconds per global step on ``machines`` machines: compute split N ways plus a ring all-reduce,
    ``2 (N-1)/N x bytes`` at ``gbit`` Gbit/s and ``2 (N-1)`` message latencies."""
    n = machines
    transfer = 2 * (n - 1) / n * grad_bytes * 8 / (gbit * 1e9) * 1e3
    return step_ms / n + transfer + 2 * (n - 1) * latency_us / 1e3


def paper_table(step_ms: float, grad_bytes: int) -> str:
    lines = [f"  one-machine step {step_ms:.2f} ms, gradients {grad_bytes} bytes; speed-up over one machine "
             "(50 us latency per message):",
             f"  {'machines':>8}" + "".join(f"{f'{g:g} Gbit/s':>12}" for g in (1, 10))]
    for n in (2, 4, 8, 16):
        lines.append(f"  {n:>8}" + "".join(f"{step_ms / step_model(step_ms, grad_bytes, n, g):>12.2f}"
                                           for g in (1, 10)))
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args, processes: int, mode: str, batch=None) -> dict:
    port = _free_port()
    batch = batch or args.batch
    steps = args.steps * args.batch // batch  # the same samples
    argv = [sys.executable, "-m", "benchmarks.distributed_scaling", "--worker", mode, "--model", args.model,
            "--units", str(args.units), "--batch", str(batch), "--steps", str(steps),
            "--repeats", str(args.repeats)]
    procs = []
    for rank in range(processes):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(processes),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate() for p in procs]
    for p, (_, err) in zip(procs, outputs):
        if p.returncode != 0:
            raise SystemExit(f"a rank failed ({p.returncode}): {err[-2000:]}")
    line = next(line for line in outputs[0][0].splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    samples = args.batch * args.steps
    load_before = os.getloadavg()[0]
    configs = [("1 (no distribution)", 1, "plain")] + [(str(n), n, "dp") for n in args.processes]
    small = {n: f"1 (no distribution), batch {args.batch // n}" for n in args.processes if n > 1}
    runs = {name: [] for name, _, _ in configs}
    runs.update({name: [] for name in small.values()})
    for _ in range(args.rounds):  # rounds interleave the process counts, so that load changes hit them all
        for name, n, mode in configs:
            runs[name].append(launch(args, n, mode))
        for n, name in small.items():  # the per-rank batch in one process: the work of N ranks without talking
            runs[name].append(launch(args, 1, "plain", args.batch // n))
    rows, allreduce = [], {}
    for name, n, _ in configs:
        pairs = [(t, c) for r in runs[name] for t, c in zip(r["seconds"], r["comm_seconds"])]
        seconds, comm = min(pairs)  # the least disturbed run
        cpu = min(c for r in runs[name] for c in r["cpu_seconds"])
        rows.append((name, samples / seconds, 1000 * seconds / args.steps, 1000 * comm / args.steps,
                     1000 * cpu / args.steps))
        if n in small:
            cpu_small = min(c for r in runs[small[n]] for c in r["cpu_seconds"])
            rows[-1] += (cpu / cpu_small,)  # all ranks' CPU / (one process doing all N shares one after another)
        if "allreduce" in runs[name][0]:
            allreduce[n] = {k: {"bytes": v["bytes"], "seconds": min(r["allreduce"][k]["seconds"] for r in runs[name])}
                            for k, v in runs[name][0]["allreduce"].items()}
    base_rate = rows[0][1]
    print(f"{args.model} {args.units} units, global batch {args.batch}, {args.steps} steps; best of {args.rounds} "
          f"interleaved rounds x {args.repeats} runs; 1 thread per process; {os.cpu_count()} cores on this machine; "
          f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (others' work included)")
    print("| processes | samples/s | ms/step | efficiency | comm ms/step | CPU ms/step, all ranks | work efficiency "
          "| CPU over the same shares in one process |\n|---|---|---|---|---|---|---|---|")
    for row, (_, n, _) in zip(rows, configs):
        name, rate, step_ms, comm_ms, cpu_ms = row[:5]
        extra = f"{row[5]:.2f}" if len(row) > 5 else ""
        print(f"| {name} | {rate:.0f} | {step_ms:.2f} | {rate / (n * base_rate):.2f} | {comm_ms:.2f} | {cpu_ms:.2f} "
              f"| {rows[0][4] / cpu_ms:.2f} | {extra} |")
    print("\nbare all-reduce of a float32 buffer over loopback gloo (best of the rounds' medians of 25):")
    for n, table in allreduce.items():
        for name, item in table.items():
            print(f"  {n} processes, {name}: {item['bytes']} bytes, {1000 * item['seconds']:.3f} ms")
    print("\non paper: N machines, one process each, ring all-reduce of the float32 gradients per step "
          "(see docs/distributed.md):")
    print(paper_table(rows[0][2], _gradient_bytes(args.model, args.units)))
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "allreduce": allreduce, "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
