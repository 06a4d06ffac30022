// Convolutional networks: the shapes LeNet-5 gets from its types, every new layer's gradients against
// central differences in double (and the whole LeNet's), training, saving and loading.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "support.hpp"
#include "typenet/kernels/reference.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

using LeNet =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,
            Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;
template <class T>
using BasicLeNet = BasicNetwork<T, Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>,
                                Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>, Flatten, Dense<400, 120>, ReLU,
                                Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;

using test::random_matrix;

// How close the forward pass comes to a kink, where central differences mean nothing: the smallest |z| at a
// ReLU, and the smallest gap between the maximum of a pooling window and the runner-up (windows whose
// maximum is a ReLU zero excepted: their gradient is zero either way). Recomputed with the reference
// kernels, stage by stage.
template <class Net, std::size_t B>
double closest_kink(const Net& net, const Matrix<double, B, Net::input_width>& x) {
  namespace ref = kernels::reference;
  std::vector<double> in(x.data(), x.data() + x.size);
  double closest = std::numeric_limits<double>::infinity();
  detail::for_each_index<Net::stage_count>([&](auto k) {
    using S = typename Net::template stage<decltype(k)::value>;
    using L = typename S::layer;
    std::vector<double> z(B * S::output_width);
    if constexpr (requires { L::geometry.kernel; }) {
      const auto& p = net.template layer<S::position>();
      ref::conv2d_forward(in.data(), p.weights.data(), p.bias.data(), z.data(), B, L::geometry,
                          kernels::Activation::identity);
    } else if constexpr (requires { L::geometry.window; }) {
      std::vector<double> arg(z.size());
      ref::max_pool_forward(in.data(), z.data(), arg.data(), B, L::geometry);
      const auto g = L::geometry;
      for (std::size_t n = 0; n < z.size(); ++n) {
        if (z[n] == 0) continue;
        const std::size_t r = n / S::output_width,
                          plane = (n % S::output_width) / (g.out_height() * g.out_width());
        const std::size_t y = (n % (g.out_height() * g.out_width())) / g.out_width(), xx = n % g.out_width();
        for (std::size_t i = 0; i < g.window; ++i)
          for (std::size_t j = 0; j < g.window; ++j) {
            const std::size_t at = (plane * g.height + y * g.stride + i) * g.width + xx * g.stride + j;
            if (at != std::size_t(arg[n])) closest = std::min(closest, z[n] - in[r * S::input_width + at]);
          }
      }
    } else {
      const auto& p = net.template layer<S::position>();
      for (std::size_t r = 0; r < B; ++r)
        for (std::size_t c = 0; c < S::output_width; ++c) {
          double sum = p.bias(0, c);
          for (std::size_t i = 0; i < S::input_width; ++i)
            sum += in[r * S::input_width + i] * p.weights(i, c);
          z[r * S::output_width + c] = sum;
        }
    }
    for (double& v : z) {
      if constexpr (S::activation == kernels::Activation::relu) {
        closest = std::min(closest, std::abs(v));
        v = std::max(v, 0.0);
      } else if constexpr (S::activation == kernels::Activation::sigmoid) {
        v = 1 / (1 + std::exp(-v));
      }
    }
    in = z;
  });
  return closest;
}

// The first input (by seed, from `seed` on) whose forward pass stays `margin` away from every kink.
template <class Net, std::size_t B>
Matrix<double, B, Net::input_width> input_away_from_kinks(const Net& net, std::uint64_t seed, double margin) {
  for (std::uint64_t s = seed; s < seed + 200; ++s) {
    auto x = random_matrix<double, B, Net::input_width>(s);
    if (closest_kink(net, x) > margin) return x;
  }
  FAIL("no input within 200 seeds keeps the margin");
  return {};
}

void require_passed(const GradientCheckReport& report, double tolerance, std::size_t tensors) {
  INFO(report);
  CHECK(report.tensors.size() == tensors);
  for (const TensorGradientCheck& t : report.tensors) CHECK(t.checked > 0);
  CHECK(report.passed(tolerance));
}

}  // namespace

// ------------------------------------------------------------------------------------------------ shapes

