"""Translation (``rnnkit translate``): an attention encoder-decoder on tab-separated sentence pairs, with greedy
and beam-search decoding, corpus BLEU (sacrebleu) on held-out pairs, and attention heat maps.

``train(config)`` reads the pairs (lowercased, punctuation split, pairs longer than ``max_length`` tokens
skipped and counted), holds out ``test_size`` pairs (``split="sentence"``: by distinct source sentence, so no
test sentence is seen in training; ``"pair"``: plain random pairs), builds vocabularies from the training pairs
(padding, start, end, unknown), trains the attention model (``translate_model.build_model``) and the same model
without attention (the baseline), and reports BLEU of both on the test pairs. It writes ``model.rnnkit`` (with
the vocabularies), ``baseline/model.rnnkit``, ``report.json``, ``curves.png`` and ``attention-*.png``.

``translate(path, sentences, beam=5)`` translates with a saved model.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> data = os.path.join(folder, "pairs.tsv")
>>> _ = open(data, "w").write("go .\\tva !\\nhi .\\tsalut !\\nrun !\\tcours !\\n" * 4)
>>> config = TranslateConfig(data=data, out=os.path.join(folder, "run"), test_size=2, split="pair", epochs=1,
...                          units=4, embedding_dim=3, verbose=0, beam=2)
>>> report = train(config)
>>> sorted(report["bleu"]), os.path.isfile(os.path.join(folder, "run", "model.rnnkit"))
(['attention_beam', 'attention_greedy', 'baseline_beam', 'baseline_greedy'], True)
>>> [result["source"] for result in translate(os.path.join(folder, "run", "model.rnnkit"), ["go ."])]
[['go', '.']]
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from rnnkit.cli.config_flags import check_all, positive
from rnnkit.decoding import beam_search, greedy_search
from rnnkit.errors import ConfigError
from rnnkit.tasks.translate_data import (END, START, Vocabulary, pad, read_pairs, split_indices, target_arrays,
                                         tokenize)
from rnnkit.tasks.translate_model import ATTENTIONS, CELLS, Translator, build_model

TASK = "translate"
HEATMAPS = 5


@dataclass
class TranslateConfig:
    data: str = field(default="", metadata={"help": "tab-separated file: source<TAB>target per line",
                                            "metavar": "FILE"})
    out: str = field(default="translate-run", metadata={"help": "folder for the model, report and plots",
                                                        "metavar": "DIR"})
    test_size: int = field(default=500, metadata={"help": "pairs held out for BLEU"})
    split: str = field(default="sentence", metadata={
        "help": "sentence: hold out whole distinct source sentences (none seen in training); pair: random pairs",
        "choices": ("sentence", "pair")})
    seed: int = field(default=0, metadata={"help": "seed of the split, the weights and the shuffling"})
    epochs: int = field(default=20, metadata={"help": "passes over the training pairs"})
    units: int = field(default=256, metadata={"help": "recurrent units of the encoder (each way) and the decoder"})
    embedding_dim: int = field(default=256, metadata={"help": "size of the word vectors"})
    cell: str = field(default="gru", metadata={"help": "recurrent cell", "choices": tuple(CELLS)})
    attention: str = field(default="bahdanau", metadata={"help": "attention of the decoder (none: no attention)",
                                                         "choices": ATTENTIONS})
    max_length: int = field(default=20, metadata={"help": "skip pairs with a side longer than this many tokens"})
    batch_size: int = field(default=32, metadata={"help": "pairs per gradient step"})
    lr: float = field(default=0.001, metadata={"help": "Adam learning rate"})
    beam: int = field(default=5, metadata={"help": "beam width of the reported BLEU (1: greedy)"})
    alpha: float = field(default=0.0, metadata={"help": "length normalisation of beam search: score / length^alpha"})
    baseline: bool = field(default=True, metadata={"help": "also train the same model without attention"})
    verbose: int = field(default=2, metadata={"help": "0 silent, 1 progress bar, 2 one line per epoch",
                                              "choices": (0, 1, 2)})
    checkpoint_every: int = field(default=0, metadata={"help": "also checkpoint every N steps (0: every epoch)"})

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("--data FILE is required (tab-separated lines source<TAB>target)")
        check_all([positive(name, getattr(self, name)) for name in
                   ("test_size", "epochs", "units", "embedding_dim", "max_length", "batch_size", "lr", "beam")]
                  + [positive("alpha", self.alpha, allow_zero=True),
                     positive("checkpoint_every", self.checkpoint_every, allow_zero=True)])
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"--attention must be one of {ATTENTIONS}; got {self.attention!r}")
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {tuple(CELLS)}; got {self.cell!r}")
        if self.split not in ("sentence", "pair"):
            raise ConfigError(f"--split must be 'sentence' or 'pair'; got {self.split!r}")


# ---------------------------------------------------------------------------------------------- data
@dataclass
class TranslationData:
    """Pairs split into training and test, the vocabularies and the padded training arrays."""

    pairs: object
    train: np.ndarray
    test: np.ndarray
    source_vocabulary: Vocabulary
    target_vocabulary: Vocabulary

    def arrays(self, indices) -> tuple:
        """``([source ids, target input ids], target output ids)`` for the pairs ``indices``."""
        source = pad([self.source_vocabulary.encode(self.pairs.source[i]) for i in indices])
        target_in, target_out = target_arrays([self.target_vocabulary.encode(self.pairs.target[i])
                                               for i in indices])
        return [source, target_in], target_out


def load_data(config: TranslateConfig) -> TranslationData:
    """Read, filter and split the pairs of ``config.data``; vocabularies from the training pairs only."""
    pairs = read_pairs(config.data, config.max_length)
    train_idx, test_idx = split_indices(pairs.source, config.test_size, config.split, config.seed)
    source_vocabulary = Vocabulary.build([pairs.source[i] for i in train_idx])
    target_vocabulary = Vocabulary.build([pairs.target[i] for i in train_idx])
    return TranslationData(pairs, train_idx, test_idx, source_vocabulary, target_vocabulary)


# ------------------------------------------------------------------------------------------- decoding
def decode(translator: Translator, source_ids: list, beam: int = 1, max_length: int = 21, alpha: float = 0.0,
           chunk: int = 100) -> list:
    """Token id lists (end token excluded) for each source id list, greedy (``beam=1``) or by beam search."""
    results = []
    for begin in range(0, len(source_ids), chunk):
        part = pad(source_ids[begin:begin + chunk])
        states = translator.encode(part)
        starts = np.full(len(part), START, dtype=np.int64)
        if beam == 1:
            found = greedy_search(translator.step, starts, states, max_length=max_length, end_id=END)
        else:
            found = beam_search(translator.step, starts, states, beam_width=beam, max_length=max_length, end_id=END,
                                alpha=alpha)
        results.extend(h.tokens for h in found)
    return results


def bleu(hypotheses: list, references: list) -> float:
    """Corpus BLEU (sacrebleu, 13a tokenisation) of token lists against one reference token list each."""
    import sacrebleu

    hypotheses = [" ".join(h) for h in hypotheses]
    references = [[" ".join(r) for r in references]]
    return float(sacrebleu.corpus_bleu(hypotheses, references, force=True).score)  # tokenized on purpose


def detokenize(tokens: list) -> str:
    """Tokens as text: spaces, but none around apostrophes or before ``.`` and ``,``."""
    text = " ".join(tokens)
    text = re.sub(r" ?' ?", "'", text)
    return re.sub(r" ([.,])", r"\1", text)


# ------------------------------------------------------------------------------------------- training
def _fit(model, out, config, resume, data, train_arrays, test_arrays):
    from rnnkit.optimizers import Adam
    from rnnkit.tasks.runs import checkpointed_fit

    model.compile(optimizer=Adam(learning_rate=config.lr), loss="sparse_categorical_crossentropy")
    (x, y), (x_test, y_test) = train_arrays, test_arrays
    started = time.perf_counter()
    history = checkpointed_fit(model, out, TASK, config, resume=resume, checkpoint_every=config.checkpoint_every,
                               x=x, y=y, epochs=config.epochs, batch_size=config.batch_size, verbose=config.verbose,
                               validation_data=(x_test, y_test))
    return history.history, time.perf_counter() - started


def _evaluate(translator, data, config) -> dict:
    sources = [data.source_vocabulary.encode(data.pairs.source[i]) for i in data.test]
    references = [data.pairs.target[i] for i in data.test]
    out = {}
    for name, beam in (("greedy", 1), ("beam", config.beam)):
        ids = decode(translator, sources, beam=beam, max_length=config.max_length + 1, alpha=config.alpha)
        hypotheses = [data.target_vocabulary.decode(i + [END]) for i in ids]
        out[name] = (bleu(hypotheses, references), hypotheses)
    return out


def _heatmaps(translator, data, config, hypotheses) -> list:
    from rnnkit.tasks.report import plot_heatmap

    chosen = [k for k, i in enumerate(data.test) if len(data.pairs.source[i]) >= 3][:HEATMAPS]
    paths = []
    for n, k in enumerate(chosen, start=1):
        i = data.test[k]
        source_ids = data.source_vocabulary.encode(data.pairs.source[i])
        output = hypotheses[k]
        weights = translator.attention_weights(np.array(source_ids), data.target_vocabulary.encode(output))
        path = os.path.join(config.out, f"attention-{n}.png")
        if weights is not None and plot_heatmap(weights, path, f"{' '.join(data.pairs.source[i])}",
                                                row_labels=output + ["<end>"], column_labels=data.pairs.source[i],
                                                xlabel="source words", ylabel="output words"):
            paths.append(path)
    return paths


def train(config: TranslateConfig, resume: bool = False, overwrite: bool = False) -> dict:
    """Train the attention model and the baseline, report BLEU; writes the files listed in the module doc.
    ``resume`` continues the unfinished run in ``config.out``; ``overwrite`` replaces a finished one."""
    from rnnkit.random import set_random_seed
    from rnnkit.tasks.artifacts import save_task_model
    from rnnkit.tasks.report import plot_history, write_report
    from rnnkit.tasks.runs import MODEL_NAME, check_out_dir

    import sacrebleu  # noqa: F401  (BLEU at the end needs it: a missing package is said before training, not after)

    config.validate()
    if not resume:
        check_out_dir(config.out, TASK, overwrite=overwrite)
    data = load_data(config)
    say = print if config.verbose else (lambda *a, **k: None)
    say(f"{len(data.train)} training pairs, {len(data.test)} test pairs (split by {config.split}); "
        f"skipped {data.pairs.skipped_long} pairs longer than --max-length {config.max_length} and "
        f"{data.pairs.skipped_blank} blank; vocabularies: {len(data.source_vocabulary)} source, "
        f"{len(data.target_vocabulary)} target tokens")
    train_arrays, test_arrays = data.arrays(data.train), data.arrays(data.test)
    info = {"source_vocabulary": data.source_vocabulary.tokens, "target_vocabulary": data.target_vocabulary.tokens,
            "config": dataclasses.asdict(config)}
    runs = {}
    variants = [("attention", config.attention, config.out)]
    if config.baseline and config.attention != "none":
        variants.append(("baseline", "none", os.path.join(config.out, "baseline")))
    for name, attention, out in variants:
        set_random_seed(config.seed)
        model = build_model(len(data.source_vocabulary), len(data.target_vocabulary), config.units,
                            config.embedding_dim, config.cell, attention)
        say(f"training the {'baseline (no attention)' if name == 'baseline' else attention + ' attention'} model")
        history, seconds = _fit(model, out, config, resume, data, train_arrays, test_arrays)
        translator = Translator(model)
        scores = _evaluate(translator, data, config)
        save_task_model(os.path.join(out, MODEL_NAME), model, TASK, dict(info, config=dict(info["config"],
                                                                                             attention=attention)))
        runs[name] = {"model": model, "translator": translator, "history": history, "seconds": seconds,
                      "scores": scores}
        say(f"{name}: BLEU greedy {scores['greedy'][0]:.2f}, beam {config.beam} {scores['beam'][0]:.2f}")
    main = runs["attention"]
    baseline = runs.get("baseline", main)
    plot_history(main["history"], os.path.join(config.out, "curves.png"),
                 f"translate: {config.cell} {config.units}, {config.attention} attention, "
                 f"{len(data.train)} pairs, {config.epochs} epochs", validation_name="test")
    heatmaps = _heatmaps(main["translator"], data, config, main["scores"]["beam"][1]) \
        if config.attention != "none" else []
    samples = []
    for k, i in enumerate(data.test[:10]):
        samples.append({"source": data.pairs.source_text[i], "reference": data.pairs.target_text[i],
                        "translation": detokenize(main["scores"]["beam"][1][k])})
    report = {
        "task": TASK, "config": dataclasses.asdict(config),
        "data": {"file": config.data, "train_pairs": len(data.train), "test_pairs": len(data.test),
                 "skipped_long": data.pairs.skipped_long, "skipped_blank": data.pairs.skipped_blank,
                 "source_vocabulary": len(data.source_vocabulary),
                 "target_vocabulary": len(data.target_vocabulary)},
        "bleu": {f"{name}_{kind}": run["scores"][kind][0] for name, run in runs.items()
                 for kind in ("greedy", "beam")},
        "test_bleu": main["scores"]["beam"][0], "baseline_bleu": baseline["scores"]["beam"][0],
        "history": {name: run["history"] for name, run in runs.items()},
        "training_seconds": {name: run["seconds"] for name, run in runs.items()},
        "samples": samples, "heatmaps": [os.path.basename(p) for p in heatmaps],
    }
    if "baseline" not in runs:
        report["bleu"].update({"baseline_greedy": report["bleu"]["attention_greedy"],
                               "baseline_beam": report["bleu"]["attention_beam"]})
    write_report(config.out, report)
    return report


# ------------------------------------------------------------------------------------------ inference
def load_translator(path: str) -> tuple:
    """``(Translator, source Vocabulary, target Vocabulary, info)`` of a model written by ``train``."""
    from rnnkit.tasks.artifacts import load_task_model

    model, info = load_task_model(path, TASK)
    return Translator(model), Vocabulary(info["source_vocabulary"]), Vocabulary(info["target_vocabulary"]), info


def translate(path_or_loaded, sentences: list, beam: int = 5, alpha: float = 0.0, max_length: int | None = None) \
        -> list:
    """Translate ``sentences`` (text) with a saved model; one dict per sentence: ``source`` tokens, ``unknown``
    (source tokens outside the vocabulary, read as ``<unk>``), ``tokens`` and ``text`` of the translation, and
    ``attention`` (weights ``(output tokens + 1, source tokens)``, None without attention)."""
    loaded = load_translator(path_or_loaded) if isinstance(path_or_loaded, str) else path_or_loaded
    translator, source_vocabulary, target_vocabulary, info = loaded
    if max_length is None:
        max_length = int(info.get("config", {}).get("max_length", 20)) + 1
    tokenized = [tokenize(sentence) for sentence in sentences]
    for sentence, tokens in zip(sentences, tokenized):
        if not tokens:
            raise ConfigError(f"nothing to translate in {sentence!r} (no words)")
    ids = [source_vocabulary.encode(tokens) for tokens in tokenized]
    outputs = decode(translator, ids, beam=beam, max_length=max_length, alpha=alpha)
    results = []
    for tokens, source_ids, output in zip(tokenized, ids, outputs):
        words = target_vocabulary.decode(output + [END])
        results.append({"source": tokens, "unknown": source_vocabulary.unknown(tokens), "tokens": words,
                        "text": detokenize(words),
                        "attention": translator.attention_weights(np.array(source_ids), output)})
    return results
