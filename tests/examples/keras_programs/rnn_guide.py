"""Pieces of Keras' guide "Working with RNNs": built-in layers, outputs and states, an encoder-decoder with
``initial_state``, Bidirectional, a stateful layer with ``reset_states``, and a stack of custom cells through
``keras.layers.RNN``, saved to ``custom_cell.keras`` and loaded back. Written for Keras; the test runs it with
``keras`` replaced by ``rnnkit``."""
import numpy as np
import keras
from keras import layers, ops

model = keras.Sequential()
model.add(keras.Input(shape=(None,), dtype="int32"))
model.add(layers.Embedding(input_dim=1000, output_dim=64))
model.add(layers.LSTM(128))
model.add(layers.Dense(10))
model.summary()

# encoder-decoder: the encoder's states start the decoder
encoder_vocab, decoder_vocab = 1000, 2000
encoder_input = layers.Input(shape=(None,))
encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
encoder_state = [state_h, state_c]
decoder_input = layers.Input(shape=(None,))
decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
output = layers.Dense(10)(decoder_output)
seq2seq = keras.Model([encoder_input, decoder_input], output)
seq2seq.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
rng = np.random.default_rng(0)
history = seq2seq.fit([rng.integers(0, encoder_vocab, (64, 7)), rng.integers(0, decoder_vocab, (64, 5))],
                      rng.integers(0, 10, 64), batch_size=16, epochs=1, verbose=0)
print("seq2seq loss", history.history["loss"][-1])

# Bidirectional
bi = keras.Sequential()
bi.add(keras.Input(shape=(5, 10)))
bi.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True)))
bi.add(layers.Bidirectional(layers.LSTM(32)))
bi.add(layers.Dense(10))
print("bidirectional", bi(np.ones((2, 5, 10), "float32")).shape)

# a stateful layer over three slices of one long sequence
paragraph1, paragraph2, paragraph3 = (rng.random((20, 10, 50)).astype(np.float32) for _ in range(3))
lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
output = lstm_layer(paragraph3)
lstm_layer.reset_states()
print("stateful", tuple(output.shape))


# a custom cell (the example of keras.layers.RNN's documentation), registered by name for saving
@keras.saving.register_keras_serializable(package="guide")
class MinimalRNNCell(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


cells = [MinimalRNNCell(32), MinimalRNNCell(64)]
inputs = keras.Input((None, 5))
outputs = layers.Dense(1)(layers.RNN(cells)(inputs))
custom = keras.Model(inputs, outputs)
custom.compile(loss="mse", optimizer="adam")
x, y = rng.random((32, 6, 5)).astype("float32"), rng.random((32, 1)).astype("float32")
custom.fit(x, y, epochs=2, batch_size=8, verbose=0)
loss = custom.evaluate(x, y, verbose=0)
print(f"RESULT custom_cell_loss={loss:.4f}")

# save the model with the custom cells and load it back (the registration above makes the cell loadable)
custom.save("custom_cell.keras")
reloaded = keras.models.load_model("custom_cell.keras")
difference = np.max(np.abs(np.asarray(reloaded.predict(x, verbose=0)) - np.asarray(custom.predict(x, verbose=0))))
print(f"RESULT custom_cell_reload_difference={difference:.3g}")
