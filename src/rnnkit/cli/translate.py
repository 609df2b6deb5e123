"""``rnnkit translate``: train a translation model, or translate a sentence with one.

    rnnkit translate train --data eng-fra.tsv --out DIR [--epochs 20 --attention bahdanau ...]
    rnnkit translate DIR/model.rnnkit "i am cold ." [--beam 5] [--attention-plot FILE.png]

Training prints the loss per epoch and ends with ``test_bleu=<float> baseline_bleu=<float>`` (corpus BLEU with
beam search on the held-out pairs, with attention and without). Words the model does not know are read as the
unknown token, and the command says which.

>>> args = build_parser().parse_args(["train", "--data", "pairs.tsv", "--cell", "lstm"])
>>> args.command, args.cell, args.attention, args.test_size
('train', 'lstm', 'bahdanau', 500)
>>> args = build_parser().parse_args(["run/model.rnnkit", "i am cold .", "--beam", "3"])
>>> args.command, args.model_path, args.sentence, args.beam
('translate', 'run/model.rnnkit', 'i am cold .', 3)
"""
from __future__ import annotations

import argparse
import sys

from rnnkit.cli.config_flags import (add_config_arguments, add_run_arguments, nonnegative_float, positive_int, run_config)
from rnnkit.errors import ConfigError

HELP = "translate sentences: train an attention encoder-decoder on sentence pairs, or use one"


class TranslateParser(argparse.ArgumentParser):
    """``rnnkit translate MODEL SENTENCE`` and, when the first word is ``train``, ``rnnkit translate train``."""

    train_parser: argparse.ArgumentParser

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        if args and args[0] == "train":
            parsed = self.train_parser.parse_args(args[1:], namespace)
            parsed.command = "train"
            return parsed
        parsed = super().parse_args(args, namespace)
        parsed.command = "translate"
        return parsed


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.tasks.translate import TranslateConfig

    parser = TranslateParser(
        prog="rnnkit translate", allow_abbrev=False, description=HELP,
        epilog="To train a model: rnnkit translate train --data FILE.tsv --out DIR (see rnnkit translate train -h)")
    parser.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit translate train'")
    parser.add_argument("sentence", metavar="SENTENCE", help="the sentence to translate (quote it)")
    parser.add_argument("--beam", type=positive_int, default=5, help="beam width (1: greedy; default: 5)")
    parser.add_argument("--alpha", type=nonnegative_float, default=0.0,
                        help="length normalisation of beam search: score / length^alpha (default: 0)")
    parser.add_argument("--attention-plot", metavar="FILE.png", default=None,
                        help="draw the attention weights of the translation as a heat map into FILE.png "
                             "(default: no plot)")
    train = argparse.ArgumentParser(
        prog="rnnkit translate train", allow_abbrev=False,
        description="Train an attention encoder-decoder and the same model without attention (the baseline); "
                    "report corpus BLEU on held-out pairs.",
        epilog="Writes DIR/model.rnnkit, DIR/baseline/model.rnnkit, DIR/report.json, DIR/curves.png and "
               "DIR/attention-*.png. A checkpoint is kept after every epoch; Ctrl-C saves one and stops; "
               "--resume DIR continues.")
    add_config_arguments(train, TranslateConfig)
    add_run_arguments(train)
    parser.train_parser = train
    return parser


def run(args, argv) -> int:
    if args.command == "train":
        return _train(args, argv)
    return _translate(args)


def _train(args, argv) -> int:
    from rnnkit.tasks.report import headline
    from rnnkit.tasks.translate import TASK, TranslateConfig, train

    parser = build_parser().train_parser
    config, resume = run_config(parser, args, list(argv)[1:], TASK, TranslateConfig)
    report = train(config, resume=resume, overwrite=args.overwrite)
    data = report["data"]
    if data["skipped_long"] or data["skipped_blank"]:
        print(f"note: skipped {data['skipped_long']} pairs longer than --max-length {config.max_length} tokens "
              f"and {data['skipped_blank']} blank lines or empty sides")
    print(headline({"test_bleu": report["test_bleu"], "baseline_bleu": report["baseline_bleu"]}, digits=2))
    return 0


def _translate(args) -> int:
    from rnnkit.tasks.report import plot_heatmap
    from rnnkit.tasks.translate import translate

    if args.beam < 1:
        raise ConfigError(f"--beam must be a positive integer; got {args.beam}")
    if args.alpha < 0:
        raise ConfigError(f"--alpha must be >= 0; got {args.alpha}")
    (result,) = translate(args.model_path, [args.sentence], beam=args.beam, alpha=args.alpha)
    if result["unknown"]:
        words = ", ".join(repr(w) for w in result["unknown"])
        print(f"note: not in the model's vocabulary, read as <unk>: {words}", file=sys.stderr)
    print(result["text"])
    if not result["tokens"]:
        print("note: the model's translation is empty (it said the end token first)", file=sys.stderr)
    if args.attention_plot:
        if result["attention"] is None:
            raise ConfigError(f"{args.model_path} has no attention (trained with --attention none): nothing to plot")
        drawn = plot_heatmap(result["attention"], args.attention_plot, " ".join(result["source"]),
                             row_labels=result["tokens"] + ["<end>"], column_labels=result["source"],
                             xlabel="source words", ylabel="output words")
        if not drawn:
            raise ConfigError("--attention-plot needs matplotlib (pip install 'rnnkit[plot]')")
        print(f"attention weights drawn in {args.attention_plot}", file=sys.stderr)
    return 0