static_assert(std::is_same_v<LeNet::input_shape, Shape<1, 28, 28>>);
static_assert(std::is_same_v<LeNet::plan::received<2>, Shape<6, 28, 28>>);   // after Conv2D<1, 6, 5, 1, 2>
static_assert(std::is_same_v<LeNet::plan::received<4>, Shape<6, 14, 14>>);   // after MaxPool2D<2>
static_assert(std::is_same_v<LeNet::plan::received<6>, Shape<16, 10, 10>>);  // after Conv2D<6, 16, 5>
static_assert(std::is_same_v<LeNet::plan::received<7>, Shape<16, 5, 5>>);    // after MaxPool2D<2>
static_assert(std::is_same_v<LeNet::plan::received<8>, Shape<400>>);         // after Flatten
static_assert(LeNet::input_width == 784 && LeNet::output_width == 10);
static_assert(LeNet::stage_count == 7);  // 2 convolutions, 2 poolings, 3 Dense; Input and Flatten run nothing
static_assert(LeNet::parameter_count == 61706);  // PyTorch's LeNet-5 count: 156 + 2416 + 48120 + 10164 + 850
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<LeNet&>().layer<1>().weights)>,
                             Matrix<float, 6, 25>>);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<LeNet&>().layer<4>().weights)>,
                             Matrix<float, 16, 150>>);
// (H + 2P - K) / S + 1, rounded down, and pooling with its own stride.
static_assert(std::is_same_v<Conv2D<3, 8, 3, 2, 1>::output_shape<Shape<3, 7, 9>>, Shape<8, 4, 5>>);
static_assert(std::is_same_v<Conv2D<2, 4, 4, 3, 2>::output_shape<Shape<2, 11, 13>>, Shape<4, 4, 5>>);
static_assert(std::is_same_v<MaxPool2D<3, 2>::output_shape<Shape<5, 9, 8>>, Shape<5, 4, 3>>);
static_assert(std::is_same_v<MaxPool2D<2>::output_shape<Shape<5, 7, 7>>, Shape<5, 3, 3>>);

TEST_CASE("LeNet-5 names its layers as written", "[cnn]") {
  CHECK(LeNet::plan::layer_name(0) == "Input<1, 28, 28>");
  CHECK(LeNet::plan::layer_name(1) == "Conv2D<1, 6, 5, 1, 2>");
  CHECK(LeNet::plan::layer_name(3) == "MaxPool2D<2>");
  CHECK(LeNet::plan::layer_name(4) == "Conv2D<6, 16, 5>");
  CHECK(LeNet::plan::layer_name(7) == "Flatten");
  CHECK(LeNet::stage<0>::describe() == "layer 1 (Conv2D<1, 6, 5, 1, 2> + ReLU)");
  CHECK(MaxPool2D<3, 2>::name() == "MaxPool2D<3, 2>");
  CHECK(Conv2D<3, 8, 3, 2>::name() == "Conv2D<3, 8, 3, 2>");
}

TEST_CASE("Conv2D is He-initialised over its fan-in C*K*K, with zero biases", "[cnn]") {
  BasicLeNet<double> net{HeNormal{.seed = 1}};
  const auto& w = net.layer<4>().weights;  // 16 x 150: fan-in 6 * 5 * 5
  double sum = 0, squares = 0;
  for (double v : w.values()) sum += v, squares += v * v;
  const double n = double(w.size), mean = sum / n, variance = squares / n - mean * mean;
  CHECK(std::abs(mean) < 0.02);
  CHECK(variance == Approx(2.0 / 150).epsilon(0.1));
  for (double b : net.layer<4>().bias.values()) CHECK(b == 0.0);
}

// --------------------------------------------------------------------------------------- gradient checks

TEST_CASE("Gradient check: Conv2D with stride 2 and padding, sigmoid, every parameter",
          "[cnn][gradient_check]") {
  using Net = BasicNetwork<double, Input<2, 7, 9>, Conv2D<2, 3, 3, 2, 1>, Sigmoid, Flatten, Dense<60, 4>,
                           SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 3}};
  const auto x = random_matrix<double, 3, 126>(4);
  const Labels<3> labels = {0, 3, 1};
  require_passed(gradient_check(net, x, labels), 1e-7, 4);
}

