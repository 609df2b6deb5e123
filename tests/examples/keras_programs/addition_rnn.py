"""Keras' "Sequence to sequence learning for performing number addition" example (an LSTM encoder, RepeatVector,
an LSTM decoder), at a small size. Written for Keras; the test runs it with ``keras`` replaced by ``rnnkit``."""
import numpy as np
import keras
from keras import layers

TRAINING_SIZE, DIGITS, REVERSE = 600, 3, True
MAXLEN = DIGITS + 1 + DIGITS

class CharacterTable:
    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))
    def encode(self, C, num_rows):
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x
    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)

chars = "0123456789+ "
ctable = CharacterTable(chars)
questions, expected, seen = [], [], set()
rng = np.random.default_rng(0)


def f():
    return int("".join(rng.choice(list("0123456789")) for i in range(rng.integers(1, DIGITS + 1))))


while len(questions) < TRAINING_SIZE:
    a, b = f(), f()
    key = tuple(sorted((a, b)))
    if key in seen:
        continue
    seen.add(key)
    q = "{}+{}".format(a, b)
    query = q + " " * (MAXLEN - len(q))
    ans = str(a + b)
    ans += " " * (DIGITS + 1 - len(ans))
    if REVERSE:
        query = query[::-1]
    questions.append(query)
    expected.append(ans)
x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
for i, sentence in enumerate(questions):
    x[i] = ctable.encode(sentence, MAXLEN)
for i, sentence in enumerate(expected):
    y[i] = ctable.encode(sentence, DIGITS + 1)
split_at = len(x) - len(x) // 10
(x_train, x_val), (y_train, y_val) = (x[:split_at], x[split_at:]), (y[:split_at], y[split_at:])

num_layers = 1
model = keras.Sequential()
model.add(layers.Input((MAXLEN, len(chars))))
model.add(layers.LSTM(128))
model.add(layers.RepeatVector(DIGITS + 1))
for _ in range(num_layers):
    model.add(layers.LSTM(128, return_sequences=True))
model.add(layers.Dense(len(chars), activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.summary()
for epoch in range(1, 3):
    model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val), verbose=2)
    preds = np.argmax(model.predict(x_val[:3], verbose=0), axis=-1)
    print(ctable.decode(x_val[0])[::-1], "->", ctable.decode(preds[0], calc_argmax=False))
loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
print(f"RESULT val_accuracy={accuracy:.4f}")
