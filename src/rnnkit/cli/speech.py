"""``rnnkit speech``: train a spoken-digit recogniser (``train``) and use it (``transcribe``).

>>> parser = build_parser()
>>> args = parser.parse_args(["train", "--data", "fsdd", "--test-speakers", "theo", "--cell", "lstm"])
>>> args.data, args.test_speakers, args.cell, args.task
('fsdd', 'theo', 'lstm', 'digits')
>>> parser.parse_args(["transcribe", "run/model.rnnkit", "a.wav"]).wav_path
'a.wav'
"""
from __future__ import annotations

import argparse

from rnnkit.cli.config_flags import add_config_arguments, add_run_arguments, config_from_args, given_flags

HELP = "recognise spoken digits and digit strings (BiGRU/BiLSTM, CTC) on the Free Spoken Digit Dataset"


def build_parser() -> argparse.ArgumentParser:
    from rnnkit.tasks.speech import SpeechConfig

    parser = argparse.ArgumentParser(prog="rnnkit speech", description=HELP, allow_abbrev=False)
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = commands.add_parser(
        "train", help="train on FSDD recordings and report test accuracy (or WER/CER) beside the baseline",
        allow_abbrev=False,
        epilog="Test set: the standard split (index 0-4 of each speaker and digit), or whole speakers with "
               "--test-speakers. Writes DIR/model.rnnkit, DIR/report.json and plots; the last line is "
               "'test_accuracy=... baseline_accuracy=...' (--task digits) or 'test_wer=... test_cer=...' "
               "(--task sequences).")
    add_config_arguments(train, SpeechConfig)
    add_run_arguments(train)
    transcribe = commands.add_parser("transcribe", help="print the digit (and its probability) or the digit "
                                     "string heard in a WAV file", allow_abbrev=False)
    transcribe.add_argument("model_path", metavar="MODEL", help="a model.rnnkit written by 'rnnkit speech train'")
    transcribe.add_argument("wav_path", metavar="FILE.wav", help="a WAV file at the model's sample rate")
    return parser


def run(args, argv) -> int:
    if args.action == "transcribe":
        return _transcribe(args)
    return _train(args, argv)


def _train(args, argv) -> int:
    from rnnkit.tasks.report import headline
    from rnnkit.tasks.speech import SpeechConfig, resume_run_config, train

    if args.resume is not None:
        given = {name: getattr(args, name) for name in given_flags(argv, SpeechConfig)}
        config = resume_run_config(args.resume, given)
    else:
        usage = argparse.ArgumentParser(prog="rnnkit speech train")  # usage errors: exit status 2
        if not args.data:
            usage.error("the following arguments are required: --data DIR (or --resume DIR)")
        config = config_from_args(usage, args, SpeechConfig)
    report = train(config, resume=args.resume is not None, overwrite=args.overwrite)
    if config.task == "sequences":
        print(headline({"test_wer": report["test_wer"], "test_cer": report["test_cer"],
                        "beam_wer": report["beam_wer"], "beam_cer": report["beam_cer"]}))
    else:
        print(headline({"test_accuracy": report["test_accuracy"], "baseline_accuracy": report["baseline_accuracy"]}))
    return 0


def _transcribe(args) -> int:
    from rnnkit.tasks.speech import transcribe

    result = transcribe(args.model_path, args.wav_path)
    if "digits" in result:
        print(f"digits={result['digits'] or '(none)'} log_probability={result['score']:.4f}")
    else:
        print(f"digit={result['digit']} probability={result['probability']:.4f}")
    return 0
