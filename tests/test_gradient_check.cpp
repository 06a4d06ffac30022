// The backward pass against central differences (seed 000 §4.3.5): the full 784-256-128-10 network on a
// sample of every tensor, small networks on every parameter for each activation, loss and target form, and
// proof that the check is not vacuous (a wrong gradient fails it).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

using test::random_matrix;

// Soft targets: each row a probability distribution (or, with one_hot, the class of Labels).
template <std::size_t R, std::size_t C>
Matrix<double, R, C> distribution_rows(std::uint64_t seed) {
  Matrix<double, R, C> m;
  NormalSource source(seed);
  for (std::size_t r = 0; r < R; ++r) {
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += m(r, c) = source.uniform();
    for (std::size_t c = 0; c < C; ++c) m(r, c) /= sum;
  }
  return m;
}

template <std::size_t R, std::size_t C>
Matrix<double, R, C> one_hot(const Labels<R>& labels) {
  Matrix<double, R, C> m;
  for (std::size_t r = 0; r < R; ++r) m(r, labels[r]) = 1;
  return m;
}

// The smallest |z| over the pre-activations of every ReLU stage: ReLU has a kink at 0, where central
// differences straddling it are meaningless. The forward pass is rebuilt here in plain loops.
template <class Net, std::size_t B>
double closest_relu_pre_activation(const Net& net, const Matrix<double, B, Net::input_width>& x) {
  std::vector<double> in(x.data(), x.data() + x.size);
  double closest = std::numeric_limits<double>::infinity();
  detail::for_each_index<Net::stage_count>([&](auto k) {
    constexpr std::size_t K = decltype(k)::value;
    using S = typename Net::template stage<K>;
    const auto& p = net.template layer<S::position>();
    std::vector<double> out(B * S::output_width);
    for (std::size_t r = 0; r < B; ++r)
      for (std::size_t c = 0; c < S::output_width; ++c) {
        double z = p.bias(0, c);
        for (std::size_t i = 0; i < S::input_width; ++i) z += in[r * S::input_width + i] * p.weights(i, c);
        double a = z;
        if constexpr (S::activation == kernels::Activation::relu) {
          closest = std::min(closest, std::abs(z));
          a = z > 0 ? z : 0;
        } else if constexpr (S::activation == kernels::Activation::leaky_relu) {
          closest = std::min(closest, std::abs(z));
          a = z > 0 ? z : kernels::leaky_relu_slope * z;
        } else if constexpr (S::activation == kernels::Activation::sigmoid) {
          a = 1 / (1 + std::exp(-z));
        } else if constexpr (S::activation == kernels::Activation::tanh) {
          a = std::tanh(z);
        }
        out[r * S::output_width + c] = a;
      }
    in = out;
  });
  return closest;
}

template <class Net>
std::vector<double> parameter_values(Net& net) {
  std::vector<double> values;
  net.for_each_parameter_tensor([&](auto tensor) {
    for (double v : tensor.values) values.push_back(v);
  });
  return values;
}

// Every tensor checked on every entry and below the tolerance.
void require_full_check(const GradientCheckReport& report, double tolerance) {
  INFO(report);
  for (const TensorGradientCheck& t : report.tensors) CHECK(t.checked == t.rows * t.cols);
  CHECK(report.passed(tolerance));
  CHECK(report.worst_relative_difference < tolerance);
}

}  // namespace

TEST_CASE("Gradient check: 784-256-128-10 sigmoid MLP in double, a sample of every tensor",
          "[gradient_check]") {
  using Mlp = BasicNetwork<double, Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>,
                           SoftmaxCrossEntropy>;
  Mlp net{HeNormal{.seed = 42}};
  const auto x = random_matrix<double, 4, 784>(1);
  const Labels<4> labels = {7, 2, 0, 9};
  const GradientCheckReport report = gradient_check(net, x, labels, {.samples_per_tensor = 40, .seed = 5});
  INFO(report);
  REQUIRE(report.tensors.size() == 6);
  const std::size_t shapes[6][2] = {{784, 256}, {1, 256}, {256, 128}, {1, 128}, {128, 10}, {1, 10}};
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(report.tensors[i].layer == 2 * (i / 2));  // Dense layers at 0, 2 and 4
    CHECK(report.tensors[i].kind == (i % 2 == 0 ? TensorKind::weights : TensorKind::bias));
    CHECK(report.tensors[i].rows == shapes[i][0]);
    CHECK(report.tensors[i].cols == shapes[i][1]);
    CHECK(report.tensors[i].checked == std::min<std::size_t>(40, shapes[i][0] * shapes[i][1]));
    CHECK(report.tensors[i].relative_difference < 1e-6);
  }
  CHECK(report.passed(1e-6));
}

