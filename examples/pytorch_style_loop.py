"""Seed 000's PyTorch program ported to rnnkit: a subclassed model and a hand-written training loop.

Run: python examples/pytorch_style_loop.py  (uses the bundled MNIST sample; no network needed)
"""
import numpy as np

import rnnkit
from rnnkit.datasets import mnist_sample
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.losses import SparseCategoricalCrossentropy
from rnnkit.models import Model
from rnnkit.optimizers import Adam

# Hyper-parameters (as in the seed)
input_size = 28  # features per time step: one row of the image
sequence_length = 28  # time steps: the rows
hidden_size = 32
num_classes = 10
batch_size = 64
num_epochs = 10
learning_rate = 0.001


def batches(x, y, batch_size, shuffle, rng):
    """Yield (images, labels) mini-batches, like torch.utils.data.DataLoader."""
    order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


class RNN(Model):
    def __init__(self, hidden_size, num_classes):
        super().__init__()
        self.rnn = SimpleRNN(hidden_size, return_sequences=True)
        self.fc = Dense(num_classes)

    def call(self, x):
        out = self.rnn(x)  # (batch, time, hidden); h0 defaults to zeros
        return self.fc(out[:, -1, :])  # the last time step -> class scores (logits)


def main(num_epochs=num_epochs, limit=None, seed=0):
    rnnkit.utils.set_random_seed(seed)  # weights; the batches use rng below
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    if limit is not None:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[: limit // 4], y_test[: limit // 4]
    x_train = (x_train / 255.0).astype("float32")
    x_test = (x_test / 255.0).astype("float32")

    model = RNN(hidden_size, num_classes)
    model.build((None, sequence_length, input_size))
    criterion = SparseCategoricalCrossentropy(from_logits=True)
    optimizer = Adam(model.parameters(), lr=learning_rate)

    steps = -(-len(x_train) // batch_size)
    for epoch in range(num_epochs):
        for i, (images, labels) in enumerate(batches(x_train, y_train, batch_size, True, rng)):
            images = images.reshape(-1, sequence_length, input_size)  # (B, 28, 28): rows as time steps
            outputs = model(images)  # forward
            loss = criterion(labels, outputs)  # note Keras' argument order: (y_true, y_pred)
            optimizer.zero_grad()  # clear gradients
            loss.backward()  # back-propagation through time
            optimizer.step()  # update weights and biases
            if (i + 1) % 100 == 0:
                print(f"Epoch [{epoch + 1}/{num_epochs}], Step [{i + 1}/{steps}], Loss: {loss.item():.4f}")

    correct = total = 0
    with rnnkit.no_grad():
        for images, labels in batches(x_test, y_test, batch_size, False, rng):
            outputs = model(images.reshape(-1, sequence_length, input_size))
            predicted = np.argmax(outputs.numpy(), axis=1)
            total += len(labels)
            correct += int((predicted == labels).sum())
    accuracy = 100 * correct / total
    print(f"Accuracy of the model on the test images: {accuracy} %")
    return accuracy


if __name__ == "__main__":
    main()
