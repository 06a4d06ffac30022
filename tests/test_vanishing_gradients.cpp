// The effect the notes describe (seed 001: vanishing gradients and their remedies), on the networks of
// examples/07_vanishing_gradients.cpp: on the first 256 Fashion-MNIST training images at He init, the deep
// sigmoid network's first-layer weight gradient is at least 100x smaller than its last layer's, while with
// ReLU, with BatchNorm before each sigmoid and with residual blocks the two stay within 10x of each other.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

#include "../examples/deep_nets.hpp"

using namespace typenet;

namespace {

const TrainTestSets& fashion_mnist() {
  static const TrainTestSets data = load_fashion_mnist();  // Debian's dataset-fashion-mnist
  return data;
}

// ||dL/dW|| of the ten Dense layers, first to last.
template <class Net>
std::vector<double> first_batch_norms() {
  const Dataset& train = fashion_mnist().train;
  Matrix<float, 256, 784> x;
  std::copy_n(train.image(0), x.size, x.data());
  Labels<256> labels{};
  for (std::size_t r = 0; r < 256; ++r) labels[r] = train.labels[r];
  Net net{HeNormal{.seed = 0}};
  const std::vector<double> norms =
      deep_nets::weight_gradient_norms<Net>(compute_gradients(net, x, labels).parameters);
  REQUIRE(norms.size() == 10);
  return norms;
}

}  // namespace

TEST_CASE("a deep sigmoid network's gradient vanishes toward its first layer", "[vanishing]") {
  const std::vector<double> norms = first_batch_norms<deep_nets::DeepSigmoid>();
  INFO("first " << norms.front() << ", last " << norms.back());
  CHECK(norms.front() * 100 <= norms.back());
  // It shrinks on the way back at every layer but the first two (whose inputs differ: pixels, not sigmoids).
  for (std::size_t i = 2; i < 10; ++i) CHECK(norms[i - 1] < norms[i]);
}

TEST_CASE("ReLU, BatchNorm and residual blocks keep the first layer's gradient within 10x of the last's",
          "[vanishing]") {
  const auto within_ten = [](const std::vector<double>& norms) {
    INFO("first " << norms.front() << ", last " << norms.back());
    CHECK(norms.front() * 10 >= norms.back());
    CHECK(norms.front() <= norms.back() * 10);
  };
  SECTION("ReLU") {
    within_ten(first_batch_norms<deep_nets::DeepReLU>());
  }
  SECTION("sigmoid + BatchNorm") {
    within_ten(first_batch_norms<deep_nets::DeepSigmoidBatchNorm>());
  }
  SECTION("sigmoid + residual blocks") {
    within_ten(first_batch_norms<deep_nets::DeepSigmoidResidual>());
  }
}