TEST_CASE("Gradient check: 5-4-3 sigmoid, softmax-CE, labels / one-hot / soft targets, every parameter",
          "[gradient_check]") {
  using Net = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 3}};
  const auto x = random_matrix<double, 6, 5>(11);
  const Labels<6> labels = {0, 2, 1, 1, 0, 2};
  require_full_check(gradient_check(net, x, labels), 1e-7);
  require_full_check(gradient_check(net, x, one_hot<6, 3>(labels)), 1e-7);
  require_full_check(gradient_check(net, x, distribution_rows<6, 3>(12)), 1e-7);
}

TEST_CASE("Gradient check: a step h that is not positive is an ArgumentError naming it", "[gradient_check]") {
  using Net = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 3}};
  const auto x = random_matrix<double, 6, 5>(11);
  const Labels<6> labels = {0, 2, 1, 1, 0, 2};
  REQUIRE_THROWS_AS(gradient_check(net, x, labels, {.h = 0}), ArgumentError);
  REQUIRE_THROWS_WITH(gradient_check(net, x, labels, {.h = -1e-3}), Catch::Contains("h must be positive"));
}

TEST_CASE("Gradient check: ReLU networks away from the kink, every parameter", "[gradient_check]") {
  SECTION("5-4-3, softmax-CE with labels") {
    using Net = BasicNetwork<double, Dense<5, 4>, ReLU, Dense<4, 3>, SoftmaxCrossEntropy>;
    Net net{HeNormal{.seed = 4}};
    const auto x = random_matrix<double, 6, 5>(21);
    REQUIRE(closest_relu_pre_activation(net, x) > 1e-2);  // h = 1e-4 never crosses 0
    require_full_check(gradient_check(net, x, Labels<6>{2, 0, 1, 2, 1, 0}), 1e-7);
  }
  SECTION("5-4-4-3, two ReLU layers, MSE") {
    using Net = BasicNetwork<double, Dense<5, 4>, ReLU, Dense<4, 4>, ReLU, Dense<4, 3>, MeanSquaredError>;
    Net net{HeNormal{.seed = 5}};
    const auto x = random_matrix<double, 6, 5>(31);
    REQUIRE(closest_relu_pre_activation(net, x) > 1e-2);
    require_full_check(gradient_check(net, x, random_matrix<double, 6, 3>(32)), 1e-7);
  }
}

TEST_CASE("Gradient check: Tanh and LeakyReLU layers, every parameter", "[gradient_check]") {
  SECTION("5-4-4-3, two Tanh layers, softmax-CE") {
    using Net = BasicNetwork<double, Dense<5, 4>, Tanh, Dense<4, 4>, Tanh, Dense<4, 3>, SoftmaxCrossEntropy>;
    Net net{XavierNormal{.seed = 12}};
    require_full_check(gradient_check(net, random_matrix<double, 6, 5>(61), Labels<6>{2, 0, 1, 2, 1, 0}),
                       1e-7);
  }
  SECTION("5-4-4-3, two LeakyReLU layers (negative pre-activations included), MSE") {
    using Net =
        BasicNetwork<double, Dense<5, 4>, LeakyReLU, Dense<4, 4>, LeakyReLU, Dense<4, 3>, MeanSquaredError>;
    Net net{HeNormal{.seed = 13}};
    // The first input seed whose pre-activations all keep 1e-2 from the kink (h = 1e-4 never crosses it).
    std::uint64_t seed = 62;
    while (closest_relu_pre_activation(net, random_matrix<double, 6, 5>(seed)) <= 1e-2 && seed < 100) ++seed;
    const auto x = random_matrix<double, 6, 5>(seed);
    REQUIRE(closest_relu_pre_activation(net, x) > 1e-2);
    // The check is not vacuous: some pre-activations are negative, where the slope is 0.01.
    const auto& first = net.layer<0>();
    std::size_t negative = 0;
    for (std::size_t r = 0; r < 6; ++r)
      for (std::size_t c = 0; c < 4; ++c) {
        double z = first.bias(0, c);
        for (std::size_t i = 0; i < 5; ++i) z += x(r, i) * first.weights(i, c);
        negative += z < 0;
      }
    CHECK(negative > 0);
    require_full_check(gradient_check(net, x, random_matrix<double, 6, 3>(63)), 1e-7);
  }
  SECTION("a Conv2D with LeakyReLU, and Tanh after a Dense, softmax-CE") {
    using Net = BasicNetwork<double, Input<1, 5, 5>, Conv2D<1, 2, 3>, LeakyReLU, Flatten, Dense<18, 4>, Tanh,
                             Dense<4, 3>, SoftmaxCrossEntropy>;
    Net net{HeNormal{.seed = 14}};
    require_full_check(gradient_check(net, random_matrix<double, 4, 25>(64), Labels<4>{0, 2, 1, 1}), 1e-6);
  }
}

