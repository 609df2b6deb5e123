# Seed 000's Keras program, with the word `keras` replaced by `rnnkit` and nothing else changed.
# mnist.load_data() downloads MNIST once into ~/.cache/rnnkit (or reads RNNKIT_DATA); offline, use
# rnnkit.datasets.mnist_sample (bundled) or fashion_mnist instead.
from rnnkit.datasets import mnist  # 从keras.datasets中导入MNIST数据集
from rnnkit.models import Sequential  # 导入Sequential模型
from rnnkit.layers import SimpleRNN, Dense  # 导入SimpleRNN层和Dense层
from rnnkit.utils import to_categorical  # 导入to_categorical函数

# 加载MNIST数据集
(x_train, y_train), (x_test, y_test) = mnist.load_data()

# 数据预处理,将每个像素点的值归一化到0到1之间,并将标签进行独热编码
x_train = x_train.reshape(-1, 28, 28) / 255.0
x_test = x_test.reshape(-1, 28, 28) / 255.0
y_train = to_categorical(y_train)
y_test = to_categorical(y_test)

# 定义一个简单的循环神经网络模型
model = Sequential()  # 定义顺序模型
model.add(SimpleRNN(units=32, input_shape=(28, 28)))  # 添加SimpleRNN层
model.add(Dense(units=10, activation='softmax'))  # 添加全连接层
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])  # 编译模型,指定损失函数、优化器和评价指标

# 训练模型
model.fit(x_train, y_train, batch_size=64, epochs=10, validation_data=(x_test, y_test))

# 使用测试数据集对模型进行测试
loss, accuracy = model.evaluate(x_test, y_test)
print('Test loss:', loss)
print('Test accuracy:', accuracy)
