"""``make bench``: rnnkit and PyTorch side by side on the same cases, data, batch size, steps and optimizer.

Each (framework, case, thread count, repeat) runs in a fresh process; both frameworks get the same thread count
(rnnkit: ``rnnkit.config.set_num_threads`` and OpenBLAS; PyTorch: ``torch.set_num_threads``), and repeats
alternate between the frameworks so that machine noise hits both. One column group per thread count (default 1
and 2). Prints a table and writes JSON (default runs/bench.json).

    python -m benchmarks.run [--repeats 5] [--threads 1 2] [--cases "LSTM 128" ...] [--tiny] [--json PATH]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

from benchmarks.cases import CASES, TINY, by_name
from benchmarks.gemm_floor import flops


def torch_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def run_worker(framework: str, case_name: str, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "benchmarks.worker", "--framework", framework, "--case", case_name,
               "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{framework} worker failed on {case_name!r}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(case, runs: dict) -> dict:
    row = {"case": case.name, "mode": case.mode, "batch": case.batch, "steps": case.steps, "flops_per_step": flops(case)}
    for framework, results in runs.items():
        row[framework] = {
            "samples_per_s": statistics.median(r["samples_per_s"] for r in results),
            "latency_ms": statistics.median(r["latency_ms"] for r in results),
            "peak_mb": statistics.median(r["peak_mb"] for r in results),
            "repeats": len(results),
        }
    rk = runs["rnnkit"]
    row["rnnkit"]["floor_samples_per_s"] = statistics.median(case.batch * case.steps / r["floor_seconds"] for r in rk)
    row["rnnkit_over_floor_time"] = statistics.median(r["seconds"] / r["floor_seconds"] for r in rk)
    if "torch" in runs:
        ratios = [a["samples_per_s"] / b["samples_per_s"] for a, b in zip(runs["rnnkit"], runs["torch"])]
        row["ratio_rnnkit_over_torch"] = statistics.median(ratios)
    return row


def format_table(rows: list) -> str:
    """One line per case: for each thread count rnnkit's and PyTorch's samples/s and their ratio, then (at the
    most threads) rnnkit's time over its GEMM floor and both peak memories."""
    counts = list(rows[0]["by_threads"]) if rows else []
    header = f"{'case':<26}" + "".join(f"{f'rk/s {t}t':>10}{f'pt/s {t}t':>10}{f'ratio {t}t':>9}" for t in counts) + \
        f"{'x floor':>9}{'MB rk':>8}{'MB pt':>8}"
    lines = [header, "-" * len(header)]
    nan = float("nan")
    for row in rows:
        line = f"{row['case']:<26}"
        for t in counts:
            group = row["by_threads"][t]
            pt = group.get("torch")
            line += f"{group['rnnkit']['samples_per_s']:>10.0f}{(pt['samples_per_s'] if pt else nan):>10.0f}" \
                    f"{group.get('ratio_rnnkit_over_torch', nan):>9.2f}"
        pt = row.get("torch")
        line += f"{row['rnnkit_over_floor_time']:>9.2f}{row['rnnkit']['peak_mb']:>8.1f}" \
                f"{(pt['peak_mb'] if pt else nan):>8.1f}"
        lines.append(line)
    return "\n".join(lines)


def machine_facts() -> dict:
    import numpy

    facts = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
             "numpy": numpy.__version__, "cpu": _cpu_name(), "cores": os.cpu_count()}
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    facts["torch"] = probe.stdout.strip() or None
    return facts


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts, one column group each (default: 1 2)")
    parser.add_argument("--cases", nargs="*", default=None, help="case names (default: all)")
    parser.add_argument("--tiny", action="store_true", help="tiny cases only (used by the test suite)")
    parser.add_argument("--no-torch", action="store_true", help="report rnnkit alone")
    parser.add_argument("--json", default="runs/bench.json")
    args = parser.parse_args(argv)

    cases = TINY if args.tiny else [by_name(n) for n in args.cases] if args.cases else CASES
    frameworks = ["rnnkit"] + ([] if args.no_torch or not torch_available() else ["torch"])
    if "torch" not in frameworks:
        print("PyTorch not available: reporting rnnkit alone (pip install torch==2.13.0 to compare)")
    rows = []
    for case in cases:
        by_threads = {}
        for threads in args.threads:
            runs = {f: [] for f in frameworks}
            for _ in range(args.repeats):
                for framework in frameworks:
                    runs[framework].append(run_worker(framework, case.name, threads))
            by_threads[str(threads)] = summarize(case, runs)
        row = dict(by_threads[str(args.threads[-1])])  # the top level: the last thread count (as before)
        row["by_threads"] = by_threads
        rows.append(row)
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    report = {"machine": machine_facts(), "threads": args.threads, "repeats": args.repeats, "results": rows}
    print()
    print(format_table(rows))
    if args.json:
        from rnnkit.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
