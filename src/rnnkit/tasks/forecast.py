"""``rnnkit forecast``: a recurrent network that forecasts the next H steps of a series at once, always shown
beside the naive, seasonal-naive and drift forecasts, with nothing of the test period used in training.

The network reads a window of W past steps of the target (and of ``--features``), scaled by a ``Normalization``
layer adapted on the training period only, and a ``Dense(H)`` layer gives the H future values of the
(transformed) target, scaled back by an inverted ``Normalization`` with the training period's statistics. The
last ``--test-size`` steps are the test period; the validation period (``--val-size`` steps, by default as
many as the test) comes from before it and picks the epoch whose weights are kept. The test is scored on
rolling origins: a forecast from every step of the test period that has H actual values after it.

>>> config = ForecastConfig(csv="sales.csv", target="Sales", horizon=6, season=12)
>>> config.resolved_window()
24
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import field

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.forecast_data import Series, format_date, future_dates, read_series, season_of
from rnnkit.tasks.forecast_windows import (BASELINES, TRANSFORMS, Periods, actuals, baseline_forecasts, inverse,
                                           score, transform, windows)

TASK = "forecast"
PLOT_NAME = "forecast.png"


@dataclasses.dataclass
class ForecastConfig:
    csv: str = field(default="", metadata={"help": "the CSV file: a header line, then one row per time step",
                                           "metavar": "FILE"})
    target: str = field(default="", metadata={"help": "the column to forecast", "metavar": "COLUMN"})
    out: str = field(default="forecast-run", metadata={"help": "folder for model.rnnkit, report.json and plots",
                                                       "metavar": "DIR"})
    features: str = field(default="", metadata={
        "help": "input columns besides the target, comma-separated (the target's own past is always an input)",
        "metavar": "COL,..."})
    date_column: str = field(default="", metadata={
        "help": "the date column; or year,month[,day[,hour]] columns to compose it; 'none' for row numbers; "
                "empty: the first column if it parses as dates", "metavar": "COLUMN"})
    horizon: int = field(default=12, metadata={"help": "steps forecast at once (H)", "metavar": "H"})
    season: int = field(default=0, metadata={
        "help": "season length for the seasonal-naive forecast and the MASE scale (0: from the dates: 12 for "
                "months, 7 for days, 24 for hours, else 1)", "metavar": "S"})
    window: int = field(default=0, metadata={
        "help": "past steps the network reads (0: max(2H, min(2S, 60)))", "metavar": "W"})
    test_size: int = field(default=0, metadata={"help": "the last N steps are the test period (0: 2H)",
                                                "metavar": "N"})
    val_size: int = field(default=0, metadata={
        "help": "steps of the validation period, just before the test period (0: as many as the test period, "
                "fewer if the training period would get too short)", "metavar": "N"})
    model: str = field(default="lstm", metadata={"help": "recurrent layer", "choices": ("lstm", "gru")})
    units: int = field(default=32, metadata={"help": "recurrent units"})
    epochs: int = field(default=100, metadata={"help": "training epochs (the best on the validation period is kept)"})
    patience: int = field(default=20, metadata={
        "help": "stop after this many epochs without a better validation loss (0: never stop early)"})
    batch_size: int = field(default=32, metadata={"help": "windows per training step"})
    lr: float = field(default=0.001, metadata={"help": "Adam learning rate"})
    stride: int = field(default=1, metadata={
        "help": "use every STRIDE-th training window (long hourly series train faster)", "metavar": "STRIDE"})
    transform: str = field(default="none", metadata={"help": "transform of the target before scaling",
                                                     "choices": TRANSFORMS})
    seed: int = field(default=0, metadata={"help": "random seed (weights, shuffling)"})
    verbose: int = field(default=0, metadata={"help": "0 silent, 1 progress bar, 2 one line per epoch",
                                              "choices": (0, 1, 2)})
    checkpoint_every: int = field(default=0, metadata={"help": "also checkpoint every N steps (0: every epoch)",
                                                       "metavar": "N"})

    def feature_list(self) -> list:
        return [name.strip() for name in self.features.split(",") if name.strip()]

    def resolved_season(self, series: Series | None = None) -> int:
        if self.season:
            return self.season
        return 1 if series is None else season_of(series.unit, series.step)

    def resolved_window(self, season: int | None = None) -> int:
        if self.window:
            return self.window
        season = self.season if season is None else season
        return max(2 * self.horizon, min(2 * season, 60))

    def resolved_test_size(self) -> int:
        return self.test_size or 2 * self.horizon

    def validate(self) -> None:
        from rnnkit.cli.config_flags import check_all, positive

        check_all([
            (bool(self.csv), "--csv FILE is required"),
            (bool(self.target), "--target COLUMN is required"),
            positive("horizon", self.horizon), positive("season", self.season, allow_zero=True),
            positive("window", self.window, allow_zero=True), positive("test_size", self.test_size, allow_zero=True),
            positive("val_size", self.val_size, allow_zero=True), positive("units", self.units),
            positive("epochs", self.epochs, allow_zero=True), positive("patience", self.patience, allow_zero=True),
            positive("batch_size", self.batch_size), positive("lr", self.lr), positive("stride", self.stride),
            (self.model in ("lstm", "gru"), f"--model must be lstm or gru; got {self.model!r}"),
            (self.transform in TRANSFORMS, f"--transform must be one of {', '.join(TRANSFORMS)}; got "
                                           f"{self.transform!r}"),
            (self.test_size == 0 or self.test_size >= self.horizon,
             f"--test-size {self.test_size} is shorter than --horizon {self.horizon}: no test origin would have "
             "H actual values after it"),
            (self.val_size == 0 or self.val_size >= self.horizon,
             f"--val-size {self.val_size} is shorter than --horizon {self.horizon}"),
        ])


# ------------------------------------------------------------------------------------------------- data
@dataclasses.dataclass
class Prepared:
    """A series made ready: raw target ``y (T,)``, network inputs ``inputs (T, C)`` (column 0: the transformed
    target ``z``), ``z (T,)``, the periods, and the settings resolved from the data."""

    series: Series
    y: np.ndarray
    z: np.ndarray
    inputs: np.ndarray
    periods: Periods
    season: int
    window: int
    notes: list


def load_data(config: ForecastConfig) -> Prepared:
    """Read the CSV, transform the target and split the time steps into training, validation and test."""
    series = read_series(config.csv, config.target, config.feature_list(), config.date_column or None)
    season = config.resolved_season(series)
    window = config.resolved_window(season)
    test = config.resolved_test_size()
    y = series.values[:, 0].copy()
    z = transform(y, config.transform)
    inputs = series.values.copy()
    inputs[:, 0] = z
    first = 1 if config.transform in ("diff", "log-diff") else 0  # the first step has no difference
    notes = list(series.notes)
    if first:
        notes.append(f"--transform {config.transform}: the first step ({format_date(series.dates[0], series.unit)})"
                     " only starts the differences")
    steps = len(y) - first
    need = window + config.horizon + test
    if steps < need:
        raise DataError(f"{config.csv} has {steps} usable time steps; at least window + horizon + test-size = "
                        f"{window} + {config.horizon} + {test} = {need} are needed (lower --window, --horizon or "
                        "--test-size)")
    before_test = steps - test
    val = config.val_size or min(test, before_test - (window + config.horizon))
    if val < config.horizon or before_test - val < window + config.horizon:
        raise DataError(f"{config.csv}: the {before_test} steps before the test period cannot hold a validation "
                        f"period of at least --horizon {config.horizon} steps and a training period of at least "
                        f"window + horizon = {window + config.horizon} steps (val-size {val}); lower --window or "
                        "--test-size, or give a longer series")
    end = len(y)
    periods = Periods(first=first, train_end=end - test - val, val_end=end - test, end=end)
    if season > periods.train_end - first:
        raise DataError(f"--season {season} is longer than the training period ({periods.train_end - first} steps); "
                        "the in-sample seasonal-naive error that scales MASE needs more")
    return Prepared(series, y, z, inputs, periods, season, window, notes)


def period_text(prepared: Prepared) -> dict:
    """The exact date range and size of each period."""
    series, p = prepared.series, prepared.periods

    def span(a, b):
        return {"first": format_date(series.dates[a], series.unit), "last": format_date(series.dates[b - 1],
                                                                                        series.unit), "steps": b - a}

    return {"training": span(p.first, p.train_end), "validation": span(p.train_end, p.val_end),
            "test": span(p.val_end, p.end)}


# ------------------------------------------------------------------------------------------------ model
def build_model(config: ForecastConfig, prepared: Prepared):
    """Normalization (adapted on the training period) -> LSTM/GRU -> Dense(H) -> inverted Normalization."""
    from rnnkit.layers import GRU, LSTM, Dense, Normalization
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam
    from rnnkit.random import set_random_seed

    set_random_seed(config.seed)
    p = prepared.periods
    scale_in = Normalization(input_shape=(prepared.window, prepared.inputs.shape[1]), name="scale_inputs")
    scale_in.adapt(prepared.inputs[p.first:p.train_end])  # (train steps, C): statistics of the training period only
    z_train = prepared.z[p.first:p.train_end]
    scale_out = Normalization(mean=float(z_train.mean()), variance=float(z_train.var()), invert=True,
                              name="unscale_forecast")
    recurrent = (LSTM if config.model == "lstm" else GRU)(config.units, name=config.model)
    model = Sequential([scale_in, recurrent, Dense(config.horizon, name="forecast"), scale_out])
    model.build((None, prepared.window, prepared.inputs.shape[1]))  # weights now: they depend on the seed alone
    model.compile(optimizer=Adam(learning_rate=config.lr), loss="mse")
    return model


def model_forecasts(model, prepared: Prepared, origins: np.ndarray, horizon: int, kind: str) -> np.ndarray:
    """Forecasts ``(N, H)`` of the series from each origin."""
    x, _ = windows(prepared.inputs, prepared.z, origins, prepared.window, horizon)
    z_hat = model.predict(x, batch_size=256, verbose=0)  # (N, H)
    return inverse(z_hat, prepared.y[origins - 1], kind)


def evaluate_period(model, prepared: Prepared, origins, config: ForecastConfig) -> tuple:
    """``(metrics, forecasts, truth)`` of the model and the baselines at ``origins``."""
    horizon = config.horizon
    forecasts = {"model": model_forecasts(model, prepared, origins, horizon, config.transform)}
    forecasts.update(baseline_forecasts(prepared.y, origins, horizon, prepared.season))
    truth = actuals(prepared.y, origins, horizon)
    p = prepared.periods
    return score(truth, forecasts, prepared.y[:p.train_end], prepared.season), forecasts, truth


# ------------------------------------------------------------------------------------------------ train
def fit_model(config: ForecastConfig, prepared: Prepared, out: str | None = None, resume: bool = False):
    """Build and train the network on the training windows, keeping the weights of the epoch with the lowest
    validation loss. With ``out`` the run is checkpointed there (``--resume``); returns ``(model, history)``."""
    from rnnkit.callbacks import EarlyStopping

    p = prepared.periods
    model = build_model(config, prepared)
    x_train, y_train = windows(prepared.inputs, prepared.z, p.train_origins(prepared.window, config.horizon,
                                                                            config.stride),
                               prepared.window, config.horizon)
    x_val, y_val = windows(prepared.inputs, prepared.z, p.val_origins(config.horizon), prepared.window,
                           config.horizon)
    stop = EarlyStopping(monitor="val_loss", patience=config.patience or config.epochs + 1,
                         restore_best_weights=True)
    fit_kwargs = dict(x=x_train, y=y_train, batch_size=config.batch_size, epochs=config.epochs,
                      validation_data=(x_val, y_val), verbose=config.verbose, shuffle=True)
    if out is None:
        history = model.fit(callbacks=[stop], **fit_kwargs)
    else:
        from rnnkit.tasks.runs import checkpointed_fit

        history = checkpointed_fit(model, out, TASK, config, resume=resume, checkpoint_every=config.checkpoint_every,
                                   callbacks=[stop], **fit_kwargs)
    return model, history


def task_info(config: ForecastConfig, prepared: Prepared) -> dict:
    """What ``predict`` needs besides the network (saved in the model file's ``task.json``)."""
    series = prepared.series
    return {"target": config.target, "features": series.columns[1:], "date_column": series.date_column,
            "unit": series.unit, "step": series.step, "window": prepared.window, "horizon": config.horizon,
            "transform": config.transform, "season": prepared.season,
            "last_training_date": format_date(series.dates[prepared.periods.val_end - 1], series.unit)}


def train(config: ForecastConfig, resume: bool = False, overwrite: bool = False, echo=print) -> dict:
    """Train, score on the test period beside the baselines, write ``model.rnnkit``, ``report.json``,
    ``forecast.png`` and ``history.png`` into ``config.out``; returns the report."""
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.report import plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, check_out_dir

    if not resume:
        check_out_dir(config.out, TASK, overwrite=overwrite)
    prepared = load_data(config)
    periods = period_text(prepared)
    series = prepared.series
    echo(f"data: {config.csv}, target {config.target!r}, inputs {series.columns}, {len(series.dates)} steps of "
         f"{series.step} {series.unit}, season {prepared.season}, window {prepared.window}, horizon {config.horizon}, "
         f"transform {config.transform}")
    for note in prepared.notes:
        echo(f"note: {note}")
    for name, span in periods.items():
        echo(f"{name:<10}  {span['first']} .. {span['last']}  ({span['steps']} steps)")
    started = time.perf_counter()
    model, history = fit_model(config, prepared, config.out, resume)
    seconds = time.perf_counter() - started
    p = prepared.periods
    val_metrics, _, _ = evaluate_period(model, prepared, p.val_origins(config.horizon), config)
    test_origins = p.test_origins(config.horizon)
    test_metrics, forecasts, truth = evaluate_period(model, prepared, test_origins, config)
    path = os.path.join(config.out, MODEL_NAME)
    save_task_model(path, model, TASK, task_info(config, prepared))
    epochs_run = len(history.history.get("loss", []))
    best_epoch = int(np.argmin(history.history["val_loss"])) + 1 if history.history.get("val_loss") else None
    report = {
        "task": TASK, "config": dataclasses.asdict(config), "periods": periods, "notes": prepared.notes,
        "missing_values": series.missing, "season": prepared.season, "window": prepared.window,
        "test_origins": {"count": len(test_origins), "first": format_date(series.dates[test_origins[0]],
                                                                          series.unit),
                         "last": format_date(series.dates[test_origins[-1]], series.unit)},
        "mase_scale": "mean |y_t - y_(t-season)| over the training period",
        "test": test_metrics, "validation": val_metrics,
        "training": {"epochs_run": epochs_run, "best_epoch": best_epoch, "seconds": seconds,
                     "windows": int(len(p.train_origins(prepared.window, config.horizon, config.stride)))},
        "history": history.history,
    }
    write_report(config.out, report)
    plot_forecasts(os.path.join(config.out, PLOT_NAME), prepared, test_origins, forecasts, truth, test_metrics,
                   config)
    plot_history(history.history, os.path.join(config.out, "history.png"),
                 f"{config.model.upper()} {config.units}, {os.path.basename(config.csv)}")
    echo(metrics_table(test_metrics))
    echo(f"model and report written to {config.out} (best epoch {best_epoch} of {epochs_run}, {seconds:.1f} s)")
    return report


def metrics_table(metrics: dict) -> str:
    """The test metrics as an aligned text table."""
    lines = [f"{'test':<15}{'MAE':>10}{'RMSE':>10}{'MAPE%':>9}{'sMAPE%':>9}{'MASE':>8}"]
    for name, row in metrics.items():
        mape_text = "n/a" if row["mape"] is None else f"{row['mape']:.2f}"
        lines.append(f"{name:<15}{row['mae']:>10.4g}{row['rmse']:>10.4g}{mape_text:>9}{row['smape']:>9.2f}"
                     f"{row['mase']:>8.3f}")
    return "\n".join(lines)


def headline_metrics(report: dict) -> dict:
    test = report["test"]
    return {"test_mase": test["model"]["mase"], "naive_mase": test["naive"]["mase"],
            "seasonal_naive_mase": test["seasonal_naive"]["mase"]}


# ------------------------------------------------------------------------------------------------- plot
def plot_forecasts(path, prepared: Prepared, origins, forecasts, truth, metrics, config) -> bool:
    """History, the test period's actual values, and the model's and seasonal-naive forecasts from the origins
    one horizon apart (so that they tile the test period); right: MASE by horizon for every method."""
    from rnnkit.tasks.report import figure

    series, p = prepared.series, prepared.periods
    x = series.dates if series.unit == "row" else series.dates.astype("datetime64[D]" if series.unit in "MD"
                                                                       else "datetime64[m]")
    with figure(path, ncols=2, figsize=(14, 4.5), gridspec_kw={"width_ratios": [3, 1]}) as drawing:
        if drawing is None:
            return False
        fig, (ax, ax_h) = drawing
        shown = max(p.first, p.val_end - max(4 * (p.end - p.val_end), 3 * prepared.window))
        ax.plot(x[shown:p.val_end], prepared.y[shown:p.val_end], color="0.5", lw=1, label="history")
        ax.plot(x[p.val_end - 1:], prepared.y[p.val_end - 1:], color="black", lw=1.2, label="test actuals")
        ax.axvline(x[p.train_end], color="0.7", ls=":", lw=1)  # validation starts
        ax.axvline(x[p.val_end], color="0.4", ls=":", lw=1)  # test starts
        ax.text(x[p.train_end], 1.0, " validation", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        ax.text(x[p.val_end], 1.0, " test", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        h = config.horizon
        for k, i in enumerate(range(0, len(origins), h)):
            t = origins[i]
            ax.plot(x[t:t + h], forecasts["model"][i], color="tab:red", lw=1.4,
                    label=f"{config.model.upper()} (MASE {metrics['model']['mase']:.2f})" if k == 0 else None)
            ax.plot(x[t:t + h], forecasts["seasonal_naive"][i], color="tab:blue", ls="--", lw=1.2,
                    label=f"seasonal naive (MASE {metrics['seasonal_naive']['mase']:.2f})" if k == 0 else None)
        ax.set_title(f"{config.target}: forecasts of {h} steps from origins {h} apart over the test period")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
        steps = np.arange(1, h + 1)
        for name, row in metrics.items():
            ax_h.plot(steps, row["mase_by_horizon"], "-o" if name == "model" else "--", markersize=3,
                      label=name.replace("_", " "))
        ax_h.set_xlabel("horizon (steps ahead)")
        ax_h.set_title("test MASE by horizon")
        ax_h.grid(alpha=0.3)
        ax_h.legend(fontsize=8)
        fig.autofmt_xdate()
    return True


# ---------------------------------------------------------------------------------------------- predict
def predict(model_path: str, csv_path: str) -> list:
    """The next H values after the last row of ``csv_path``: ``[(date text, value), ...]``."""
    from rnnkit.tasks.artifacts import load_task_model

    model, info = load_task_model(model_path, TASK)
    series = read_series(csv_path, info["target"], info["features"],
                         None if info["date_column"] == "" else info["date_column"])
    if series.unit != info["unit"] or (series.unit != "row" and series.step != info["step"]):
        raise DataError(f"{csv_path} has a step of {series.step} {series.unit}; the model was trained on steps of "
                        f"{info['step']} {info['unit']}")
    window, horizon, kind = int(info["window"]), int(info["horizon"]), info["transform"]
    y = series.values[:, 0]
    z = transform(y, kind)
    inputs = series.values.copy()
    inputs[:, 0] = z
    first = 1 if kind in ("diff", "log-diff") else 0
    if len(y) - first < window:
        raise DataError(f"{csv_path} has {len(y) - first} usable time steps; the model reads windows of {window}")
    x = inputs[None, -window:]  # (1, W, C)
    z_hat = model.predict(x, verbose=0)  # (1, H)
    values = inverse(z_hat, y[-1:], kind)[0]
    dates = future_dates(series, horizon)
    return [(format_date(d, series.unit), float(v)) for d, v in zip(dates, values)]


def read_report(out: str) -> dict:
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        return json.load(f)


__all__ = ["ForecastConfig", "load_data", "build_model", "fit_model", "train", "predict", "BASELINES",
           "ConfigError"]
