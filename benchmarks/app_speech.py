"""Speech on FSDD: spoken-digit accuracy on the standard split and with each speaker held out (rnnkit beside the
MFCC-statistics baseline and the same model written plainly in PyTorch, on the same features and the same
augmented data every epoch), and the word / character error rates of continuous digit strings (BiGRU + CTC).

One thread for everything (OMP/OPENBLAS/MKL = 1, ``torch.set_num_threads(1)``); rnnkit and PyTorch train epoch by
epoch in turn, so both see the same machine load. Features are computed once per run and kept in memory.

    python -m benchmarks.app_speech [--epochs 12] [--speakers all|none|NAME,...] [--twin-speakers ...]
                                    [--sequences theo] [--seq-epochs 12] [--json runs/app_speech.json]

The model is the task's default (20 MFCCs, per-utterance normalisation, fresh augmentation every epoch,
BiGRU 64, dropout 0.3, Adam 2e-3 with clipnorm 1, batch 32): nothing is tuned on held-out speakers.
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def torch_twin(feature_size: int, config):
    """The classifier written plainly in PyTorch: packed sequences through a bidirectional GRU/LSTM, the two
    final states joined, dropout, a linear layer."""
    import torch
    from torch import nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            cell = nn.GRU if config.cell == "gru" else nn.LSTM
            self.rnn = cell(feature_size, config.units, batch_first=True, bidirectional=True)
            self.drop = nn.Dropout(config.dropout)
            self.out = nn.Linear(2 * config.units, 10)

        def forward(self, x, lengths):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, state = self.rnn(packed)
            h = state[0] if isinstance(state, tuple) else state  # (2, B, units)
            return self.out(self.drop(torch.cat([h[0], h[1]], dim=1)))

    torch.manual_seed(config.seed)
    return Twin()


def torch_epoch(model, optimizer, x, y, batch_size, rng, clipnorm):
    import torch

    model.train()
    lengths = np.any(x != 0, axis=-1).sum(axis=1)
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start:start + batch_size]
        steps = int(lengths[index].max())
        xb = torch.from_numpy(x[index, :steps])  # (B, T', F): the batch's own length
        loss = torch.nn.functional.cross_entropy(model(xb, torch.from_numpy(lengths[index])),
                                                 torch.from_numpy(y[index]))
        optimizer.zero_grad()
        loss.backward()
        for p in model.parameters():  # Keras' clipnorm: each gradient clipped to its own norm
            torch.nn.utils.clip_grad_norm_([p], clipnorm)
        optimizer.step()


def torch_predict(model, x):
    import torch

    model.eval()
    lengths = np.any(x != 0, axis=-1).sum(axis=1)
    with torch.no_grad():
        return model(torch.from_numpy(x), torch.from_numpy(lengths)).argmax(dim=1).numpy()


def run_split(name, held_out, bank, recordings, config, epochs, twin: bool) -> dict:
    import torch

    from rnnkit.audio import pad_sequences
    from rnnkit.optimizers import Adam
    from rnnkit.tasks.speech_data import split_recordings
    from rnnkit.tasks.speech_digits import (build_classifier, fill_augmented, logistic_regression,
                                            mfcc_statistics)

    train, test = split_recordings(recordings, held_out)
    paths = [r.path for r in train]
    x_train, _ = pad_sequences([bank.clean(p) for p in paths])  # (N, T, F)
    x_test, _ = pad_sequences([bank.clean(r.path) for r in test])
    y_train = np.array([r.digit for r in train])
    y_test = np.array([r.digit for r in test])

    started = time.perf_counter()
    baseline = logistic_regression(mfcc_statistics(bank, paths), y_train,
                                   mfcc_statistics(bank, [r.path for r in test]), seed=config.seed)
    baseline_seconds = time.perf_counter() - started

    model = build_classifier(config, bank.config.size)
    model.compile(optimizer=Adam(config.lr, clipnorm=config.clipnorm), loss="sparse_categorical_crossentropy")
    twin_model = torch_twin(bank.config.size, config) if twin else None
    twin_optimizer = torch.optim.Adam(twin_model.parameters(), lr=config.lr) if twin else None
    twin_rng = np.random.default_rng(config.seed)
    seconds = {"rnnkit": 0.0, "torch": 0.0, "augment": 0.0}
    for epoch in range(epochs):
        started = time.perf_counter()
        fill_augmented(x_train, paths, bank, config.seed, epoch)  # the same data for both frameworks
        seconds["augment"] += time.perf_counter() - started
        started = time.perf_counter()
        model.fit(x_train, y_train, batch_size=config.batch_size, epochs=1, verbose=0)
        seconds["rnnkit"] += time.perf_counter() - started
        if twin:
            started = time.perf_counter()
            torch_epoch(twin_model, twin_optimizer, x_train, y_train, config.batch_size, twin_rng, config.clipnorm)
            seconds["torch"] += time.perf_counter() - started
    predicted = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=1)
    row = {"split": name, "train": len(train), "test": len(test),
           "baseline_accuracy": float(np.mean(baseline == y_test)),
           "rnnkit_accuracy": float(np.mean(predicted == y_test)),
           "torch_accuracy": float(np.mean(torch_predict(twin_model, x_test) == y_test)) if twin else None,
           "rnnkit_seconds": seconds["rnnkit"], "torch_seconds": seconds["torch"] if twin else None,
           "augment_seconds": seconds["augment"], "baseline_seconds": baseline_seconds, "epochs": epochs}
    print(json.dumps(row), flush=True)
    return row


def run_sequences(held_out: str, epochs: int, strings: int, data: str, out: str, test_strings: int = 300,
                  limit: int = 0) -> dict:
    from rnnkit.tasks.speech import SpeechConfig, train

    config = SpeechConfig(data=data, out=out, task="sequences", test_speakers=held_out, epochs=epochs,
                          train_strings=strings, test_strings=test_strings, limit=limit, verbose=0)
    report = train(config, overwrite=True)
    keep = ("split", "test_strings", "test_wer", "test_cer", "beam_wer", "beam_cer", "train_seconds",
            "decode_seconds", "test_recordings_in_training_strings")
    row = {key: report[key] for key in keep}
    row.update(epochs=epochs, train_strings=strings,
               greedy_string_accuracy=report["decoding"]["greedy"]["string_accuracy"],
               beam_string_accuracy=report["decoding"]["beam"]["string_accuracy"])
    print(json.dumps(row), flush=True)
    return row


def table(rows) -> str:
    def cell(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| test set | train / test | baseline | rnnkit | PyTorch twin | rnnkit train s | PyTorch train s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['train']} / {r['test']} | {cell(r['baseline_accuracy'])} | "
                     f"{cell(r['rnnkit_accuracy'])} | {cell(r['torch_accuracy'])} | {cell(r['rnnkit_seconds'], 0)} | "
                     f"{cell(r['torch_seconds'], 0)} |")
    held = [r for r in rows if r["split"] != "standard split"]
    if held:
        twins = [r["torch_accuracy"] for r in held if r["torch_accuracy"] is not None]
        lines.append(f"| mean of {len(held)} held-out speakers | | "
                     f"{np.mean([r['baseline_accuracy'] for r in held]):.3f} | "
                     f"{np.mean([r['rnnkit_accuracy'] for r in held]):.3f} | "
                     f"{(f'{np.mean(twins):.3f} ({len(twins)} speakers)') if twins else '-'} | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_speech", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                       "fsdd"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--standard", action=argparse.BooleanOptionalAction, default=True,
                        help="run the standard split")
    parser.add_argument("--speakers", default="all", help="held-out speakers to run: all, none, or NAME,NAME")
    parser.add_argument("--twin-speakers", default="all",
                        help="splits that also train the PyTorch twin: all, none, or names ('standard' included)")
    parser.add_argument("--sequences", default="theo", help="held-out speaker(s) of the sequence run, or none")
    parser.add_argument("--seq-epochs", type=int, default=12)
    parser.add_argument("--seq-strings", type=int, default=1000)
    parser.add_argument("--seq-test-strings", type=int, default=300)
    parser.add_argument("--limit", type=int, default=0, help="index < N only (a quick check)")
    parser.add_argument("--json", default="runs/app_speech.json")
    args = parser.parse_args(argv)

    import torch

    from rnnkit.tasks.speech import SpeechConfig
    from rnnkit.tasks.speech_data import FeatureBank, list_recordings

    torch.set_num_threads(1)
    config = SpeechConfig(data=args.data)
    recordings = list_recordings(args.data, args.limit or None)
    started = time.perf_counter()
    bank = FeatureBank(config.feature_config(), config.normalize)
    cache = {r.path: bank.clean(r.path) for r in recordings}  # every file read and featurised once
    bank.clean = cache.__getitem__
    features_seconds = time.perf_counter() - started
    speakers = {"all": SPEAKERS, "none": []}.get(args.speakers, args.speakers.split(","))
    twins = {"all": ["standard", *SPEAKERS], "none": []}.get(args.twin_speakers, args.twin_speakers.split(","))
    rows = []
    if args.standard:
        rows.append(run_split("standard split", [], bank, recordings, config, args.epochs, "standard" in twins))
    for speaker in speakers:
        rows.append(run_split(f"{speaker} held out", [speaker], bank, recordings, config, args.epochs,
                              speaker in twins))
    sequences = None
    if args.sequences != "none":
        sequences = run_sequences(args.sequences, args.seq_epochs, args.seq_strings, args.data,
                                  os.path.join(os.path.dirname(args.json) or ".", "app_speech_sequences"),
                                  args.seq_test_strings, args.limit)
    result = {"threads": 1, "features_seconds": features_seconds, "digits": rows, "sequences": sequences,
              "torch": torch.__version__}
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(table(rows))
    if sequences:
        print(f"sequences ({sequences['split']}, {sequences['test_strings']} strings): greedy WER "
              f"{sequences['test_wer']:.3f} CER {sequences['test_cer']:.3f}, beam WER {sequences['beam_wer']:.3f} "
              f"CER {sequences['beam_cer']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
