// BatchNorm: batch statistics in training, running statistics at inference (updated as PyTorch does), the
// gradients in double against central differences (vectors and images), state that the gradient check
// leaves alone, the model file and safetensors round trips with the running statistics, and training.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;
using Catch::Matchers::Contains;
using test::random_matrix;

namespace {

// BatchNorm right after the input: its statistics are the batch's own, which the test computes by hand.
using Normalised = BasicNetwork<double, Input<3>, BatchNorm<3>, MeanSquaredError>;
using Mlp = BasicNetwork<double, Dense<5, 4>, BatchNorm<4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;
using Cnn = BasicNetwork<double, Input<2, 5, 5>, Conv2D<2, 3, 3>, BatchNorm<3>, Tanh, Flatten, Dense<27, 3>,
                         SoftmaxCrossEntropy>;

template <std::size_t B>
Labels<B> cycling_labels(std::uint32_t classes) {
  Labels<B> labels{};
  for (std::size_t r = 0; r < B; ++r) labels[r] = std::uint32_t(r % classes);
  return labels;
}

template <class Net>
std::vector<double> state_values(const Net& net) {
  std::vector<double> values;
  net.for_each_state_tensor([&](auto t) {
    for (const auto v : t.values) values.push_back(double(v));
  });
  return values;
}

// Every tensor passes the check, except the bias of the layer at `position`, right before a BatchNorm: the
// normalisation subtracts it again, so its true gradient is 0 and both sides must be (a relative
// difference of two round-off values means nothing).
void require_passed_but_bias_before_normalisation(const GradientCheckReport& report, std::size_t position) {
  for (const TensorGradientCheck& t : report.tensors) {
    INFO("layer " << t.layer << " " << to_string(t.kind));
    if (t.layer + 1 == position && t.kind == TensorKind::bias)
      CHECK(t.max_abs_difference < 1e-10);
    else
      CHECK(t.relative_difference < 1e-7);
  }
}

}  // namespace

TEST_CASE("BatchNorm's parameters and state are counted apart", "[batch_norm]") {
  STATIC_REQUIRE(Mlp::parameter_count == 5 * 4 + 4 + 2 * 4 + 4 * 3 + 3);
  STATIC_REQUIRE(Mlp::state_count == 2 * 4);
  STATIC_REQUIRE(Cnn::state_count == 2 * 3);
  STATIC_REQUIRE(Normalised::output_width == 3);
  const Mlp net;
  // A fresh layer is the identity at inference: scale 1, shift 0, running mean 0 and variance 1.
  CHECK(net.layer<1>().scale(0, 2) == 1.0);
  CHECK(net.layer<1>().shift(0, 2) == 0.0);
  CHECK(net.layer<1>().running_mean(0, 2) == 0.0);
  CHECK(net.layer<1>().running_variance(0, 2) == 1.0);
  CHECK(detail::network_text<Mlp>() ==
        "Dense<5, 4>, BatchNorm<4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy");
}

TEST_CASE("in training BatchNorm uses the batch's statistics and moves the running ones as PyTorch does",
          "[batch_norm]") {
  Normalised net;
  net.layer<1>().scale.data()[1] = 2.0;
  net.layer<1>().shift.data()[1] = 0.5;
  const auto x = random_matrix<double, 6, 3>(7, 3.0);
  const auto y = random_matrix<double, 6, 3>(8);
  Trainer trainer(net, SGD{.learning_rate = 0});  // no update: only the statistics move
  trainer.step(x, y);

  const auto out = trainer.last_outputs<6>();
  for (std::size_t c = 0; c < 3; ++c) {
    double mean = 0, squares = 0;
    for (std::size_t r = 0; r < 6; ++r) mean += x(r, c) / 6;
    for (std::size_t r = 0; r < 6; ++r) squares += (x(r, c) - mean) * (x(r, c) - mean);
    const double var = squares / 6;
    const double scale = c == 1 ? 2.0 : 1.0, shift = c == 1 ? 0.5 : 0.0;
    for (std::size_t r = 0; r < 6; ++r)
      CHECK(out(r, c) == Approx(scale * (x(r, c) - mean) / std::sqrt(var + 1e-5) + shift).epsilon(1e-12));
    // running = 0.9 running + 0.1 batch, with the unbiased variance (n / (n - 1)).
    CHECK(net.layer<1>().running_mean(0, c) == Approx(0.1 * mean).epsilon(1e-12));
    CHECK(net.layer<1>().running_variance(0, c) == Approx(0.9 + 0.1 * squares / 5).epsilon(1e-12));
  }
}

