"""Translation on eng-fra-5k: rnnkit's attention encoder-decoder beside a PyTorch twin of the same architecture.

For each split (``sentence``: 500 test pairs whose English sentence never occurs in training, seed 0; ``pair``:
500 random test pairs), on the same epochs of the same batches (one permutation per epoch, batch 32, Adam 1e-3,
GRU 256 encoder each way and decoder, embeddings 256):

- rnnkit with Bahdanau attention, rnnkit without attention (the baseline), and the PyTorch twin with Bahdanau
  attention, epochs interleaved so that both frameworks see the same machine load (seconds per epoch);
- corpus BLEU (sacrebleu) of greedy and beam-5 decoding for each (the twin decodes with the same
  ``rnnkit.decoding`` searches through its own step function), and of copying the English input.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.app_translate [--epochs 10] [--threads 1]
        [--splits sentence,pair] [--units 256] [--limit N] [--json FILE] [--save DIR]
        [--timing-only] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "eng-fra-5k.tsv")


# ------------------------------------------------------------------------------------- the PyTorch twin
def torch_twin(source_vocabulary: int, target_vocabulary: int, units: int, embedding_dim: int):
    import torch
    from torch import nn

    class Twin(nn.Module):
        """Bidirectional GRU encoder; decoder GRU from the sum of its final states, run over the whole target;
        Bahdanau attention v^T tanh(W q + V k) over the encoder outputs for all steps; [decoded, context] ->
        Linear(vocabulary). The same arrangement as rnnkit.tasks.translate_model.build_model."""

        def __init__(self):
            super().__init__()
            self.source_embedding = nn.Embedding(source_vocabulary, embedding_dim, padding_idx=0)
            self.encoder = nn.GRU(embedding_dim, units, batch_first=True, bidirectional=True)
            self.target_embedding = nn.Embedding(target_vocabulary, embedding_dim, padding_idx=0)
            self.decoder = nn.GRU(embedding_dim, units, batch_first=True)
            self.query = nn.Linear(units, units, bias=False)
            self.keys = nn.Linear(2 * units, units)
            self.v = nn.Parameter(torch.empty(units).uniform_(-0.1, 0.1))
            self.output = nn.Linear(3 * units, target_vocabulary)

        def encode(self, source):
            lengths = (source != 0).sum(1)
            packed = nn.utils.rnn.pack_padded_sequence(self.source_embedding(source), lengths.cpu(),
                                                       batch_first=True, enforce_sorted=False)
            memory, h = self.encoder(packed)
            memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True, total_length=source.shape[1])
            return memory, (h[0] + h[1])[None], self.keys(memory), source != 0

        def head(self, decoded, memory, keys, mask):
            scores = (self.v * torch.tanh(self.query(decoded)[:, :, None] + keys[:, None])).sum(-1)  # (B, T, S)
            scores = scores.masked_fill(~mask[:, None], -1e9)
            context = torch.softmax(scores, -1) @ memory  # (B, T, 2U)
            return self.output(torch.cat([decoded, context], -1))  # (B, T, V) logits

        def forward(self, source, target_in):
            memory, state, keys, mask = self.encode(source)
            decoded, _ = self.decoder(self.target_embedding(target_in), state)
            return self.head(decoded, memory, keys, mask)

    return Twin()


def torch_epoch(model, optimizer, batches) -> float:
    import torch

    model.train()
    total, count = 0.0, 0
    for source, target_in, target_out in batches:
        logits = model(torch.from_numpy(source), torch.from_numpy(target_in))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 torch.from_numpy(target_out).reshape(-1), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + float(loss.detach()), count + 1
    return total / max(count, 1)


class TorchStepper:
    """The twin's decoder one token at a time, as ``rnnkit.decoding`` expects."""

    def __init__(self, model):
        self.model = model

    def encode(self, source):
        import torch

        with torch.no_grad():
            memory, state, keys, mask = self.model.encode(torch.from_numpy(source))
        return [state[0].numpy(), memory.numpy(), keys.numpy(), mask.numpy()]

    def step(self, previous, states):
        import torch

        state, memory, keys, mask = states
        with torch.no_grad():
            embedded = self.model.target_embedding(torch.from_numpy(np.asarray(previous))[:, None])
            decoded, h = self.model.decoder(embedded, torch.from_numpy(state)[None])
            logits = self.model.head(decoded, torch.from_numpy(memory), torch.from_numpy(keys),
                                     torch.from_numpy(mask))
            log_probs = torch.log_softmax(logits[:, 0].double(), -1).numpy()
        return log_probs, [h[0].numpy(), memory, keys, mask]


# ------------------------------------------------------------------------------------------ the run
def decode_all(stepper, sources, beam):
    from rnnkit.decoding import beam_search, greedy_search
    from rnnkit.tasks.translate_data import END, START, pad

    out = []
    for begin in range(0, len(sources), 100):
        part = pad(sources[begin:begin + 100])
        states = stepper.encode(part)
        starts = np.full(len(part), START, dtype=np.int64)
        if beam == 1:
            found = greedy_search(stepper.step, starts, states, max_length=21, end_id=END)
        else:
            found = beam_search(stepper.step, starts, states, beam_width=beam, max_length=21, end_id=END)
        out.extend(h.tokens for h in found)
    return out


