"""``rnnkit forecast``: train a forecaster on a CSV series (always beside the naive, seasonal-naive and drift
forecasts) and forecast the next H steps with it.

    rnnkit forecast train --csv airline-passengers.csv --target Passengers --horizon 12 --test-size 24 --out DIR
    rnnkit forecast predict DIR/model.rnnkit --csv airline-passengers.csv

>>> args = build_parser().parse_args(["train", "--csv", "a.csv", "--target", "y", "--horizon", "7"])
>>> args.command, args.horizon, args.model
('train', 7, 'lstm')
"""
from __future__ import annotations

import argparse

HELP = "forecast a time series from CSV (direct multi-step LSTM/GRU, baselines, no leakage)"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.cli.config_flags import add_config_arguments, add_run_arguments
    from rnnkit.tasks.forecast import ForecastConfig

    parser = argparse.ArgumentParser(prog="rnnkit forecast", description=HELP, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train", help="train on all but the last --test-size steps; report test metrics beside the baselines",
        allow_abbrev=False,
        epilog="Scaling statistics come from the training period only; the validation period (before the test "
               "period) picks the epoch. The last line is: test_mase=... naive_mase=... seasonal_naive_mase=...")
    add_config_arguments(train, ForecastConfig)
    add_run_arguments(train)
    predict = commands.add_parser("predict", help="print the next H values after the CSV's last row, with dates",
                                  allow_abbrev=False)
    predict.add_argument("model_path", metavar="MODEL", help="DIR/model.rnnkit written by 'rnnkit forecast train'")
    predict.add_argument("--csv", required=True, metavar="FILE",
                         help="the series (same columns as in training), up to the last observed step")
    return parser


def run(args, argv) -> int:
    if args.command == "predict":
        from rnnkit.tasks.forecast import predict

        for date, value in predict(args.model_path, args.csv):
            print(f"{date}  {value:.6g}")
        return 0
    from rnnkit.cli.config_flags import run_config
    from rnnkit.tasks.forecast import ForecastConfig, headline_metrics, train
    from rnnkit.tasks.report import headline

    config, resume = run_config(build_parser(), args, argv[1:], "forecast", ForecastConfig)
    report = train(config, resume=resume, overwrite=args.overwrite)
    print(headline(headline_metrics(report)))
    return 0
