"""Forecasting measurement (issue 16): test MASE of rnnkit's forecaster, the naive, seasonal-naive and drift
forecasts, and the same network written plainly in PyTorch, on four real series, single-threaded.

Both networks get the same windows (``rnnkit.tasks.forecast_windows.windows``), the same scaling (the
training period's mean and variance: rnnkit inside the model as ``Normalization`` layers, PyTorch as the same
arithmetic around its layers), the same loss (MSE on the transformed target's own units), Adam with Keras'
epsilon, batch size, epochs, early stopping on the validation period (best validation epoch kept), and the same
rolling-origin test scoring. Each keeps its own default weight initialisation. Per series the settings below were
chosen on the validation period only (printed beside the test); the test period is never looked at.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m benchmarks.app_forecast \\
        [--series airline,temperatures,sunspots,pm25] [--json runs/forecast.json] [--no-torch] [--quick]
    python -m benchmarks.app_forecast --select --series airline    # how the settings were chosen
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "timeseries"

# name: (csv, flags of ForecastConfig); chosen on the validation period (see docs/forecast.md)
SERIES = {
    "airline": ("airline-passengers.csv", dict(target="Passengers", horizon=12, test_size=24, season=12,
                                               transform="log-diff", epochs=1000, patience=250)),
    "temperatures": ("daily-min-temperatures.csv", dict(target="Temp", horizon=7, test_size=365, season=365,
                                                        window=60, epochs=40, patience=10)),
    "sunspots": ("monthly-sunspots.csv", dict(target="Sunspots", horizon=12, test_size=240, season=12, window=48,
                                              transform="diff", epochs=60, patience=15)),
    "pm25": ("pollution.csv", dict(target="pm2.5", features="DEWP,TEMP,PRES,Iws,Is,Ir",
                                   date_column="year,month,day,hour", horizon=24, test_size=720, season=24,
                                   window=48, stride=2, epochs=10, patience=5)),
}


# the candidates compared on the validation period with --select (the test period is not scored there)
CANDIDATES = {
    "airline": [dict(transform=t, epochs=e, patience=e // 4, lr=lr) for t in ("none", "diff", "log-diff")
                for e, lr in ((400, 0.001), (1000, 0.001), (400, 0.003))]
    + [dict(transform="log-diff", epochs=400, patience=100, batch_size=b) for b in (8, 16)],
    "temperatures": [dict(window=w, epochs=40, patience=10) for w in (14, 30, 60)],
    "sunspots": [dict(window=w, transform=t, epochs=60, patience=15) for w in (24, 48) for t in ("none", "diff")],
    "pm25": [dict(stride=s, epochs=e, patience=5) for s, e in ((6, 15), (2, 10))],
}


def select(name: str) -> list:
    """Validation MASE of rnnkit's model for each candidate setting of ``name`` (the test period is not scored)."""
    from rnnkit.tasks.forecast import evaluate_period, fit_model, load_data

    rows = []
    for overrides in CANDIDATES[name]:
        config = dataclasses.replace(config_for(name), **overrides)
        prepared = load_data(config)
        model, _ = fit_model(config, prepared)
        metrics, _, _ = evaluate_period(model, prepared, prepared.periods.val_origins(config.horizon), config)
        rows.append((overrides, metrics["model"]["mase"]))
        baselines = ", ".join(f"{k} {v['mase']:.3f}" for k, v in metrics.items() if k != "model")
        print(f"{name} {overrides}: validation MASE {metrics['model']['mase']:.3f}  ({baselines})", flush=True)
    best = min(rows, key=lambda row: row[1])
    print(f"{name}: best on validation {best[0]} ({best[1]:.3f})")
    return rows


def config_for(name: str, quick: bool = False, seed: int = 0):
    from rnnkit.tasks.forecast import ForecastConfig

    csv_name, flags = SERIES[name]
    config = ForecastConfig(csv=str(DATA / csv_name), units=32, seed=seed, **flags)
    if quick:  # a smoke run for the test suite
        config.epochs, config.stride = 2, max(config.stride, 8)
    return config


# ------------------------------------------------------------------------------------------------ torch twin
def initial_weights(config, prepared) -> dict:
    """rnnkit's initial weights for ``config`` (the same seed gives fit_model the same ones), in PyTorch's layout."""
    from rnnkit.interop.pytorch import keras_to_torch
    from rnnkit.tasks.forecast import build_model

    model = build_model(config, prepared)  # built there, before any draw of fit's
    rnn, dense = model.layers[1], model.layers[2]
    kernel, recurrent_kernel, bias = [w.data for w in rnn.weights]
    out = {f"rnn.{k}_l0": v for k, v in keras_to_torch(config.model, kernel, recurrent_kernel, bias).items()}
    out["head.weight"], out["head.bias"] = dense.kernel.data.T, dense.bias.data  # (H, units), (H,)
    return out