TEST_CASE("at inference BatchNorm uses the running statistics", "[batch_norm]") {
  Normalised net;
  auto& bn = net.layer<1>();
  const double mean[3] = {1.0, -2.0, 0.25}, var[3] = {4.0, 0.5, 1e-3}, scale[3] = {1.5, -1.0, 3.0},
               shift[3] = {0.0, 1.0, -0.5};
  for (std::size_t c = 0; c < 3; ++c) {
    bn.running_mean.data()[c] = mean[c];
    bn.running_variance.data()[c] = var[c];
    bn.scale.data()[c] = scale[c];
    bn.shift.data()[c] = shift[c];
  }
  const auto x = random_matrix<double, 4, 3>(9);
  const auto out = std::as_const(net).predict(x);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 3; ++c)
      CHECK(out(r, c) ==
            Approx(scale[c] * (x(r, c) - mean[c]) / std::sqrt(var[c] + 1e-5) + shift[c]).epsilon(1e-12));
}

TEST_CASE("a batch of one value per channel normalises to the shift and leaves the running statistics",
          "[batch_norm]") {
  Normalised net;
  net.layer<1>().shift.data()[0] = 0.75;
  Trainer trainer(net, SGD{.learning_rate = 0});
  const auto x = random_matrix<double, 1, 3>(10);
  const auto y = random_matrix<double, 1, 3>(11);
  const double loss = trainer.step(x, y);
  CHECK(std::isfinite(loss));
  CHECK(trainer.last_outputs<1>()(0, 0) == 0.75);
  CHECK(state_values(net) == std::vector<double>{0, 0, 0, 1, 1, 1});
}

TEST_CASE("BatchNorm's gradients match central differences in double, on vectors and on images",
          "[batch_norm][gradient]") {
  SECTION("Dense, BatchNorm, Sigmoid") {
    Mlp net{HeNormal{.seed = 3}};
    // Away from scale 1 and shift 0, so that every term of the gradient counts.
    for (std::size_t c = 0; c < 4; ++c) {
      net.layer<1>().scale.data()[c] = 0.5 + 0.3 * double(c);
      net.layer<1>().shift.data()[c] = 0.2 - 0.1 * double(c);
    }
    const auto x = random_matrix<double, 8, 5>(4);
    const std::vector<double> before = state_values(net);
    const GradientCheckReport report = gradient_check(net, x, cycling_labels<8>(3));
    INFO(report);
    require_passed_but_bias_before_normalisation(report, 1);
    CHECK(report.tensors.size() == 6);
    CHECK(report.tensors[2].kind == TensorKind::scale);
    CHECK(report.tensors[2].layer_name == "BatchNorm<4>");
    // The check differentiates a training pass but leaves the running statistics alone.
    CHECK(state_values(net) == before);
  }
  SECTION("Conv2D, BatchNorm over channels, Tanh") {
    Cnn net{HeNormal{.seed = 5}};
    for (std::size_t c = 0; c < 3; ++c) {
      net.layer<2>().scale.data()[c] = 1.2 - 0.2 * double(c);
      net.layer<2>().shift.data()[c] = 0.1 * double(c);
    }
    const auto x = random_matrix<double, 3, 50>(6);
    const GradientCheckReport report = gradient_check(net, x, cycling_labels<3>(3));
    INFO(report);
    require_passed_but_bias_before_normalisation(report, 2);
  }
}