TEST_CASE("Gradient check: MSE with sigmoid hidden and sigmoid output layers, every parameter",
          "[gradient_check]") {
  using Hidden = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, MeanSquaredError>;
  Hidden hidden{HeNormal{.seed = 6}};
  const auto x = random_matrix<double, 6, 5>(41);
  require_full_check(gradient_check(hidden, x, random_matrix<double, 6, 3>(42)), 1e-7);

  // The loss sees the output sigmoid: its derivative is part of the output gradient.
  using Output = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, Sigmoid, MeanSquaredError>;
  Output output{XavierNormal{.seed = 7}};
  require_full_check(gradient_check(output, x, distribution_rows<6, 3>(43)), 1e-7);
}

TEST_CASE("Gradient check: a wrong analytic gradient fails", "[gradient_check]") {
  using Net = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 8}};
  const auto x = random_matrix<double, 6, 5>(51);
  const Labels<6> labels = {1, 1, 0, 2, 2, 0};
  NetworkGradients<Net> gradients = compute_gradients(net, x, labels);
  REQUIRE(gradient_check(net, x, labels, gradients.parameters).passed(1e-7));

  SECTION("one bias entry off by 1%") {
    auto& bias = gradients.parameters.layer<2>().bias;
    bias(0, 1) *= 1.01;
    const GradientCheckReport report = gradient_check(net, x, labels, gradients.parameters);
    INFO(report);
    CHECK_FALSE(report.passed(1e-7));
    CHECK(report.worst().layer == 2);
    CHECK(report.worst().kind == TensorKind::bias);
    CHECK(report.worst_relative_difference > 1e-4);
    CHECK(report.tensors[0].relative_difference < 1e-7);  // the other tensors still agree
    CHECK(report.tensors[2].relative_difference < 1e-7);
  }
  SECTION("a weight gradient left at zero") {
    gradients.parameters.layer<0>().weights.fill(0);
    const GradientCheckReport report = gradient_check(net, x, labels, gradients.parameters);
    CHECK(report.worst().layer == 0);
    CHECK(report.worst().kind == TensorKind::weights);
    CHECK(report.worst_relative_difference == Approx(1.0));  // ||0 - n|| / (0 + ||n||)
  }
  SECTION("a NaN is never a pass") {
    gradients.parameters.layer<0>().bias(0, 0) = std::numeric_limits<double>::quiet_NaN();
    const GradientCheckReport report = gradient_check(net, x, labels, gradients.parameters);
    CHECK_FALSE(report.passed(1e-7));
    CHECK(std::isnan(report.worst_relative_difference));
    CHECK(report.worst().kind == TensorKind::bias);
  }
}

TEST_CASE("Gradient check: sampling is deterministic and leaves the network as it was", "[gradient_check]") {
  using Net = BasicNetwork<double, Dense<20, 16>, Sigmoid, Dense<16, 4>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 9}};
  const auto x = random_matrix<double, 3, 20>(61);
  const Labels<3> labels = {3, 0, 1};
  const std::vector<double> before = parameter_values(net);
  const GradientCheckOptions options{.samples_per_tensor = 10, .seed = 77};
  const GradientCheckReport a = gradient_check(net, x, labels, options);
  const GradientCheckReport b = gradient_check(net, x, labels, options);
  CHECK(parameter_values(net) == before);  // bit for bit
  REQUIRE(a.tensors.size() == 4);
  CHECK(a.tensors[0].checked == 10);
  CHECK(a.tensors[1].checked == 10);
  CHECK(a.tensors[3].checked == 4);  // fewer entries than samples: all of them
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(a.tensors[i].relative_difference == b.tensors[i].relative_difference);
  CHECK(a.passed(1e-7));

  std::ostringstream printed;
  printed << a;
  CHECK(printed.str().find("0      Dense<20, 16>       weights  (20, 16)      10") != std::string::npos);
  CHECK(printed.str().find("Worst relative difference") != std::string::npos);
}

TEST_CASE("Gradient check works for float networks at float precision", "[gradient_check]") {
  using Net = Network<Dense<5, 4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 10}};
  const auto x = random_matrix<float, 6, 5>(71);
  const GradientCheckReport report = gradient_check(net, x, Labels<6>{0, 1, 2, 0, 1, 2}, {.h = 1e-2});
  INFO(report);
  CHECK(report.passed(1e-2));
}

TEST_CASE("loss() is the forward-only loss the backward pass reports", "[gradient_check]") {
  using Net = BasicNetwork<double, Dense<5, 4>, ReLU, Dense<4, 3>, MeanSquaredError>;
  Net net{HeNormal{.seed = 11}};
  const auto x = random_matrix<double, 6, 5>(81);
  const auto t = random_matrix<double, 6, 3>(82);
  const double forward_only = loss(net, x, t);
  CHECK(forward_only > 0);
  CHECK(forward_only == Approx(compute_gradients(net, x, t).loss).epsilon(1e-14));

  using Classifier = BasicNetwork<double, Dense<5, 3>, SoftmaxCrossEntropy>;
  Classifier classifier;
  CHECK_THROWS_AS(loss(classifier, x, Labels<6>{0, 1, 2, 3, 0, 1}), LabelError);  // 3 is no class
}