def torch_twin(config, prepared, x_train, y_train, x_val, y_val, start_from=None):
    """The same network in plain PyTorch (from the weights ``start_from`` if given, else PyTorch's own
    initialisation); returns a forecast function of windows."""
    import torch

    torch.manual_seed(config.seed)
    p = prepared.periods
    rows = prepared.inputs[p.first:p.train_end]
    in_mean = torch.tensor(rows.mean(0), dtype=torch.float32)
    in_scale = torch.tensor(np.maximum(np.sqrt(rows.var(0)), 1e-7), dtype=torch.float32)
    z = prepared.z[p.first:p.train_end]
    out_mean, out_scale = float(z.mean()), float(max(np.sqrt(z.var()), 1e-7))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            cell = torch.nn.LSTM if config.model == "lstm" else torch.nn.GRU
            self.rnn = cell(prepared.inputs.shape[1], config.units, batch_first=True)
            self.head = torch.nn.Linear(config.units, config.horizon)

        def forward(self, x):  # (B, W, C) raw -> (B, H) in z units
            out, _ = self.rnn((x - in_mean) / in_scale)
            return self.head(out[:, -1]) * out_scale + out_mean

    net = Net()
    if start_from is not None:
        net.load_state_dict({k: torch.tensor(np.ascontiguousarray(v), dtype=torch.float32)
                             for k, v in start_from.items()})
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, eps=1e-7)
    xt, yt = torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train, dtype=torch.float32)
    xv, yv = torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val, dtype=torch.float32)
    generator = torch.Generator().manual_seed(config.seed)
    best, best_state, wait = float("inf"), None, 0
    patience = config.patience or config.epochs + 1
    for _ in range(config.epochs):
        net.train()
        order = torch.randperm(len(xt), generator=generator)
        for first in range(0, len(xt), config.batch_size):
            index = order[first:first + config.batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xt[index]), yt[index])
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(torch.nn.functional.mse_loss(net(xv), yv))
        if val_loss < best:
            best, best_state, wait = val_loss, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            wait += 1
            if wait >= patience:
                break
    net.load_state_dict(best_state)

    def forecast(x):
        with torch.no_grad():
            return net(torch.tensor(x, dtype=torch.float32)).numpy().astype(np.float64)

    return forecast


def climatology(prepared, origins, horizon):
    """Daily series: the training period's mean for the same month and day (the 'climatology' forecast)."""
    dates = prepared.series.dates.astype("datetime64[D]")
    month_day = np.array([str(d)[5:] for d in dates])
    p = prepared.periods
    means = {}
    for key in np.unique(month_day[:p.train_end]):
        means[key] = prepared.y[:p.train_end][month_day[:p.train_end] == key].mean()
    targets = origins[:, None] + np.arange(horizon)  # (N, H)
    return np.vectorize(lambda i: means[month_day[i]])(targets)