TEST_CASE("a wrong input gradient fails the check (the check is not vacuous)", "[batch_norm][gradient]") {
  Mlp net{HeNormal{.seed = 3}};
  const auto x = random_matrix<double, 8, 5>(4);
  NetworkGradients<Mlp> gradients = compute_gradients(net, x, cycling_labels<8>(3));
  gradients.parameters.layer<1>().scale.data()[2] *= 1.01;
  CHECK_FALSE(gradient_check(net, x, cycling_labels<8>(3), gradients.parameters).passed(1e-4));
}

TEST_CASE("the running statistics round-trip through the model file and safetensors", "[batch_norm][io]") {
  using Net = Network<Dense<8, 6>, BatchNorm<6>, ReLU, Dense<6, 3>, SoftmaxCrossEntropy>;
  Net trained{HeNormal{.seed = 1}};
  Trainer trainer(trained, Adam{.learning_rate = 1e-2});
  const auto x = random_matrix<float, 16, 8>(2);
  for (int i = 0; i < 5; ++i) trainer.step(x, cycling_labels<16>(3));
  REQUIRE(trained.layer<1>().running_mean(0, 0) != 0.0f);

  Net loaded{HeNormal{.seed = 2}};
  decode_model(loaded, encode_model(trained), "bn.tnet");
  CHECK(test::parameter_bits(loaded) == test::parameter_bits(trained));
  const auto a = std::as_const(loaded).predict(x), b = std::as_const(trained).predict(x);
  CHECK(std::equal(a.values().begin(), a.values().end(), b.values().begin()));

  Net from_safetensors{HeNormal{.seed = 3}};
  const std::vector<std::uint8_t> bytes = encode_safetensors(trained);
  const std::string text(bytes.begin(), bytes.end());
  CHECK_THAT(text,
             Contains("\"1.running_mean\"") && Contains("\"1.running_var\"") && Contains("\"1.weight\""));
  decode_safetensors(from_safetensors, bytes, "bn.safetensors");
  CHECK(test::parameter_bits(from_safetensors) == test::parameter_bits(trained));

  // A network whose BatchNorm normalises another width names it.
  using Wider = Network<Dense<8, 7>, BatchNorm<7>, ReLU, Dense<7, 3>, SoftmaxCrossEntropy>;
  Wider wider;
  CHECK_THROWS_WITH(decode_model(wider, encode_model(trained), "bn.tnet"),
                    Contains("layer 0: file has Dense<8, 6>, network has Dense<8, 7>"));
  using Plain = Network<Dense<8, 6>, ReLU, Dense<6, 3>, SoftmaxCrossEntropy>;
  Plain plain;
  CHECK_THROWS_WITH(decode_model(plain, encode_model(trained), "bn.tnet"),
                    Contains("layer 1: file has BatchNorm<6>, network has ReLU"));
}

TEST_CASE("BatchNorm trains a deep sigmoid MLP that plain SGD barely moves", "[batch_norm][training]") {
  using Deep = Network<Dense<16, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>,
                       Sigmoid, Dense<32, 4>, SoftmaxCrossEntropy>;
  using DeepBn = Network<Dense<16, 32>, BatchNorm<32>, Sigmoid, Dense<32, 32>, BatchNorm<32>, Sigmoid,
                         Dense<32, 32>, BatchNorm<32>, Sigmoid, Dense<32, 32>, BatchNorm<32>, Sigmoid,
                         Dense<32, 4>, SoftmaxCrossEntropy>;
  // Four classes, each a Gaussian blob around its own centre.
  Matrix<float, 64, 16> x = random_matrix<float, 64, 16>(12, 0.5);
  const Labels<64> labels = cycling_labels<64>(4);
  for (std::size_t r = 0; r < 64; ++r) x(r, labels[r] * 4) += 2.0f;
  const auto train = [&](auto net) {
    Trainer trainer(net, SGD{.learning_rate = 0.1});
    float loss = 0;
    for (int i = 0; i < 200; ++i) loss = trainer.step(x, labels);
    return loss;
  };
  const float plain = train(Deep{HeNormal{.seed = 4}});
  const float normalised = train(DeepBn{HeNormal{.seed = 4}});
  INFO("final loss: plain " << plain << ", with BatchNorm " << normalised);
  CHECK(normalised < 0.1f);
  CHECK(normalised < plain / 5);
}
