"""A forecasting program in the style of Keras' "Timeseries forecasting for weather prediction" example, fed by a
``keras.utils.PyDataset`` and a generator, with EarlyStopping, ModelCheckpoint (weights in Keras' HDF5 layout),
CSVLogger and ReduceLROnPlateau. Written for Keras; the test runs it with ``keras`` replaced by ``rnnkit``."""
import math

import numpy as np
import keras

rng = np.random.default_rng(0)
t = np.arange(3000, dtype="float32")
series = np.sin(t / 20.0) + 0.1 * rng.standard_normal(t.shape).astype("float32")
past, future = 30, 1
windows = np.stack([series[i:i + past] for i in range(len(series) - past - future)])[..., None]
targets = series[past + future - 1:len(series) - 1][:, None]
split = int(0.8 * len(windows))


class Windows(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        low = idx * self.batch_size
        high = min(low + self.batch_size, len(self.x))
        return self.x[low:high], self.y[low:high]


def validation_batches():
    while True:
        for low in range(split, len(windows), 128):
            yield windows[low:low + 128], targets[low:low + 128]


inputs = keras.layers.Input(shape=(past, 1))
lstm_out = keras.layers.LSTM(16)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=2),
    keras.callbacks.ModelCheckpoint(monitor="val_loss", filepath="model_checkpoint.weights.h5", verbose=0,
                                    save_weights_only=True, save_best_only=True),
    keras.callbacks.CSVLogger("training.csv"),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
]
history = model.fit(Windows(windows[:split], targets[:split], 64), epochs=3,
                    validation_data=validation_batches(), validation_steps=math.ceil((len(windows) - split) / 128),
                    callbacks=callbacks, verbose=2)
model.load_weights("model_checkpoint.weights.h5")
val_loss = model.evaluate(windows[split:], targets[split:], verbose=0)
print(open("training.csv").read().splitlines()[0])
print(f"RESULT val_loss={val_loss:.4f}")
