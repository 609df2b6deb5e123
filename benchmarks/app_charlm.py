"""Character language model, rnnkit beside its PyTorch twin, for the same wall-clock training budget.

    python -m benchmarks.app_charlm --minutes 8

On ``../shared/data/tinyshakespeare.txt`` (last 10% validation), Embedding 64 -> LSTM 256 -> Dense, windows of
100 characters, batch 64 streams, Adam 2e-3, clipnorm 5, stateful streams. The two run at the same time in two
processes (so they share the machine's load), each with one thread (``OMP_NUM_THREADS=1``, ...,
``OMP_WAIT_POLICY=PASSIVE``, ``torch.set_num_threads(1)``). The budget counts training steps only; then each
measures its validation loss over the whole validation text read in order (nats per character), its
characters per second, and draws a 300-character sample (prime: a new line, temperature 0.8). rnnkit's side is
``rnnkit charlm train`` itself (``rnnkit.tasks.charlm.train``); the twin is ``benchmarks.charlm_torch``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TEXT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
SETTINGS = {"units": 256, "embedding": 64, "seq_len": 100, "batch_size": 64, "lr": 2e-3, "clipnorm": 5.0,
            "seed": 1234, "val_fraction": 0.1}


def run_rnnkit(text: str, minutes: float, out: str, settings: dict) -> dict:
    from rnnkit.tasks.charlm import CharLMConfig, train

    config = CharLMConfig(text=text, out=out, cell="lstm", layers=1, epochs=1000, minutes=minutes, **settings)
    report = train(config, overwrite=True)
    import numpy

    return {"framework": "rnnkit", "numpy": numpy.__version__, "threads": 1, "val_loss": report["val_loss"],
            "val_bpc": report["val_bpc"], "training_seconds": report["training_seconds"],
            "training_steps": report["training_steps"], "epochs_started": report["epochs_run"],
            "characters_per_second": report["characters_per_second"], "sample": report["sample"],
            "baseline_loss": report["baseline_loss"], "val_loss_per_epoch": report["history"]["val_loss"]}


def run_torch(text: str, minutes: float, settings: dict) -> dict:
    from benchmarks.charlm_torch import train_twin

    return train_twin(text, minutes, **settings)


def _settings(args) -> dict:
    settings = dict(SETTINGS)
    if args.small:  # a smoke test of the whole benchmark in seconds (not a measurement)
        settings.update(units=32, embedding=8, seq_len=20, batch_size=8)
    return settings


def _worker(args) -> int:
    settings = _settings(args)
    result = run_rnnkit(args.text, args.minutes, args.out, settings) if args.worker == "rnnkit" else \
        run_torch(args.text, args.minutes, settings)
    Path(args.result).write_text(json.dumps(result, indent=1))
    return 0


def _environment(threads: int) -> dict:
    n = str(threads)
    return dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n, NUMBA_NUM_THREADS=n,
                OMP_WAIT_POLICY="PASSIVE")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_charlm", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget of each (default 8)")
    parser.add_argument("--text", default=str(DEFAULT_TEXT), help="the text (default: tinyshakespeare)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--small", action="store_true",
                        help="a smoke test: LSTM 32, windows of 20, batch 8 (not the measured model)")
    parser.add_argument("--worker", choices=("rnnkit", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    folder = tempfile.mkdtemp(prefix="app_charlm-")
    processes = {}
    started = time.time()
    for name in ("rnnkit", "torch"):  # side by side: both train at the same time
        command = [sys.executable, "-m", "benchmarks.app_charlm", "--worker", name, "--minutes", str(args.minutes),
                   "--text", args.text, "--result", os.path.join(folder, f"{name}.json"),
                   "--out", os.path.join(folder, "rnnkit-run")] + (["--small"] if args.small else [])
        log = open(os.path.join(folder, f"{name}.log"), "w")
        processes[name] = (subprocess.Popen(command, env=_environment(1), stdout=log, stderr=subprocess.STDOUT,
                                            cwd=Path(__file__).resolve().parents[1]), log)
    results, failed = {}, False
    for name, (process, log) in processes.items():
        code = process.wait()
        log.close()
        if code != 0:
            failed = True
            print(f"{name} failed (exit {code}); its log:\n" + Path(log.name).read_text()[-3000:], file=sys.stderr)
        else:
            results[name] = json.loads(Path(folder, f"{name}.json").read_text())
    if failed:
        return 1
    r, t = results["rnnkit"], results["torch"]
    settings = _settings(args)
    print(f"char LM on {args.text}: Embedding {settings['embedding']} -> LSTM {settings['units']} -> Dense, seq "
          f"{settings['seq_len']}, batch {settings['batch_size']}, Adam 2e-3, clipnorm 5, {args.minutes:g} min of "
          f"training each, side by side, 1 thread each ({time.time() - started:.0f} s wall)")
    print(f"{'':8} {'val nats/char':>14} {'val bits/char':>14} {'chars/s':>10} {'steps':>7} {'epochs':>7}")
    for row in (r, t):
        print(f"{row['framework']:8} {row['val_loss']:14.4f} {row['val_bpc']:14.4f} "
              f"{row['characters_per_second']:10,.0f} {row['training_steps']:7d} {row['epochs_started']:7d}")
    print(f"unigram baseline: {r['baseline_loss']:.4f} nats/char")
    print(f"rnnkit sample (temperature 0.8):\n{r['sample']}\n---\ntorch sample (temperature 0.8):\n{t['sample']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"minutes": args.minutes, "text": args.text, "settings": settings,
                                               "rnnkit": r, "torch": t}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