# ------------------------------------------------------------------------------------------------------ run
def run_series(name: str, use_torch: bool, quick: bool, seed: int = 0, same_init: bool = False) -> dict:
    from rnnkit.forecasting import mase_scale
    from rnnkit.tasks.forecast import evaluate_period, fit_model, load_data
    from rnnkit.tasks.forecast_windows import actuals, inverse, score, windows

    config = config_for(name, quick, seed)
    prepared = load_data(config)
    p = prepared.periods
    started = time.perf_counter()
    model, history = fit_model(config, prepared)
    rnnkit_seconds = time.perf_counter() - started
    test_origins = p.test_origins(config.horizon)
    metrics, forecasts, truth = evaluate_period(model, prepared, test_origins, config)
    val_metrics, _, _ = evaluate_period(model, prepared, p.val_origins(config.horizon), config)
    result = {"series": name, "config": dataclasses.asdict(config), "same_init": same_init, "season": prepared.season,
              "window": prepared.window, "train_windows": int(len(p.train_origins(prepared.window, config.horizon,
                                                                                  config.stride))),
              "test_origins": int(len(test_origins)), "rnnkit_seconds": rnnkit_seconds,
              "rnnkit_epochs": len(history.history["loss"]), "notes": prepared.notes}
    if use_torch:
        import torch

        torch.set_num_threads(1)
        x_train, y_train = windows(prepared.inputs, prepared.z, p.train_origins(prepared.window, config.horizon,
                                                                                config.stride),
                                   prepared.window, config.horizon)
        x_val, y_val = windows(prepared.inputs, prepared.z, p.val_origins(config.horizon), prepared.window,
                               config.horizon)
        start_from = initial_weights(config, prepared) if same_init else None
        started = time.perf_counter()
        twin = torch_twin(config, prepared, x_train, y_train, x_val, y_val, start_from)
        result["torch_seconds"] = time.perf_counter() - started
        x_test, _ = windows(prepared.inputs, prepared.z, test_origins, prepared.window, config.horizon)
        forecasts["pytorch"] = inverse(twin(x_test), prepared.y[test_origins - 1], config.transform)
        val_origins = p.val_origins(config.horizon)
        x_v, _ = windows(prepared.inputs, prepared.z, val_origins, prepared.window, config.horizon)
        val_metrics.update(score(actuals(prepared.y, val_origins, config.horizon),
                                 {"pytorch": inverse(twin(x_v), prepared.y[val_origins - 1], config.transform)},
                                 prepared.y[:p.train_end], prepared.season))
    if name == "temperatures":
        forecasts["climatology"] = climatology(prepared, test_origins, config.horizon)
    metrics = score(truth, forecasts, prepared.y[:p.train_end], prepared.season)
    result["test"] = metrics
    result["validation"] = val_metrics
    naive_scale = mase_scale(prepared.y[:p.train_end], 1)
    result["test_h1_mase_naive_scaled"] = {k: float(np.mean(np.abs(truth[:, 0] - f[:, 0])) / naive_scale)
                                           for k, f in forecasts.items()}
    print(f"\n== {name} (seed {seed}): H={config.horizon}, season {prepared.season}, window {prepared.window}, transform "
          f"{config.transform}, {result['train_windows']} training windows, {len(test_origins)} test origins")
    for note in prepared.notes:
        print(f"   note: {note}")
    print(f"   {'method':<15}{'test MASE':>10}{'val MASE':>10}{'h=1 MASE(m=1)':>15}{'sMAPE%':>9}")
    for method, row in metrics.items():
        val = val_metrics.get(method, {}).get("mase")
        val_text = "" if val is None else f"{val:.3f}"
        print(f"   {method:<15}{row['mase']:>10.3f}{val_text:>10}{result['test_h1_mase_naive_scaled'][method]:>15.3f}"
              f"{row['smape']:>9.2f}")
    torch_text = f", PyTorch {result['torch_seconds']:.1f} s" if use_torch else ""
    print(f"   training: rnnkit {rnnkit_seconds:.1f} s ({result['rnnkit_epochs']} epochs){torch_text}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_forecast", description=__doc__.split("\n")[0])
    parser.add_argument("--series", default=",".join(SERIES), help="comma-separated: " + ", ".join(SERIES))
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch twin")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="train both networks with seeds 0..N-1 and report the mean and spread of their MASE")
    parser.add_argument("--same-init", action="store_true",
                        help="start the PyTorch twin from rnnkit's initial weights (default: PyTorch's own init)")
    parser.add_argument("--quick", action="store_true", help="2 epochs each (a smoke run, not a measurement)")
    parser.add_argument("--select", action="store_true",
                        help="compare the candidate settings on the validation period only (no test scores)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.series.split(",") if n.strip()]
    unknown = [n for n in names if n not in SERIES]
    if unknown:
        parser.error(f"unknown series {unknown}; choose from {', '.join(SERIES)}")
    print(f"threads: OMP={os.environ.get('OMP_NUM_THREADS')} OPENBLAS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          "torch.set_num_threads(1); python " + sys.version.split()[0])
    if args.select:
        for name in names:
            select(name)
        return 0
    started = time.perf_counter()
    results = [run_series(n, not args.no_torch, args.quick, seed, args.same_init) for n in names for seed in range(args.seeds)]
    if args.seeds > 1:
        print("\nover seeds " + ", ".join(str(s) for s in range(args.seeds)) + ": test MASE mean (sd, min..max)")
        for name in names:
            for method in ("model", "pytorch"):
                values = np.array([r["test"][method]["mase"] for r in results if r["series"] == name
                                   and method in r["test"]])
                if len(values):
                    print(f"   {name:<13}{method:<9}{values.mean():.3f} (sd {values.std(ddof=1):.3f}, "
                          f"{values.min():.3f}..{values.max():.3f})")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        from rnnkit.tasks.report import plain

        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(plain({"results": results}), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
