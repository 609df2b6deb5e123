"""Sentiment application: accuracy of the recurrent model and the TF-IDF baseline on the UCI sentences, beside the
same recurrent model written plainly in PyTorch and trained on the same folds and batches with the same recipe.

Measures (issue 12), single-threaded (OMP/OpenBLAS/MKL = 1, ``torch.set_num_threads(1)``), rnnkit and PyTorch
run fold by fold, one after the other, so both see the same machine load:

- 5-fold stratified cross-validation on the pooled 3,000 sentences: test accuracy (mean, spread) of rnnkit's
  recurrent model, of the TF-IDF + logistic-regression baseline (also rnnkit), and of the PyTorch twin;
- train on two sources, test on the third, for each source;
- training seconds of rnnkit and of the PyTorch twin (same epochs are not guaranteed: each stops early on its
  own validation loss).

The twin gets the rnnkit run's vocabulary, token ids, validation part and, epoch by epoch, the same batch order
(recorded from rnnkit's ``fit``); Keras' initialisers (uniform embeddings, Glorot kernels, orthogonal recurrent
kernels, forget-gate bias 1), word dropout, SpatialDropout1D, masked max-over-time pooling (padded steps are
packed away), Dropout, Adam and the same early stopping (patience on the validation loss, best weights restored).

    python -m benchmarks.app_sentiment [--folds 5] [--no-torch] [--json runs/app_sentiment.json] [--limit N]
"""
from __future__ import annotations

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    __import__("os").environ[_name] = "1"  # before NumPy loads its BLAS

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SOURCES = ("amazon_cells", "imdb", "yelp")
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "sentiment")


def batch_order_recorder():
    """A callback that records each epoch's sample order of every ``fit`` it is given to (one list per fit)."""
    from rnnkit.callbacks.base import Callback

    class BatchOrders(Callback):
        def __init__(self):
            super().__init__()
            self.fits = []

        def on_train_begin(self, logs=None):
            self.fits.append([])

        def on_epoch_begin(self, epoch, logs=None):
            self.fits[-1].append(np.array(self.model._fit_progress.order))  # (n,) this epoch's permutation

    return BatchOrders()