TEST_CASE("Gradient check: Conv2D into Conv2D (the ReLU derivative fused into backward), every parameter",
          "[cnn][gradient_check]") {
  using Net = BasicNetwork<double, Input<2, 7, 7>, Conv2D<2, 3, 3, 1, 1>, ReLU, Conv2D<3, 2, 3, 2>, Sigmoid,
                           Flatten, Dense<18, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 5}};
  const auto x = input_away_from_kinks<Net, 2>(net, 6, 1e-4);
  require_passed(gradient_check(net, x, Labels<2>{2, 0}, {.h = 1e-6}), 1e-7, 6);
}

TEST_CASE("Gradient check: MaxPool2D with overlapping windows after a ReLU convolution, every parameter",
          "[cnn][gradient_check]") {
  using Net = BasicNetwork<double, Input<1, 9, 8>, Conv2D<1, 3, 3, 1, 1>, ReLU, MaxPool2D<3, 2>, Flatten,
                           Dense<36, 3>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 7}};
  const auto x = input_away_from_kinks<Net, 2>(net, 8, 1e-4);
  require_passed(gradient_check(net, x, Labels<2>{1, 2}, {.h = 1e-6}), 1e-7, 4);
}

TEST_CASE("Gradient check: the whole LeNet-5 in double, a sample of every tensor", "[cnn][gradient_check]") {
  BasicLeNet<double> net{HeNormal{.seed = 11}};
  const auto x = input_away_from_kinks<BasicLeNet<double>, 2>(net, 12, 1e-4);
  const GradientCheckReport report =
      gradient_check(net, x, Labels<2>{3, 8}, {.h = 1e-6, .samples_per_tensor = 40, .seed = 2});
  require_passed(report, 1e-6, 10);
  CHECK(report.tensors[0].layer_name == "Conv2D<1, 6, 5, 1, 2>");
  CHECK(report.tensors[0].rows == 6);
  CHECK(report.tensors[0].cols == 25);
}

TEST_CASE("The gradient check of a convolution is not vacuous: a wrong weight gradient fails it",
          "[cnn][gradient_check]") {
  using Net = BasicNetwork<double, Input<1, 5, 5>, Conv2D<1, 2, 3>, Sigmoid, Flatten, Dense<18, 2>,
                           SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 13}};
  const auto x = random_matrix<double, 2, 25>(14);
  const Labels<2> labels{0, 1};
  const double right = gradient_check(net, x, labels).worst_relative_difference;
  CHECK(right < 1e-7);
  // The same loss with the first filter's weights doubled on the analytic side only cannot be matched.
  const auto analytic = compute_gradients(net, x, labels);
  double numeric_norm = 0, wrong_norm = 0, diff = 0;
  const double h = 1e-5;
  for (std::size_t i = 0; i < 9; ++i) {
    double& w = net.layer<1>().weights(0, i);
    const double saved = w;
    w = saved + h;
    const double up = loss(net, x, labels);
    w = saved - h;
    const double down = loss(net, x, labels);
    w = saved;
    const double numeric = (up - down) / (2 * h), wrong = 2 * analytic.parameters.layer<1>().weights(0, i);
    numeric_norm += numeric * numeric, wrong_norm += wrong * wrong,
        diff += (numeric - wrong) * (numeric - wrong);
    CHECK(numeric == Approx(analytic.parameters.layer<1>().weights(0, i)).epsilon(1e-6).margin(1e-10));
  }
  CHECK(std::sqrt(diff) / (std::sqrt(numeric_norm) + std::sqrt(wrong_norm)) > 0.1);
}

// -------------------------------------------------------------------------------------------- training

