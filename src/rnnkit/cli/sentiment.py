"""``rnnkit sentiment``: train a sentence sentiment classifier (``train``) and use it (``predict``).

>>> parser = build_parser()
>>> args = parser.parse_args(["train", "--data", "a.txt", "b.txt", "--cv", "5", "--cell", "gru"])
>>> args.data, args.cv, args.cell
(['a.txt', 'b.txt'], 5, 'gru')
>>> parser.parse_args(["predict", "run/model.rnnkit", "the battery died after a day"]).texts
['the battery died after a day']
"""
from __future__ import annotations

import argparse

from rnnkit.cli.config_flags import add_config_arguments, add_run_arguments, config_from_args, given_flags

HELP = "classify sentences as positive or negative (BiLSTM/BiGRU beside a TF-IDF baseline)"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.tasks.sentiment import SentimentConfig

    parser = argparse.ArgumentParser(prog="rnnkit sentiment", description=HELP, allow_abbrev=False)
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = commands.add_parser(
        "train", help="train on 'sentence<TAB>label' files and report test accuracy beside the baseline",
        allow_abbrev=False,
        epilog="Test set: --test-data FILE, or --cv K (stratified K-fold cross-validation), or else a stratified "
               "--test-fraction of --data. Early stopping uses a validation part of the training data only. "
               "Writes DIR/model.rnnkit, DIR/report.json, DIR/curves.png; the last line is "
               "'test_accuracy=... baseline_accuracy=...' (means over the folds with --cv).")
    add_config_arguments(train, SentimentConfig)
    add_run_arguments(train)
    predict = commands.add_parser("predict", help="print the label and its probability for each sentence",
                                  allow_abbrev=False)
    predict.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit sentiment train'")
    predict.add_argument("texts", nargs="+", metavar="TEXT", help="sentences to classify")
    return parser


def run(args, argv) -> int:
    if args.action == "predict":
        return _predict(args)
    return _train(args, argv)


def _train(args, argv) -> int:
    from rnnkit.tasks.report import headline
    from rnnkit.tasks.sentiment import SentimentConfig, resume_run_config, train

    if args.resume is not None:
        given = {name: getattr(args, name) for name in given_flags(argv, SentimentConfig)}
        config = resume_run_config(args.resume, given)
    else:
        usage = argparse.ArgumentParser(prog="rnnkit sentiment train")  # for usage errors (exit status 2)
        if not args.data:
            usage.error("the following arguments are required: --data (or --resume DIR)")
        config = config_from_args(usage, args, SentimentConfig)
    report = train(config, resume=args.resume is not None, overwrite=args.overwrite)
    print(headline({"test_accuracy": report["test_accuracy"], "baseline_accuracy": report["baseline_accuracy"]}))
    return 0


def _predict(args) -> int:
    from rnnkit.tasks.sentiment import LABEL_NAMES, predict

    for text, (label, probability) in zip(args.texts, predict(args.model_path, args.texts)):
        print(f"label={label} ({LABEL_NAMES[label]}) probability={probability:.4f}  {text}")
    return 0
