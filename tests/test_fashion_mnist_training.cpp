// Real training: one epoch on the first 5,000 Fashion-MNIST training images must beat 70% on the first
// 1,000 test images. The data must be installed (Debian: dataset-fashion-mnist); a missing directory is a
// failure, not a skip, so CI cannot pass without having trained.
#include <catch2/catch.hpp>
#include <filesystem>

#include "typenet/io/idx.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/evaluate.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/trainer.hpp"

using namespace typenet;

TEST_CASE("one epoch on 5,000 Fashion-MNIST images beats 70% test accuracy") {
  REQUIRE(std::filesystem::is_directory(default_fashion_mnist_dir));
  const TrainTestSets sets = load_fashion_mnist();
  REQUIRE(sets.train.count == 60000);
  REQUIRE(sets.test.count == 10000);
  const Dataset train = first_samples(sets.train, 5000);
  const Dataset test = first_samples(sets.test, 1000);

  using Net =
      Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 42}};
  Trainer trainer(net, Adam{.learning_rate = 1e-3});
  const double before = accuracy(net, test);
  const EpochStats stats = train_epoch<16>(trainer, train, 42, 0);
  const double after = accuracy(net, test);
  CAPTURE(before, after, stats.mean_loss);
  REQUIRE(stats.samples == 5000);
  REQUIRE(after > 0.70);
}
