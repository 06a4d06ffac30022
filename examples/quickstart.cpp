// The README's example: the 784-256-128-10 network as a type, trained on Fashion-MNIST.
#include <cstdio>
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

int main() {
  const TrainTestSets data = load_fashion_mnist();  // Debian's dataset-fashion-mnist
  Net net{HeNormal{.seed = 42}};                    // W ~ N(0, 2/fan_in), b = 0
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    const EpochStats stats = train_epoch<32>(trainer, data.train, /*seed=*/42, epoch);  // shuffled, batch 32
    std::printf("epoch %zu: loss %.4f, test accuracy %.2f%%\n", epoch + 1, stats.mean_loss,
                100 * accuracy(net, data.test));
  }
}