# ------------------------------------------------------------------------------------------ PyTorch twin
def torch_twin(vocabulary_size: int, config):
    import torch
    from torch import nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            units = config.units
            self.embedding = nn.Embedding(vocabulary_size, config.embedding_dim)
            cell = {"lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
            self.rnn = cell(config.embedding_dim, units, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * units, 1)
            with torch.no_grad():  # Keras' initialisers, as rnnkit uses them
                nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
                for name, weight in self.rnn.named_parameters():  # Keras' layouts transposed: same fans
                    if name.startswith("weight_ih"):
                        nn.init.xavier_uniform_(weight)  # glorot_uniform over (D, gates * H)
                    elif name.startswith("weight_hh"):
                        nn.init.orthogonal_(weight)  # orthogonal over (H, gates * H)
                    else:
                        weight.zero_()
                        if config.cell == "lstm" and name.startswith("bias_ih"):
                            weight[units:2 * units] = 1.0  # unit forget bias (PyTorch gate order i, f, g, o)
                nn.init.xavier_uniform_(self.head.weight)
                self.head.bias.zero_()

        def forward(self, ids):  # ids (B, T) int64, 0 = padding
            mask = ids != 0  # (B, T)
            x = self.embedding(ids)  # (B, T, E)
            if self.training and config.word_dropout:
                x = x * (torch.rand(x.shape[0], x.shape[1], 1) >= config.word_dropout) / (1 - config.word_dropout)
            if self.training and config.spatial_dropout:
                x = x * (torch.rand(x.shape[0], 1, x.shape[2]) >= config.spatial_dropout) / (1 - config.spatial_dropout)
            lengths = mask.sum(1).clamp(min=1)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # (B, T, 2H)
            pooled = out.masked_fill(~mask[..., None], float("-inf")).amax(1)  # (B, 2H) over real steps
            pooled = torch.where(mask.any(1, keepdim=True), pooled, torch.zeros_like(pooled))  # empty rows: 0
            pooled = nn.functional.dropout(pooled, config.dropout, self.training)
            return self.head(pooled)[:, 0]  # logits (B,)

    return Twin()


def train_torch(x, y, orders, config, vocabulary_size: int, seed: int) -> tuple:
    """Train the twin on ``x["fit"]`` with the recorded epoch ``orders``; early stopping on ``x["val"]``.
    Returns ``(test probabilities, epochs, seconds)``."""
    import torch

    torch.manual_seed(seed)
    model = torch_twin(vocabulary_size, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    fit_x, fit_y = torch.from_numpy(x["fit"]), torch.from_numpy(y["fit"]).float()
    val_x, val_y = torch.from_numpy(x["val"]), torch.from_numpy(y["val"]).float()
    rng = np.random.default_rng(seed)
    best, best_state, wait, epochs = None, None, 0, 0
    started = time.perf_counter()
    for epoch in range(config.epochs):
        order = orders[epoch] if epoch < len(orders) else rng.permutation(len(fit_x))
        model.train()
        for start in range(0, len(order), config.batch_size):
            index = torch.from_numpy(order[start:start + config.batch_size])
            loss = loss_fn(model(fit_x[index]), fit_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epochs += 1
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(val_x), val_y))
        if best is None or val_loss < best:
            best, wait = val_loss, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            wait += 1
            if wait >= config.patience:
                break
    model.load_state_dict(best_state)
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        probabilities = torch.sigmoid(model(torch.from_numpy(x["test"]))).numpy()
    return probabilities, epochs, seconds


# ---------------------------------------------------------------------------------------------- one split
def run_split(texts, labels, split, config, folder: str, use_torch: bool) -> dict:
    from rnnkit.tasks import sentiment

    recorder = batch_order_recorder()
    result, _, vocabulary = sentiment.train_split(texts, labels, split, config, folder, callbacks=[recorder],
                                                  log=None)
    row = {"split": split.name, "test": result["test"], "rnnkit": result["test_accuracy"],
           "baseline": result["baseline_accuracy"], "rnnkit_seconds": result["train_seconds"],
           "rnnkit_epochs": result["epochs_trained"], "vocabulary": len(vocabulary)}
    if use_torch:
        # the same parts, ids and batch orders as rnnkit's run (train_split makes them this way)
        vectorizer = sentiment.sequence_vectorizer(vocabulary, config.max_length)
        test_ids = sentiment.vectorize(vectorizer, [texts[i] for i in split.test])
        probabilities, epochs, seconds = [], [], 0.0
        parts = sentiment.member_parts(split, labels, config)
        for member, ((fit_idx, val_idx), orders) in enumerate(zip(parts, recorder.fits)):
            x = {"fit": sentiment.vectorize(vectorizer, [texts[i] for i in fit_idx]),
                 "val": sentiment.vectorize(vectorizer, [texts[i] for i in val_idx]), "test": test_ids}
            y = {"fit": labels[fit_idx], "val": labels[val_idx]}
            p, e, s = train_torch(x, y, orders, config, len(vocabulary), seed=split.seed * 1000 + member)
            probabilities.append(p)
            epochs.append(e)
            seconds += s
        row.update(torch=float(np.mean((np.mean(probabilities, 0) > 0.5) == labels[split.test].astype(bool))),
                   torch_seconds=seconds, torch_epochs=epochs)
    return row


def mean_std(rows, key) -> tuple:
    values = np.array([r[key] for r in rows], dtype=float)
    return float(values.mean()), float(values.std())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_sentiment", description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true", help="rnnkit and the baseline only")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N sentences of each source (quick checks)")
    parser.add_argument("--skip-cross-source", action="store_true")
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--json", default="runs/app_sentiment.json", metavar="FILE")
    parser.add_argument("--data", default=DATA, metavar="DIR", help="folder of the three *_labelled.txt files")
    args, rest = parser.parse_known_args(argv)

    import tempfile

    from rnnkit.cli.config_flags import add_config_arguments
    from rnnkit.tasks.sentiment import SentimentConfig, Split, plan_splits
    from rnnkit.tasks.sentiment_data import read_labelled

    use_torch = not args.no_torch
    if use_torch:
        import torch

        torch.set_num_threads(1)
    flags = argparse.ArgumentParser(prog="recipe")  # the task's own flags set the recipe (defaults: the task's)
    add_config_arguments(flags, SentimentConfig, skip=("data", "out", "test_data", "cv", "verbose"))
    paths = [os.path.join(args.data, f"{source}_labelled.txt") for source in SOURCES]
    config = SentimentConfig(data=paths, **vars(flags.parse_args(rest)))
    config.validate()
    texts, labels, sources = [], [], []
    for index, path in enumerate(paths):
        t, y = read_labelled(path)
        t, y = (t[:args.limit], y[:args.limit]) if args.limit else (t, y)
        texts += t
        labels += y
        sources += [index] * len(t)
    labels, sources = np.array(labels), np.array(sources)
    work = tempfile.mkdtemp(prefix="app_sentiment_")
    report = {"config": dataclasses.asdict(config), "threads": 1, "sentences": len(labels), "cv": [],
              "cross_source": []}
    started = time.perf_counter()
    print(f"{len(labels)} sentences from {', '.join(SOURCES)}; {args.folds}-fold stratified CV, single thread")
    config.cv = args.folds
    splits, _ = plan_splits(labels, config)
    for split in [] if args.skip_cv else splits:
        row = run_split(texts, labels, split, config, os.path.join(work, split.name), use_torch)
        report["cv"].append(row)
        print(line(row), flush=True)
    config.cv = 0
    if not args.skip_cross_source:
        for index, source in enumerate(SOURCES):
            split = Split(f"test_on_{source}", np.flatnonzero(sources != index), np.flatnonzero(sources == index),
                          config.seed)
            row = run_split(texts, labels, split, config, os.path.join(work, split.name), use_torch)
            report["cross_source"].append(row)
            print(line(row), flush=True)
    for part in ("cv", "cross_source"):
        rows = report[part]
        if not rows:
            continue
        keys = ["rnnkit", "baseline"] + (["torch"] if use_torch else [])
        report[f"{part}_summary"] = {key: dict(zip(("mean", "std"), mean_std(rows, key))) for key in keys}
        report[f"{part}_summary"]["rnnkit_seconds"] = float(sum(r["rnnkit_seconds"] for r in rows))
        if use_torch:
            report[f"{part}_summary"]["torch_seconds"] = float(sum(r["torch_seconds"] for r in rows))
    report["total_seconds"] = time.perf_counter() - started
    print_tables(report, use_torch)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.json}")
    return 0


