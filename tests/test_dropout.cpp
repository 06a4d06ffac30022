// Dropout: the identity at inference, a seeded inverted-dropout mask in training (the rate's fraction of
// values dropped, the rest scaled by 1 / (1 - rate)), the same mask in backward, the same weights for the same
// seed, and a gradient check in double through the mask.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;
using test::random_matrix;

namespace {
using WithDropout = Network<Dense<16, 64>, ReLU, Dropout<25>, Dense<64, 4>, SoftmaxCrossEntropy>;
using WithoutDropout = Network<Dense<16, 64>, ReLU, Dense<64, 4>, SoftmaxCrossEntropy>;
const Labels<32> labels = [] {
  Labels<32> l{};
  for (std::size_t r = 0; r < 32; ++r) l[r] = std::uint32_t(r % 4);
  return l;
}();
}  // namespace

TEST_CASE("Dropout is the identity in predict, and names itself with its rate", "[dropout]") {
  const WithDropout a{HeNormal{.seed = 1}};
  WithoutDropout b{HeNormal{.seed = 1}};
  b.layer<0>() = a.layer<0>();
  b.layer<2>() = a.layer<3>();
  const auto x = random_matrix<float, 32, 16>(2);
  const auto pa = a.predict(x), pb = b.predict(x);
  CHECK(std::equal(pa.values().begin(), pa.values().end(), pb.values().begin()));
  CHECK(Dropout<25>::name() == "Dropout<25>");
  CHECK(Dropout<1, 3>::name() == "Dropout<1, 3>");
  CHECK(detail::network_text<WithDropout>() ==
        "Dense<16, 64>, ReLU, Dropout<25>, Dense<64, 4>, SoftmaxCrossEntropy");
}

TEST_CASE("Dropout in training drops the rate's fraction and scales the rest by 1 / (1 - rate)",
          "[dropout]") {
  constexpr std::size_t rows = 64, size = 512;
  const auto in = random_matrix<float, rows, size>(3);
  Matrix<float, rows, size> out;
  const LayerContext<float> ctx{.training = true, .random = 12345};
  Dropout<25>::forward(NoParameters{}, in.view(), out.view(), ctx);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < rows * size; ++i) {
    if (out.data()[i] == 0 && in.data()[i] != 0)
      ++dropped;
    else
      CHECK(out.data()[i] == in.data()[i] * float(1 / 0.75));
  }
  const double n = rows * size, expected = 0.25 * n, sigma = std::sqrt(n * 0.25 * 0.75);
  INFO("dropped " << dropped << " of " << n);
  CHECK(std::abs(double(dropped) - expected) < 5 * sigma);

  // Backward drops the same values (the gradient goes where the value went), and another seed another set.
  Matrix<float, rows, size> d_in, other;
  Dropout<25>::backward_input(NoParameters{}, MatrixView<const float, rows, size>(in.data()), in.view(),
                              d_in.view(), ctx);
  CHECK(std::equal(d_in.values().begin(), d_in.values().end(), out.values().begin()));
  Dropout<25>::forward(NoParameters{}, in.view(), other.view(),
                       LayerContext<float>{.training = true, .random = 54321});
  CHECK(!std::equal(other.values().begin(), other.values().end(), out.values().begin()));
}

TEST_CASE("Dropout: the same seed gives the same weights bit for bit, another seed other weights",
          "[dropout]") {
  const auto x = random_matrix<float, 32, 16>(4);
  auto train = [&](std::uint64_t seed) {
    WithDropout net{HeNormal{.seed = 5}};
    Trainer trainer(net, Adam{.learning_rate = 0.01}, TrainerOptions{.seed = seed});
    for (int i = 0; i < 5; ++i) trainer.step(x, labels);
    return test::parameter_bits(net);
  };
  CHECK(train(7) == train(7));
  CHECK(train(7) != train(8));
}

TEST_CASE("Gradient check through Dropout in double: the mask of the step is part of the function",
          "[dropout][gradient_check]") {
  using Net = BasicNetwork<double, Dense<5, 8>, Sigmoid, Dropout<30>, Dense<8, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 6}};
  const auto x = random_matrix<double, 6, 5>(7);
  const GradientCheckReport report = gradient_check(net, x, Labels<6>{0, 1, 2, 2, 1, 0});
  INFO(report);
  for (const TensorGradientCheck& t : report.tensors) CHECK(t.checked == t.rows * t.cols);
  CHECK(report.passed(1e-7));
  // Not vacuous: the checked loss is the training pass's, with values dropped, not the inference loss.
  const Labels<6> y{0, 1, 2, 2, 1, 0};
  detail::LossEvaluator<Net, 6> training_loss(detail::step_random_seed(0, 1));
  CHECK(training_loss(net, x.view(), y) != typenet::loss(net, x, y));
  CHECK(compute_gradients(net, x, y).loss == Approx(training_loss(net, x.view(), y)).epsilon(1e-12));
}

TEST_CASE("A network with Dropout learns (tests/test_no_allocation.cpp checks its step allocates nothing)",
          "[dropout]") {
  WithDropout net{HeNormal{.seed = 9}};
  Trainer trainer(net, SGD{.learning_rate = 0.1}, TrainerOptions{.seed = 1});
  const auto x = random_matrix<float, 32, 16>(10);
  const float first = trainer.step(x, labels);
  float last = first;
  for (int i = 0; i < 200; ++i) last = trainer.step(x, labels);
  CHECK(last < first);
}
