"""``rnnkit ocr``: train a CRNN that reads rendered text lines (``train``) and read line images with it (``read``).

>>> parser = build_parser()
>>> args = parser.parse_args(["train", "--out", "run", "--steps", "50", "--epochs", "3", "--alphabet", "0123"])
>>> args.out, args.steps, args.epochs, args.alphabet, args.fonts
('run', 50, 3, '0123', None)
>>> parser.parse_args(["read", "run/model.rnnkit", "line.png"]).images
['line.png']
"""
from __future__ import annotations

import argparse

from rnnkit.cli.config_flags import (add_config_arguments, add_run_arguments, nonnegative_int,
                                     run_config)

HELP = "read text lines in images (a CRNN: Conv2D blocks, a BiLSTM and CTC, trained on rendered lines)"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.tasks.ocr import OCRConfig

    parser = argparse.ArgumentParser(prog="rnnkit ocr", description=HELP, allow_abbrev=False)
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = commands.add_parser(
        "train", help="train on lines rendered on the fly and report the test character error rate",
        allow_abbrev=False,
        epilog="Every epoch renders --steps x --batch-size fresh lines (random strings of --alphabet in the fonts "
               "of --fonts DIR, or Debian's DejaVu/Liberation/FreeFont when installed, or Pillow's built-in "
               "font), with random size, offset, noise, blur and rotation. Held-out lines come from another "
               "seed. Writes DIR/model.rnnkit, DIR/report.json, DIR/curves.png and DIR/examples.png; the last "
               "line is 'test_cer=... test_line_accuracy=...'.")
    add_config_arguments(train, OCRConfig)
    add_run_arguments(train)
    read = commands.add_parser("read", help="print the text of each line image (PNG, JPEG...; any height)",
                               allow_abbrev=False)
    read.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit ocr train'")
    read.add_argument("images", nargs="+", metavar="IMAGE", help="pictures of one text line each")
    read.add_argument("--beam-width", type=nonnegative_int, default=0, metavar="N",
                      help="decode with a prefix beam search of N beams (default 0: greedy)")
    return parser


def run(args, argv) -> int:
    if args.action == "read":
        return _read(args)
    return _train(args, argv)


def _train(args, argv) -> int:
    from rnnkit.tasks.ocr import OCRConfig, train
    from rnnkit.tasks.report import headline

    config, resume = run_config(build_parser(), args, argv, "ocr", OCRConfig)
    report = train(config, resume=resume, overwrite=args.overwrite)
    print(headline({"test_cer": report["test_cer"], "test_line_accuracy": report["test_line_accuracy"]}))
    return 0


def _read(args) -> int:
    from rnnkit.errors import ConfigError
    from rnnkit.tasks.ocr import read

    if args.beam_width < 0:
        raise ConfigError(f"--beam-width must be >= 0; got {args.beam_width}")
    strategy = "beam_search" if args.beam_width else "greedy"
    texts = read(args.model_path, args.images, strategy=strategy, beam_width=args.beam_width or 1)
    for path, text in zip(args.images, texts):
        print(text if len(args.images) == 1 else f"{path}\t{text}")
    return 0