def line(row) -> str:
    text = (f"{row['split']}: rnnkit {row['rnnkit']:.4f}  baseline {row['baseline']:.4f}  "
            f"({row['rnnkit_seconds']:.1f} s, epochs {row['rnnkit_epochs']})")
    if "torch" in row:
        text += f"  torch {row['torch']:.4f} ({row['torch_seconds']:.1f} s, epochs {row['torch_epochs']})"
    return text


def print_tables(report, use_torch: bool) -> None:
    header = "| split | test | rnnkit Bi-RNN | TF-IDF baseline |" + (" PyTorch twin |" if use_torch else "")
    header += " rnnkit s |" + (" PyTorch s |" if use_torch else "")
    rule = "|" + "---|" * (header.count("|") - 1)
    for part in ("cv", "cross_source"):
        rows = report[part]
        if not rows:
            continue
        print(f"\n{part}:\n{header}\n{rule}")
        for r in rows:
            cells = [r["split"], str(r["test"]), f"{r['rnnkit']:.4f}", f"{r['baseline']:.4f}"]
            if use_torch:
                cells.append(f"{r['torch']:.4f}")
            cells.append(f"{r['rnnkit_seconds']:.1f}")
            if use_torch:
                cells.append(f"{r['torch_seconds']:.1f}")
            print("| " + " | ".join(cells) + " |")
        summary = report[f"{part}_summary"]
        cells = ["mean ± sd", "", *(f"{summary[k]['mean']:.4f} ± {summary[k]['std']:.4f}"
                                    for k in ["rnnkit", "baseline"] + (["torch"] if use_torch else []))]
        cells.append(f"{summary['rnnkit_seconds']:.1f}")
        if use_torch:
            cells.append(f"{summary['torch_seconds']:.1f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