def run_split(split: str, args) -> dict:
    import torch

    from rnnkit.optimizers import Adam
    from rnnkit.random import set_random_seed
    from rnnkit.tasks.translate import TranslateConfig, bleu, load_data
    from rnnkit.tasks.translate_model import Translator, build_model

    config = TranslateConfig(data=args.data, split=split, seed=0, test_size=args.test_size, units=args.units,
                             embedding_dim=args.units)
    data = load_data(config)
    train_idx = data.train[:args.limit] if args.limit else data.train
    (x, y), _ = data.arrays(train_idx), None
    source, target_in = x
    vs, vt = len(data.source_vocabulary), len(data.target_vocabulary)
    models = {}
    for name, attention in (("rnnkit", "bahdanau"), ("rnnkit_baseline", "none")):
        set_random_seed(args.seed)
        model = build_model(vs, vt, args.units, args.units, "gru", attention)
        model.compile(optimizer=Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
        models[name] = model
    torch.manual_seed(args.seed)
    twin = torch_twin(vs, vt, args.units, args.units)
    optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
    rng = np.random.default_rng(args.seed)
    seconds = {"rnnkit": [], "rnnkit_baseline": [], "torch": []}
    losses = {"rnnkit": [], "rnnkit_baseline": [], "torch": []}
    for epoch in range(args.epochs):
        order = rng.permutation(len(y))
        batches = [(source[order[b:b + 32]], target_in[order[b:b + 32]], y[order[b:b + 32]])
                   for b in range(0, len(y), 32)]
        for name in ("rnnkit", "torch", "rnnkit_baseline"):
            started = time.perf_counter()
            if name == "torch":
                loss = torch_epoch(twin, optimizer, batches)
            else:
                history = models[name].fit([source[order], target_in[order]], y[order], batch_size=32, epochs=1,
                                           shuffle=False, verbose=0)
                loss = history.history["loss"][-1]
            seconds[name].append(time.perf_counter() - started)
            losses[name].append(float(loss))
        print(f"[{split}] epoch {epoch + 1}/{args.epochs}: " + ", ".join(
            f"{name} {seconds[name][-1]:.1f} s loss {losses[name][-1]:.3f}" for name in seconds), flush=True)
    result = {"split": split, "train_pairs": len(train_idx), "test_pairs": len(data.test), "epochs": args.epochs,
              "seconds_per_epoch": seconds, "loss": losses,
              "median_seconds_per_epoch": {k: float(np.median(v)) for k, v in seconds.items()}}
    if args.timing_only:
        print(json.dumps({k: result[k] for k in ("split", "median_seconds_per_epoch")}, indent=1), flush=True)
        return result
    twin.eval()
    sources = [data.source_vocabulary.encode(data.pairs.source[i]) for i in data.test]
    references = [data.pairs.target[i] for i in data.test]
    steppers = {"rnnkit": Translator(models["rnnkit"]), "rnnkit_baseline": Translator(models["rnnkit_baseline"]),
                "torch": TorchStepper(twin)}
    scores = {}
    for name, stepper in steppers.items():
        for beam in (1, 5):
            ids = decode_all(stepper, sources, beam)
            hypotheses = [data.target_vocabulary.decode(list(i) + [2]) for i in ids]
            scores[f"{name}_{'greedy' if beam == 1 else 'beam5'}"] = bleu(hypotheses, references)
    scores["copy_english"] = bleu([data.pairs.source[i] for i in data.test], references)
    if args.save:  # the attention model, usable by 'rnnkit translate MODEL SENTENCE'
        from rnnkit.tasks.artifacts import save_task_model

        os.makedirs(args.save, exist_ok=True)
        save_task_model(os.path.join(args.save, f"{split}.rnnkit"), models["rnnkit"], "translate",
                        {"source_vocabulary": data.source_vocabulary.tokens,
                         "target_vocabulary": data.target_vocabulary.tokens, "config": {"max_length": 20}})
    result["bleu"] = scores
    print(json.dumps({k: result[k] for k in ("split", "bleu", "median_seconds_per_epoch")}, indent=1), flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_translate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.normpath(DATA))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--splits", default="sentence,pair")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch order (the split "
                        "always uses seed 0)")
    parser.add_argument("--test-size", type=int, default=500, help="held-out pairs (default 500)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training pairs only")
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--timing-only", action="store_true", help="train and time only (no decoding, no BLEU)")
    parser.add_argument("--save", default=None, metavar="DIR", help="save the rnnkit attention models in DIR")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "omp": os.environ.get("OMP_NUM_THREADS"), "runs": []}
    for split in args.splits.split(","):
        results["runs"].append(run_split(split, args))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
