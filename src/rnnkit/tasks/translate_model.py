"""The translation network: a bidirectional recurrent encoder and an attention decoder, trained whole and run
one token at a time.

Training (teacher forcing, one functional model, every recurrent pass one fused op)::

    source ids (B, S) -> Embedding(mask_zero) -> Bidirectional(GRU|LSTM, sequences + states)  -> memory (B, S, 2U)
    forward + backward final states -> Add                                                     -> decoder state
    target ids <start> w1 .. wn (B, T) -> Embedding(mask_zero) -> GRU|LSTM(initial_state)      -> decoded (B, T, U)
    bahdanau: AdditiveAttention([Dense(U)(decoded), memory, Dense(U)(memory)])  (v^T tanh(W q + V k))
    luong:    Attention([Dense(2U)(decoded), memory])                           (q^T W k, "general")
    [decoded, context] -> Concatenate -> Dense(vocabulary, softmax)             -> w1 .. wn <end> (B, T, V)

All decoder steps attend at once (the decoder's state does not depend on the context: Luong's arrangement), so
a training step is a handful of large operations. Masks from the embeddings keep padding out of the encoder,
the attention (zero weight on padded source words) and the loss. ``none`` drops the attention: the baseline.

:class:`Translator` runs the same layers for inference: ``encode`` once, then ``step`` carries the decoder's
states one token at a time (what ``rnnkit.decoding`` searches over); ``teacher_forced`` gives the training
forward pass with the attention weights (for heat maps). Stepping equals the training forward pass on the same
prefix (tested).

>>> import numpy as np
>>> model = build_model(12, 10, units=4, embedding_dim=3, cell="gru", attention="bahdanau")
>>> model.predict([np.array([[4, 5, 0]]), np.array([[1, 6, 7, 0]])], verbose=0).shape
(1, 4, 10)
>>> translator = Translator(model)
>>> log_probs, states = translator.step(np.array([1]), translator.encode(np.array([[4, 5]])))
>>> log_probs.shape
(1, 10)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, no_grad
from rnnkit.errors import ConfigError, DataError
from rnnkit.layers import (GRU, LSTM, Add, AdditiveAttention, Attention, Bidirectional, Concatenate, Dense,
                           Embedding)
from rnnkit.models import Input, Model
from rnnkit.tasks.translate_data import START

CELLS = {"gru": GRU, "lstm": LSTM}
ATTENTIONS = ("bahdanau", "luong", "none")
EMBEDDINGS = {"class_name": "RandomNormal", "config": {"stddev": 1.0}}  # as PyTorch's nn.Embedding: learns faster


def build_model(source_vocabulary: int, target_vocabulary: int, units: int = 256, embedding_dim: int = 256,
                cell: str = "gru", attention: str = "bahdanau", dtype: str = "float32",
                embeddings_initializer=EMBEDDINGS) -> Model:
    """The teacher-forced training model ``[source ids, target input ids] -> next-token probabilities``."""
    if cell not in CELLS:
        raise ConfigError(f"--cell must be one of {tuple(CELLS)}; got {cell!r}")
    if attention not in ATTENTIONS:
        raise ConfigError(f"--attention must be one of {ATTENTIONS}; got {attention!r}")
    recurrent = CELLS[cell]
    source = Input((None,), dtype="int64", name="source")
    target = Input((None,), dtype="int64", name="target_in")
    embedded = Embedding(source_vocabulary, embedding_dim, mask_zero=True, name="source_embedding",
                         dtype=dtype, embeddings_initializer=embeddings_initializer)(source)
    encoder = Bidirectional(recurrent(units, return_sequences=True, return_state=True, name="encoder_rnn",
                                      dtype=dtype), name="encoder", dtype=dtype)
    memory, *final = encoder(embedded)  # (B, S, 2U), forward states then backward states
    half = len(final) // 2
    states = [Add(name=f"bridge_{i}", dtype=dtype)([final[i], final[half + i]]) for i in range(half)]
    decoder_input = Embedding(target_vocabulary, embedding_dim, mask_zero=True, name="target_embedding",
                              dtype=dtype, embeddings_initializer=embeddings_initializer)(target)
    decoded = recurrent(units, return_sequences=True, name="decoder", dtype=dtype)(decoder_input,
                                                                                  initial_state=states)
    if attention == "none":
        joined = decoded
    else:
        if attention == "bahdanau":
            query = Dense(units, use_bias=False, name="query", dtype=dtype)(decoded)
            keys = Dense(units, name="keys", dtype=dtype)(memory)
            context = AdditiveAttention(name="attention", dtype=dtype)([query, memory, keys])
        else:
            query = Dense(2 * units, use_bias=False, name="query", dtype=dtype)(decoded)
            context = Attention(name="attention", dtype=dtype)([query, memory])
        joined = Concatenate(name="join", dtype=dtype)([decoded, context])  # (B, T, U + 2U)
    probabilities = Dense(target_vocabulary, activation="softmax", name="output", dtype=dtype)(joined)
    return Model([source, target], probabilities, name=f"translate_{cell}_{attention}")


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Translator:
    """The layers of a model made by :func:`build_model`, run for inference (no gradients)."""

    def __init__(self, model: Model):
        layers = {layer.name: layer for layer in model.layers}
        needed = ("source_embedding", "encoder", "target_embedding", "decoder", "output")
        missing = [name for name in needed if name not in layers]
        if missing:
            raise DataError(f"this model is not a translation model made by rnnkit translate (missing layers "
                            f"{missing})")
        self.layers = layers
        self.attention = "none" if "attention" not in layers else (
            "bahdanau" if isinstance(layers["attention"], AdditiveAttention) else "luong")
        self.bridges = sorted(name for name in layers if name.startswith("bridge_"))

    # ------------------------------------------------------------------------------------------ encoder
    def _encode_tensors(self, source_ids: np.ndarray):
        layers = self.layers
        embedded = layers["source_embedding"](np.asarray(source_ids))
        memory, *final = layers["encoder"](embedded)
        half = len(final) // 2
        states = [layers[name]([final[i], final[half + i]]) for i, name in enumerate(self.bridges)]
        keys = layers["keys"](memory) if self.attention == "bahdanau" else None
        return memory, states, keys

    def encode(self, source_ids: np.ndarray) -> list:
        """Decoder states for ``source_ids (N, S)`` (padded with 0): ``[states, memory, keys, source_mask]``
        as arrays, batch axis first (the form ``rnnkit.decoding`` reorders)."""
        source_ids = np.asarray(source_ids)
        with no_grad():
            memory, states, keys = self._encode_tensors(source_ids)
        mask = source_ids != 0
        return [[s.numpy() for s in states], memory.numpy(), None if keys is None else keys.numpy(), mask]

    # --------------------------------------------------------------------------------------------- step
    def _head(self, decoded, memory, keys, mask, return_scores=False):
        """Attention and output for decoder outputs ``decoded (N, T, U)``: (logits as Tensor, weights or None)."""
        layers = self.layers
        weights = None
        joined = decoded
        if self.attention != "none":
            query = layers["query"](decoded)
            inputs = [query, memory, keys] if keys is not None else [query, memory]
            context, weights = layers["attention"](inputs, mask=[None, mask], return_attention_scores=True)
            joined = layers["join"]([decoded, context])
        output = layers["output"]
        logits = joined @ output.kernel + output.bias  # (N, T, V): the output layer before its softmax
        return logits, weights

    def step(self, previous_ids: np.ndarray, states: list) -> tuple:
        """One decoder step for every row: ``(log-probabilities (N, V), new states)``."""
        recurrent_states, memory, keys, mask = states
        layers = self.layers
        with no_grad():
            embedded = layers["target_embedding"](np.asarray(previous_ids)[:, None])  # (N, 1, E)
            cell = layers["decoder"].cell
            output, new_states = cell(embedded[:, 0], [Tensor(s, dtype=cell.dtype) for s in recurrent_states])
            logits, _ = self._head(output.reshape(output.shape[0], 1, -1), Tensor(memory, dtype=memory.dtype),
                                   None if keys is None else Tensor(keys, dtype=keys.dtype), mask)
        log_probs = _log_softmax(logits.numpy()[:, 0].astype(np.float64))
        return log_probs, [[s.numpy() for s in new_states], memory, keys, mask]

    # ------------------------------------------------------------------------------------ teacher forced
    def teacher_forced(self, source_ids: np.ndarray, target_in: np.ndarray) -> tuple:
        """The training forward pass: ``(log-probabilities (N, T, V), attention weights (N, T, S) or None)``."""
        layers = self.layers
        with no_grad():
            memory, states, keys = self._encode_tensors(np.asarray(source_ids))
            decoded = layers["decoder"](layers["target_embedding"](np.asarray(target_in)), initial_state=states)
            logits, weights = self._head(decoded, memory, keys, np.asarray(source_ids) != 0)
        return _log_softmax(logits.numpy().astype(np.float64)), None if weights is None else weights.numpy()

    def attention_weights(self, source_ids: np.ndarray, output_ids: list) -> np.ndarray | None:
        """Attention weights ``(len(output_ids) + 1, S)`` of one sentence: rows for each output token and the
        end token, columns for the source tokens (None without attention)."""
        target_in = np.array([[START] + list(output_ids)])
        _, weights = self.teacher_forced(np.asarray(source_ids)[None], target_in)
        return None if weights is None else weights[0]
