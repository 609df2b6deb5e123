"""``rnnkit charlm``: train a character language model on a text file, sample from it, evaluate it.

::

    rnnkit charlm train --text FILE --out DIR [--units 256 --layers 1 --cell lstm --seq-len 100 ...]
    rnnkit charlm sample DIR/model.rnnkit --prime "ROMEO:" --length 500 --temperature 0.8 --seed 1
    rnnkit charlm evaluate DIR/model.rnnkit --text FILE

``train`` prints one line per epoch and ends with ``val_loss=<nats/char> val_bpc=<bits/char>``; ``evaluate``
ends with ``loss=<nats/char> bpc=<bits/char>`` over the whole file read in order.

>>> args = build_parser().parse_args(["sample", "m.rnnkit", "--prime", "ROMEO:", "--temperature", "0.5"])
>>> args.command, args.prime, args.length, args.temperature
('sample', 'ROMEO:', 500, 0.5)
"""
from __future__ import annotations

import argparse

from rnnkit.cli.config_flags import (add_config_arguments, add_run_arguments, nonnegative_float, nonnegative_int,
                                     positive_int, run_config)

HELP = "character language model: train on a text file, sample, evaluate"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.tasks.charlm import CharLMConfig

    parser = argparse.ArgumentParser(prog="rnnkit charlm", description=HELP, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train", help="train on --text FILE (its last --val-fraction is the validation text)", allow_abbrev=False,
        epilog="A checkpoint is kept in DIR after every epoch; Ctrl-C saves one and stops (status 130); "
               "--resume DIR continues the run.")
    add_config_arguments(train, CharLMConfig)
    add_run_arguments(train)

    sample = commands.add_parser("sample", help="generate text from a trained model", allow_abbrev=False)
    sample.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit charlm train'")
    sample.add_argument("--prime", default="\n", help="the text to start from (default: a new line)")
    sample.add_argument("--length", type=positive_int, default=500, help="characters to generate (default: 500)")
    sample.add_argument("--temperature", type=nonnegative_float, default=1.0,
                        help="below 1: safer, above 1: wilder; 0: always the most likely (default: 1.0)")
    sample.add_argument("--top-k", type=positive_int, default=None,
                        help="draw only among the k most likely characters (default: all)")
    sample.add_argument("--seed", type=nonnegative_int, default=None,
                        help="the same seed gives the same text (default: a fresh random seed)")

    evaluate = commands.add_parser("evaluate", help="loss over a whole text file, read in order",
                                   allow_abbrev=False)
    evaluate.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit charlm train'")
    evaluate.add_argument("--text", required=True, metavar="FILE", help="the UTF-8 text to evaluate on")
    return parser


def _train_parser(parser):
    return parser._subparsers._group_actions[0].choices["train"]


def run(args, argv) -> int:
    from rnnkit.tasks import charlm

    if args.command == "train":
        argv = list(argv)[1:] if argv and argv[0] == "train" else list(argv)
        config, resume = run_config(_train_parser(build_parser()), args, argv, charlm.TASK, charlm.CharLMConfig)
        charlm.train(config, resume=resume, overwrite=args.overwrite)
        return 0
    if args.command == "sample":
        text = charlm.sample(args.model_path, args.prime, args.length, temperature=args.temperature,
                             top_k=args.top_k, seed=args.seed)
        print(args.prime + text)
        return 0
    result = charlm.evaluate(args.model_path, args.text)
    unknown = result["unknown"]
    print(f"read {result['characters']:,} characters from {args.text}; {result['predicted']:,} predicted; "
          f"{unknown:,} outside the model's vocabulary, counted as [UNK]")
    print(f"loss={result['loss']:.4f} bpc={result['bpc']:.4f}")
    return 0
