"""Sentiment of short texts: a bidirectional LSTM/GRU over word ids beside a TF-IDF logistic-regression baseline.

``rnnkit sentiment train --data FILE [FILE ...] --out DIR`` reads ``sentence<TAB>label`` files (labels 0/1),
tests on ``--test-data FILE``, on ``--cv K`` stratified folds, or (neither given) on a stratified held-out
``--test-fraction``, and writes ``DIR/model.rnnkit`` (the network with its vocabulary in ``task.json``),
``DIR/report.json`` and ``DIR/curves.png``. Its last line is ``test_accuracy=... baseline_accuracy=...``.

The recurrent model: ``TextVectorization`` ids (words seen fewer than ``--min-count`` times in the training
split become ``[UNK]``) -> ``Embedding(mask_zero=True)`` -> word dropout (whole words zeroed,
``Dropout(noise_shape=(None, None, 1))``, off by default) -> ``SpatialDropout1D`` -> ``Bidirectional(LSTM|GRU,
return_sequences=True)`` -> masked ``GlobalMaxPooling1D`` -> ``Dropout`` -> ``Dense(1, sigmoid)``; an ensemble
of ``--ensemble`` such models, each stopped early on its own stratified validation part of the training split
(``--val-fraction``), their probabilities averaged. The baseline: ``TextVectorization(output_mode="tf_idf")``
rows scaled to unit length -> ``Dense(1, sigmoid)``, an L2-regularised logistic regression trained with ``fit``
on the whole training split. The vocabulary, idf weights and stopping epochs come from the training split
only; the test part is touched once, at the end.

With ``--cv K`` every fold trains the models and a baseline; the saved model is then trained on all the data
(again with validation parts for early stopping). Each training runs in ``DIR/runs/<name>/`` with its own
checkpoints, and a finished one leaves ``result.json`` there, so ``--resume DIR`` skips finished folds and
continues the unfinished one (its finished ensemble members are trained again, with the same seeds).

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "data.txt")
>>> lines = [f"a good fine phone {i}\\t1" for i in range(12)] + [f"a bad poor phone {i}\\t0" for i in range(12)]
>>> _ = open(path, "w").write("\\n".join(lines))
>>> config = SentimentConfig(data=[path], out=os.path.join(folder, "run"), cv=2, units=4, embedding_dim=4,
...                          epochs=2, baseline_epochs=2, min_count=1, ensemble=1)
>>> report = train(config, log=None)
>>> report["split"]["kind"], [fold["test"] for fold in report["folds"]]
('stratified_cv', [12, 12])
>>> label, probability = predict(os.path.join(folder, "run", "model.rnnkit"), ["a good phone"])[0]
>>> label in (0, 1) and 0.0 <= probability <= 1.0
True
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field

import numpy as np

from rnnkit.cli.config_flags import check_all, positive
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.sentiment_data import (
    LABEL_NAMES,
    check_classes,
    read_labelled,
    read_sources,
    stratified_folds,
    stratified_split,
)

TASK = "sentiment"
RUNS = "runs"  # DIR/runs/<name>/: one training each (fold_1 ... fold_K, final), with checkpoint and result
RUN_CONFIG = "run.json"  # DIR/runs/run.json: the config of the run, read back by --resume
RESULT = "result.json"
RESUME_OVERRIDES = ("epochs", "verbose")


@dataclass
class SentimentConfig:
    data: list[str] = field(default_factory=list, metadata={
        "help": "training files of 'sentence<TAB>label' lines, labels 0/1", "nargs": "+", "metavar": "FILE"})
    out: str = field(default="runs/sentiment", metadata={"help": "output folder", "metavar": "DIR"})
    test_data: str | None = field(default=None, metadata={
        "help": "an explicit test file (same format); otherwise --cv or --test-fraction", "metavar": "FILE"})
    cv: int = field(default=0, metadata={"help": "stratified K-fold cross-validation with K folds (0: off)",
                                         "metavar": "K"})
    test_fraction: float = field(default=0.2, metadata={
        "help": "without --test-data or --cv: stratified fraction of --data held out for the test"})
    val_fraction: float = field(default=0.1, metadata={
        "help": "stratified fraction of the training part held out for early stopping"})
    cell: str = field(default="lstm", metadata={"help": "recurrent cell", "choices": ("lstm", "gru")})
    units: int = field(default=32, metadata={"help": "units of each direction of the bidirectional layer"})
    embedding_dim: int = field(default=32, metadata={"help": "size of the word vectors"})
    epochs: int = field(default=30, metadata={"help": "most epochs (early stopping usually ends sooner)"})
    patience: int = field(default=8, metadata={"help": "epochs without a lower validation loss before stopping"})
    batch_size: int = field(default=32, metadata={"help": "sentences per step"})
    lr: float = field(default=2e-3, metadata={"help": "Adam learning rate of the recurrent model"})
    dropout: float = field(default=0.5, metadata={"help": "dropout before the classifier"})
    spatial_dropout: float = field(default=0.3, metadata={
        "help": "SpatialDropout1D rate on the word vectors (whole embedding channels)"})
    word_dropout: float = field(default=0.0, metadata={"help": "rate of whole words zeroed in training"})
    max_tokens: int = field(default=20000, metadata={"help": "largest vocabulary (special tokens included)"})
    min_count: int = field(default=2, metadata={
        "help": "words seen fewer times in the training part are out of vocabulary"})
    max_length: int = field(default=50, metadata={"help": "words kept per sentence (longer ones are cut)"})
    ensemble: int = field(default=5, metadata={
        "help": "recurrent models per split, with different seeds; their probabilities are averaged"})
    baseline_epochs: int = field(default=200, metadata={"help": "full-batch epochs of the baseline"})
    baseline_lr: float = field(default=2.0, metadata={"help": "learning rate of the baseline (SGD, momentum 0.9)"})
    baseline_c: float = field(default=1.0, metadata={
        "help": "inverse L2 strength of the baseline's logistic regression (scikit-learn's C)"})
    seed: int = field(default=0, metadata={"help": "seed of the splits, the weights and the dropout"})
    verbose: int = field(default=0, metadata={"help": "0 silent, 2 one line per epoch", "choices": (0, 1, 2)})

    def validate(self) -> None:
        check_all([
            (len(self.data) > 0, "--data needs at least one file"),
            (self.cv == 0 or self.cv >= 2, f"--cv must be 0 (off) or at least 2 folds; got {self.cv}"),
            (self.cv == 0 or self.test_data is None, "give either --cv or --test-data, not both"),
            (0.0 < self.test_fraction < 1.0, f"--test-fraction must be in (0, 1); got {self.test_fraction}"),
            (0.0 < self.val_fraction < 1.0, f"--val-fraction must be in (0, 1); got {self.val_fraction}"),
            *(positive(name, getattr(self, name)) for name in (
                "units", "embedding_dim", "epochs", "batch_size", "lr", "max_length", "min_count", "ensemble",
                "baseline_epochs", "baseline_lr", "baseline_c")),
            positive("patience", self.patience, allow_zero=True),
            (self.max_tokens >= 3, f"--max-tokens must be at least 3 (padding, [UNK] and a word); got "
                                   f"{self.max_tokens}"),
            *((0.0 <= getattr(self, name) < 1.0, f"--{name.replace('_', '-')} must be in [0, 1); got "
                                                 f"{getattr(self, name)}")
              for name in ("dropout", "spatial_dropout", "word_dropout")),
        ])


# ------------------------------------------------------------------------------------------------ text
def adapt_vocabulary(texts, config: SentimentConfig) -> list:
    """The vocabulary (``""``, ``"[UNK]"``, words by frequency) of ``texts``: at most ``max_tokens`` entries,
    only words seen at least ``min_count`` times."""
    from rnnkit.layers import TextVectorization

    layer = TextVectorization(max_tokens=config.max_tokens, output_mode="int")
    layer.adapt(list(texts))
    vocabulary = list(layer.get_vocabulary())
    if config.min_count > 1:
        ids = as_array(layer(list(texts)))  # (N, longest) ids, 0 = padding
        counts = np.bincount(ids.ravel(), minlength=len(vocabulary))
        vocabulary = vocabulary[:2] + [w for i, w in enumerate(vocabulary) if i >= 2 and counts[i] >= config.min_count]
    return vocabulary


def sequence_vectorizer(vocabulary, max_length: int):
    """A ``TextVectorization`` giving ``(N, max_length)`` int ids with ``vocabulary`` (padding 0, [UNK] 1)."""
    from rnnkit.layers import TextVectorization

    return TextVectorization(vocabulary=list(vocabulary), output_mode="int", output_sequence_length=max_length)


def as_array(values) -> np.ndarray:
    return np.asarray(getattr(values, "data", values))


def vectorize(vectorizer, texts) -> np.ndarray:
    """``(N, T)`` int64 ids of ``texts``."""
    if len(texts) == 0:
        return np.zeros((0, vectorizer.output_sequence_length), np.int64)
    return as_array(vectorizer(list(texts))).astype(np.int64)


# ----------------------------------------------------------------------------------------------- models
def build_model(config: SentimentConfig, vocabulary_size: int):
    """The recurrent classifier (see the module docstring), compiled with Adam and binary cross-entropy."""
    from rnnkit.layers import (
        GRU,
        LSTM,
        Bidirectional,
        Dense,
        Dropout,
        Embedding,
        GlobalMaxPooling1D,
        SpatialDropout1D,
    )
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam

    cell = {"lstm": LSTM, "gru": GRU}[config.cell]
    layers = [Embedding(vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding")]
    if config.word_dropout:
        layers.append(Dropout(config.word_dropout, noise_shape=(None, None, 1), name="word_dropout"))
    if config.spatial_dropout:
        layers.append(SpatialDropout1D(config.spatial_dropout, name="spatial_dropout"))
    layers += [Bidirectional(cell(config.units, return_sequences=True), name="bidirectional"),
               GlobalMaxPooling1D(name="max_over_time")]
    if config.dropout:
        layers.append(Dropout(config.dropout, name="dropout"))
    layers.append(Dense(1, activation="sigmoid", name="classifier"))
    model = Sequential(layers, name=f"bi{config.cell}_sentiment")
    model.compile(optimizer=Adam(learning_rate=config.lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def tfidf_features(fit_texts, texts_by_part: dict, max_tokens: int) -> tuple:
    """``(features by part, vocabulary size)``: TF-IDF rows (vocabulary and idf from ``fit_texts``), each scaled
    to unit Euclidean length (as the usual TF-IDF of logistic regression)."""
    from rnnkit.layers import TextVectorization

    layer = TextVectorization(max_tokens=max_tokens, output_mode="tf_idf")
    layer.adapt(list(fit_texts))
    out = {}
    for part, texts in texts_by_part.items():
        rows = as_array(layer(list(texts))).astype(np.float32)  # (N, vocabulary)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        out[part] = rows / np.maximum(norms, 1e-12)
    return out, layer.vocabulary_size()


def train_baseline(texts, labels, train_idx, test_idx, config: SentimentConfig, seed: int) -> dict:
    """TF-IDF + L2-regularised logistic regression on the whole training split: ``Dense(1, sigmoid)`` trained
    with ``fit`` to (near) convergence by full-batch gradient descent with momentum, the L2 penalty
    ``||w||^2 / (2 C n)`` as weight decay (scikit-learn's default ``C = 1``). Returns ``{"accuracy" (None
    without test), "epochs", "final_loss", "features"}``."""
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.optimizers import SGD
    from rnnkit.random import set_random_seed

    parts = {"train": [texts[i] for i in train_idx], "test": [texts[i] for i in test_idx]}
    features, size = tfidf_features(parts["train"], parts, config.max_tokens)
    n = len(train_idx)
    set_random_seed(seed)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(size,), name="logistic")], name="tfidf_logreg")
    # decoupled decay w -= lr * wd * w is the gradient of (wd / 2) ||w||^2: wd = 1 / (C n) for a mean loss
    model.compile(optimizer=SGD(learning_rate=config.baseline_lr, momentum=0.9,
                                weight_decay=1.0 / (config.baseline_c * n)), loss="binary_crossentropy")
    history = model.fit(features["train"], column(labels[train_idx]), batch_size=n, epochs=config.baseline_epochs,
                        shuffle=False, verbose=0)
    accuracy = None
    if len(test_idx):
        accuracy = accuracy_of(model.predict(features["test"], batch_size=256, verbose=0)[:, 0], labels[test_idx])
    return {"accuracy": accuracy, "epochs": config.baseline_epochs, "final_loss": history.history["loss"][-1],
            "features": size}


def column(labels) -> np.ndarray:
    return np.asarray(labels, np.float32).reshape(-1, 1)  # (N,) -> (N, 1) for Dense(1)


def accuracy_of(probabilities, labels) -> float:
    return float(np.mean((np.asarray(probabilities) > 0.5) == np.asarray(labels).astype(bool)))


# ------------------------------------------------------------------------------------------- one split
def member_parts(split, labels, config: SentimentConfig) -> list:
    """``[(fit indices, validation indices)]`` of each ensemble member: the split's training indices dealt into
    ``round(1 / val_fraction)`` stratified parts (at least ``ensemble``), member ``m`` validating on part ``m``
    and fitting on the rest, so the members' early stopping looks at different sentences, and the test indices
    at none."""
    counts = np.bincount(labels[split.train], minlength=2)
    parts = max(config.ensemble, int(round(1.0 / config.val_fraction)))
    parts = min(parts, int(counts.min()))
    if parts < max(2, config.ensemble):
        raise DataError(f"the training part of {split.name} has {counts[0]} negative and {counts[1]} positive "
                        f"sentences: too few to hold out {max(2, config.ensemble)} validation parts")
    folds = stratified_folds(labels[split.train], parts, seed=split.seed)
    return [(split.train[folds != m], split.train[folds == m]) for m in range(config.ensemble)]


@dataclass
class Split:
    """One training: ``train`` indices (validation carved from them) and ``test`` indices (may be empty)."""
    name: str
    train: np.ndarray
    test: np.ndarray
    seed: int


def train_split(texts, labels, split: Split, config: SentimentConfig, folder: str, resume: bool = False,
                callbacks=(), log=print) -> tuple:
    """Train the recurrent model(s) and the baseline of one split; ``(result dict, models, vocabulary)``.

    ``folder`` holds this split's checkpoint (``--resume`` continues it). ``callbacks`` go to every ``fit`` of
    the recurrent model (the benchmark records the batch order with one)."""
    from rnnkit.callbacks import EarlyStopping
    from rnnkit.models.checkpoint import remove_checkpoint
    from rnnkit.random import set_random_seed
    from rnnkit.tasks.runs import checkpoint_path, checkpointed_fit

    parts = member_parts(split, labels, config)
    vocabulary = adapt_vocabulary([texts[i] for i in split.train], config)
    vectorizer = sequence_vectorizer(vocabulary, config.max_length)
    ids = np.zeros((len(texts), config.max_length), np.int64)  # (N, T): only training and test rows are filled
    used = np.union1d(split.train, split.test)
    ids[used] = vectorize(vectorizer, [texts[i] for i in used])
    started = time.perf_counter()
    models, histories, best_epochs, probabilities = [], [], [], []
    for member, (fit_idx, val_idx) in enumerate(parts):
        set_random_seed(split.seed * 1000 + member)
        model = build_model(config, len(vocabulary))
        stopper = EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        where = os.path.join(folder, f"member_{member + 1}") if config.ensemble > 1 else folder
        history = checkpointed_fit(model, where, TASK, config, resume=resume, x=ids[fit_idx],
                                   y=column(labels[fit_idx]), validation_data=(ids[val_idx], column(labels[val_idx])),
                                   batch_size=config.batch_size, epochs=config.epochs, verbose=config.verbose,
                                   callbacks=[stopper, *callbacks])
        remove_checkpoint(checkpoint_path(where))  # finished: the result below replaces it
        models.append(model)
        histories.append({k: [float(v) for v in values] for k, values in history.history.items()})
        best_epochs.append(int(np.argmin(history.history["val_loss"])) + 1)
        if len(split.test):
            probabilities.append(model.predict(ids[split.test], batch_size=256, verbose=0)[:, 0])
    seconds = time.perf_counter() - started
    accuracy = accuracy_of(np.mean(probabilities, axis=0), labels[split.test]) if probabilities else None
    fit_idx, val_idx = parts[0]
    baseline = train_baseline(texts, labels, split.train, split.test, config, seed=split.seed)
    result = {
        "name": split.name, "train": int(len(fit_idx)), "validation": int(len(val_idx)),
        "test": int(len(split.test)), "test_positive": int(labels[split.test].sum()) if len(split.test) else 0,
        "test_accuracy": accuracy, "baseline_accuracy": baseline["accuracy"], "baseline": baseline,
        "vocabulary_size": len(vocabulary), "epochs_trained": [len(h["loss"]) for h in histories],
        "best_epoch": best_epochs, "train_seconds": seconds, "history": histories[0],
    }
    if log is not None and accuracy is not None:
        log(f"{split.name}: test_accuracy={accuracy:.4f} baseline_accuracy={baseline['accuracy']:.4f} "
            f"(train {len(fit_idx)}, validation {len(val_idx)}, test {len(split.test)}, best epoch "
            f"{'/'.join(map(str, best_epochs))}, {seconds:.1f} s)")
    return result, models, vocabulary


# ----------------------------------------------------------------------------------------- whole run
def load_data(config: SentimentConfig) -> tuple:
    """``(texts, labels, sources, test)``: the pooled ``--data`` and, with ``--test-data``, ``(texts, labels)``
    of the test file (else None)."""
    texts, labels, sources = read_sources(config.data)
    check_classes(labels, " + ".join(config.data), need=2)
    test = None
    if config.test_data is not None:
        test_texts, test_labels = read_labelled(config.test_data)
        test = (test_texts, np.asarray(test_labels, np.int64))
    return texts, labels, sources, test


def plan_splits(labels, config: SentimentConfig, test_count: int = 0) -> tuple:
    """``(splits, final)``: the evaluated splits and the name of the one whose model is saved (None: train a
    separate ``final`` model on all the data, as after cross-validation). With ``--test-data`` the test
    indices ``N .. N + test_count - 1`` point past ``--data`` (texts are pooled with the test file's)."""
    n = len(labels)
    everything = np.arange(n)
    if config.cv:
        folds = stratified_folds(labels, config.cv, seed=config.seed)
        splits = [Split(f"fold_{k + 1}", np.flatnonzero(folds != k), np.flatnonzero(folds == k), config.seed + k)
                  for k in range(config.cv)]
        return splits, None
    if test_count:
        return [Split("test_file", everything, np.arange(n, n + test_count), config.seed)], "test_file"
    train_idx, test_idx = stratified_split(everything, labels, config.test_fraction, seed=config.seed)
    return [Split("holdout", train_idx, test_idx, config.seed)], "holdout"


def summary_of(results: list) -> dict:
    """Means and spreads (population standard deviation) over the splits' accuracies."""
    out = {}
    for key in ("test_accuracy", "baseline_accuracy"):
        values = np.array([r[key] for r in results], dtype=float)
        out[key] = float(values.mean())
        out[key + "_std"] = float(values.std())
        out[key + "_min"], out[key + "_max"] = float(values.min()), float(values.max())
    return out


def start_run(config: SentimentConfig, overwrite: bool = False, resume: bool = False) -> str:
    """Prepare ``config.out``: refuse to clobber a finished model or an unfinished run (unless ``overwrite``),
    write the run's config for ``--resume``. Returns the runs folder."""
    from rnnkit.fileio import atomic_write_text
    from rnnkit.tasks.runs import MODEL_NAME, check_out_dir

    runs = os.path.join(config.out, RUNS)
    if not resume:
        if os.path.isdir(runs) and not overwrite and not os.path.isfile(os.path.join(config.out, MODEL_NAME)):
            raise ConfigError(f"{config.out} holds an unfinished run; continue it with: rnnkit sentiment train "
                              f"--resume {config.out}  (or use another --out, or --overwrite)")
        check_out_dir(config.out, TASK, overwrite=overwrite)
        if overwrite and os.path.isdir(runs):
            shutil.rmtree(runs)
    os.makedirs(runs, exist_ok=True)
    atomic_write_text(os.path.join(runs, RUN_CONFIG), json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    return runs


def saved_run_config(out: str) -> SentimentConfig:
    """The config of the run in ``out`` (written by ``start_run``)."""
    path = os.path.join(out, RUNS, RUN_CONFIG)
    if not os.path.isfile(path):
        raise DataError(f"no sentiment run to resume in {out} (expected {path}, written by 'rnnkit sentiment "
                        f"train --out {out}')")
    try:
        saved = json.loads(open(path, encoding="utf-8").read())
        return SentimentConfig(**saved)
    except (ValueError, TypeError) as error:
        raise DataError(f"{path} is not a sentiment run configuration ({error})") from None


def resume_run_config(out: str, given: dict) -> SentimentConfig:
    """The saved config of ``out`` with ``--epochs`` / ``--verbose`` from ``given`` (the flags on the command
    line); any other flag with a value different from the saved one is a ``ConfigError``."""
    from rnnkit.tasks.runs import apply_resume_flags

    config = apply_resume_flags(saved_run_config(out), out, given, RESUME_OVERRIDES)
    config.validate()
    return config


def train(config: SentimentConfig, resume: bool = False, overwrite: bool = False, log=print) -> dict:
    """Run ``rnnkit sentiment train``: splits, models, baselines, the saved model, report and curves."""
    from rnnkit.fileio import atomic_write_text
    from rnnkit.tasks.report import write_report
    from rnnkit.tasks.runs import MODEL_NAME

    config.validate()
    texts, labels, sources, test = load_data(config)
    runs = start_run(config, overwrite=overwrite, resume=resume)
    test_count = 0
    if test is not None:
        texts = texts + test[0]
        all_labels = np.concatenate([labels, test[1]])
        test_count = len(test[0])
    else:
        all_labels = labels
    splits, final_name = plan_splits(labels, config, test_count)
    results, saved = [], None
    for split in splits:
        folder = os.path.join(runs, split.name)
        done = os.path.join(folder, RESULT)
        if resume and os.path.isfile(done) and split.name != final_name:
            results.append(json.loads(open(done, encoding="utf-8").read()))
            if log is not None:
                log(f"{split.name}: finished earlier (test_accuracy={results[-1]['test_accuracy']:.4f})")
            continue
        result, models, vocabulary = train_split(texts, all_labels, split, config, folder, resume=resume, log=log)
        atomic_write_text(done, json.dumps(result) + "\n")
        results.append(result)
        if split.name == final_name:
            saved = (models, vocabulary, result)
    if saved is None:  # cross-validation: the saved model learns from all the data
        final = Split("final", np.arange(len(labels)), np.zeros(0, np.int64), config.seed + config.cv)
        result, models, vocabulary = train_split(texts, all_labels, final, config, os.path.join(runs, "final"),
                                                 resume=resume, log=log)
        saved = (models, vocabulary, result)
    models, vocabulary, final_result = saved
    save_models(os.path.join(config.out, MODEL_NAME), models, vocabulary, config)
    report = {
        "task": TASK,
        **summary_of(results),
        "config": dataclasses.asdict(config),
        "data": data_summary(config, labels, sources, test),
        "split": split_description(config, labels, test_count),
        "folds": [{k: v for k, v in r.items() if k != "history"} for r in results],
        "saved_model": {"trained_on": final_result["name"], "train": final_result["train"],
                        "validation": final_result["validation"], "epochs": final_result["epochs_trained"],
                        "best_epoch": final_result["best_epoch"], "vocabulary_size": len(vocabulary)},
        "histories": {r["name"]: r["history"] for r in results},
    }
    write_report(config.out, report)
    plot_curves(results, os.path.join(config.out, "curves.png"), config)
    return report


def data_summary(config, labels, sources, test) -> list:
    rows = [{"file": path, "sentences": int((sources == i).sum()), "positive": int(labels[sources == i].sum())}
            for i, path in enumerate(config.data)]
    if test is not None:
        rows.append({"file": config.test_data, "sentences": len(test[1]), "positive": int(test[1].sum()),
                     "role": "test"})
    return rows


def split_description(config, labels, test_count) -> dict:
    if config.cv:
        return {"kind": "stratified_cv", "folds": config.cv, "seed": config.seed, "sentences": int(len(labels)),
                "validation_fraction_of_training": config.val_fraction}
    if test_count:
        return {"kind": "test_file", "test_file": config.test_data, "test": test_count,
                "validation_fraction_of_training": config.val_fraction}
    return {"kind": "stratified_holdout", "test_fraction": config.test_fraction, "seed": config.seed,
            "validation_fraction_of_training": config.val_fraction}


def plot_curves(results, path: str, config) -> bool:
    """Training and validation loss and accuracy of every split's (first) model, one line per split."""
    from rnnkit.tasks.report import figure

    with figure(path, ncols=2, figsize=(11, 4)) as drawing:
        if drawing is None:
            return False
        fig, axes = drawing
        for r in results:
            history = r["history"]
            for ax, key in zip(axes, ("loss", "accuracy")):
                epochs = range(1, len(history[key]) + 1)
                line, = ax.plot(epochs, history[key], "-", alpha=0.6, label=f"{r['name']} training")
                ax.plot(epochs, history[f"val_{key}"], "--", color=line.get_color(), label=f"{r['name']} validation")
        for ax, key in zip(axes, ("loss", "accuracy")):
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
        axes[1].legend(fontsize=7, ncol=2)
        fig.suptitle(f"Bi{config.cell.upper()}({config.units}) sentiment: {len(results)} split(s), early stopping on "
                     "validation")
    return True


# ------------------------------------------------------------------------------------------ inference
def save_models(path: str, models, vocabulary, config: SentimentConfig) -> None:
    """``path`` (``model.rnnkit``) with the first model and, in ``task.json``, the vocabulary and settings
    that ``predict`` needs; further ensemble members beside it as ``model_2.rnnkit`` ..."""
    from rnnkit.tasks.artifacts import save_task_model

    info = {"vocabulary": list(vocabulary), "max_length": config.max_length, "labels": LABEL_NAMES,
            "ensemble": len(models), "config": dataclasses.asdict(config)}
    save_task_model(path, models[0], TASK, info)
    folder = os.path.dirname(os.path.abspath(path))
    for member, extra in enumerate(models[1:], start=2):
        save_task_model(os.path.join(folder, f"model_{member}.rnnkit"), extra, TASK, info)


def load(model_path: str) -> tuple:
    """``(models, vectorizer)`` of a ``model.rnnkit`` written by ``train`` (and its ensemble members)."""
    from rnnkit.tasks.artifacts import load_task_model

    model, info = load_task_model(model_path, TASK)
    vocabulary, max_length = info.get("vocabulary"), info.get("max_length")
    if not isinstance(vocabulary, list) or not isinstance(max_length, int):
        raise DataError(f"{model_path}: task.json lacks the vocabulary or max_length of the sentiment model")
    models = [model]
    folder = os.path.dirname(os.path.abspath(model_path))
    for member in range(2, int(info.get("ensemble", 1)) + 1):
        models.append(load_task_model(os.path.join(folder, f"model_{member}.rnnkit"), TASK)[0])
    return models, sequence_vectorizer(vocabulary, max_length)


def predict(model_path: str, texts) -> list:
    """``[(label, probability of that label), ...]`` for ``texts`` with the model saved at ``model_path``."""
    models, vectorizer = load(model_path)
    return predict_with(models, vectorizer, texts)


def predict_with(models, vectorizer, texts) -> list:
    ids = vectorize(vectorizer, list(texts))
    positive_p = np.mean([m.predict(ids, batch_size=256, verbose=0)[:, 0] for m in models], axis=0)
    return [(int(p > 0.5), float(p if p > 0.5 else 1.0 - p)) for p in positive_p]