TEST_CASE("LeNet-5 learns a small batch, in fixed and run-time batches alike", "[cnn][training]") {
  LeNet net{HeNormal{.seed = 21}};
  const auto x = random_matrix<float, 8, 784>(22, 0.5);
  const Labels<8> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  Trainer<LeNet, Adam> trainer(net, Adam{});
  const float first = trainer.step(x, labels);
  float last = first;
  for (int s = 0; s < 60; ++s) last = trainer.step(x, labels);
  CHECK(last < 0.05f * first);
  const std::vector<std::uint32_t> classes = net.classify(x);
  CHECK(classes == std::vector<std::uint32_t>(labels.begin(), labels.end()));

  // The same steps on a view of run-time size give the same network, bit for bit.
  LeNet a{HeNormal{.seed = 23}}, b{HeNormal{.seed = 23}};
  Trainer<LeNet, SGD> ta(a, SGD{.learning_rate = 0.05}), tb(b, SGD{.learning_rate = 0.05});
  for (int s = 0; s < 3; ++s) {
    ta.step(x, labels);
    tb.step(MatrixView<const float, dynamic_rows, 784>(x.data(), 8),
            std::span<const std::uint32_t>(labels.data(), 8));
  }
  CHECK(std::equal(a.layer<1>().weights.values().begin(), a.layer<1>().weights.values().end(),
                   b.layer<1>().weights.values().begin()));
  CHECK(std::equal(a.layer<12>().weights.values().begin(), a.layer<12>().weights.values().end(),
                   b.layer<12>().weights.values().begin()));
}

TEST_CASE("A LeNet model file loads back bit for bit and names a different convolution",
          "[cnn][model_file]") {
  LeNet net{HeNormal{.seed = 31}};
  const auto path = std::filesystem::temp_directory_path() / "typenet_test_lenet.tnet";
  save_model(net, path);
  LeNet loaded{HeNormal{.seed = 32}};
  load_model(loaded, path);
  const auto x = random_matrix<float, 3, 784>(33);
  const auto p = net.predict(x), q = loaded.predict(x);
  CHECK(std::equal(p.values().begin(), p.values().end(), q.values().begin()));

  using Other = Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>,
                        Sigmoid, MaxPool2D<2>, Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU,
                        Dense<84, 10>, SoftmaxCrossEntropy>;
  Other other;
  CHECK_THROWS_WITH(load_model(other, path), Catch::Contains("layer 5: file has ReLU, network has Sigmoid"));
  using Wider = Network<Input<1, 28, 28>, Conv2D<1, 8, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<8, 16, 5>, ReLU,
                        MaxPool2D<2>, Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>,
                        SoftmaxCrossEntropy>;
  Wider wider;
  CHECK_THROWS_WITH(
      load_model(wider, path),
      Catch::Contains("layer 1: file has Conv2D<1, 6, 5, 1, 2>, network has Conv2D<1, 8, 5, 1, 2>"));
  std::filesystem::remove(path);
}

TEST_CASE("dimension_flow prints LeNet-5's image shapes, stage by stage", "[cnn][dimension_flow]") {
  const std::vector<DimensionFlowRow> rows = dimension_flow<LeNet, 32>();
  auto find = [&](const std::string& gradient) {
    for (const DimensionFlowRow& row : rows)
      if (row.gradient == gradient) return row;
    FAIL("no row " << gradient);
    return DimensionFlowRow{};
  };
  CHECK(find("grad_z7 (output)").shape == "(32, 10)");
  CHECK(find("grad_z1").shape == "(32, 6, 28, 28)");
  CHECK(find("grad_z1").computation == "grad_a1 * (a1 > 0)");
  CHECK(find("grad_W1").shape == "(6, 25)");
  CHECK(find("grad_W1").computation == "correlate(x, grad_z1)");
  CHECK(find("grad_b1").shape == "(6,)");
  CHECK(find("grad_a1").shape == "(32, 6, 28, 28)");  // what the first pooling sends back
  CHECK(find("grad_a1").computation == "unpool(grad_z2, argmax)");
  CHECK(find("grad_z3").shape == "(32, 16, 10, 10)");
  CHECK(find("grad_a2").shape == "(32, 6, 14, 14)");
  CHECK(find("grad_a2").computation == "conv_transpose(grad_z3, W3)");
  CHECK(find("grad_a4").shape == "(32, 400)");  // Flatten: the first Dense receives 16 x 5 x 5 as 400
  CHECK(find("grad_W5").shape == "(400, 120)");
  CHECK(find("grad_W5").computation == "a4^T @ grad_z5");
  CHECK(find("grad_W5").layer == 8);
}
