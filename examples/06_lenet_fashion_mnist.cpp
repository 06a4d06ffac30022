// LeNet-5 on Fashion-MNIST: a convolutional network whose every image shape is checked by the compiler.
// The recipe of bench/train_pytorch.py --model lenet (its PyTorch reference): He init over the fan-in, zero
// biases, Adam lr 1e-3, batch 64, 10 epochs, one thread.
//   06_lenet_fashion_mnist [epochs [seed]]     (default 10 epochs, seed 0)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <typenet/typenet.hpp>

using namespace typenet;
using LeNet = Network<Input<1, 28, 28>,                           // 1 x 28 x 28
                      Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>,  // 6 x 28 x 28, then 6 x 14 x 14
                      Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,       // 16 x 10 x 10, then 16 x 5 x 5
                      Flatten,                                    // 400
                      Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;

int main(int argc, char** argv) {
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
  const TrainTestSets data = load_fashion_mnist();  // Debian's dataset-fashion-mnist
  LeNet net{HeNormal{.seed = seed}};
  Trainer trainer(net, Adam{.learning_rate = 1e-3});
  double training_seconds = 0;
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const EpochStats stats = train_epoch<64>(trainer, data.train, seed, epoch);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    training_seconds += seconds;
    std::printf("epoch %zu: loss %.4f, test accuracy %.2f%% (%.1f s)\n", epoch + 1, stats.mean_loss,
                100 * accuracy(net, data.test), seconds);
  }
  std::printf("LeNet-5: test accuracy %.2f%%, training %.1f s\n", 100 * accuracy(net, data.test),
              training_seconds);
}
