// Residual<Layers...>: y = x + f(x) by hand, the identity when f is zero, gradients in double against
// central differences (in an MLP, as the first stage, nested, with BatchNorm inside, in a CNN), the model
// file and safetensors names, and training.
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

template <std::size_t B>
Labels<B> cycling_labels(std::uint32_t classes) {
  Labels<B> labels{};
  for (std::size_t r = 0; r < B; ++r) labels[r] = std::uint32_t(r % classes);
  return labels;
}

using Block = Residual<Dense<16, 16>, Tanh, Dense<16, 16>>;
using Mlp = BasicNetwork<double, Dense<8, 16>, Tanh, Block, Tanh, Dense<16, 3>, SoftmaxCrossEntropy>;

template <class Net, std::size_t B, std::size_t W>
void require_gradients_match(Net& net, const Matrix<double, B, W>& x, double tolerance = 1e-7) {
  const GradientCheckReport report = gradient_check(net, x, cycling_labels<B>(3));
  INFO(report);
  CHECK(report.passed(tolerance));
}

}  // namespace

TEST_CASE("a Residual block is one layer that holds its layers' parameters", "[residual]") {
  STATIC_REQUIRE(Mlp::layer_count == 6);
  STATIC_REQUIRE(Mlp::parameter_count == (8 * 16 + 16) + 2 * (16 * 16 + 16) + (16 * 3 + 3));
  STATIC_REQUIRE(std::is_same_v<Mlp::layer_type<2>::output_shape<Shape<16>>, Shape<16>>);
  CHECK(detail::network_text<Mlp>() ==
        "Dense<8, 16>, Tanh, Residual<Dense<16, 16>, Tanh, Dense<16, 16>>, Tanh, Dense<16, 3>, "
        "SoftmaxCrossEntropy");
  const Mlp net{HeNormal{.seed = 1}};
  // Drawn by He over the inner layers' own fan-in: not zero, and the two differ.
  CHECK(net.layer<2>().inner.layer<0>().weights(0, 0) != 0.0);
  CHECK(net.layer<2>().inner.layer<0>().weights(0, 0) != net.layer<2>().inner.layer<2>().weights(0, 0));
}

TEST_CASE("a Residual block computes x + f(x)", "[residual]") {
  using Net = BasicNetwork<double, Input<2>, Residual<Dense<2, 2>, ReLU>, MeanSquaredError>;
  Net net;
  auto& dense = net.layer<1>().inner.layer<0>();
  dense.weights = Matrix<double, 2, 2>({{1, -2}, {0.5, 1}});
  dense.bias = Matrix<double, 1, 2>({{0.25, -0.5}});
  const Matrix<double, 2, 2> x({{1, 2}, {-3, 0.5}});
  const auto y = std::as_const(net).predict(x);
  // Row 0: xW + b = (2.25, -0.5), relu (2.25, 0); row 1: (-2.5, 6), relu (0, 6).
  CHECK(y(0, 0) == 1 + 2.25);
  CHECK(y(0, 1) == 2 + 0.0);
  CHECK(y(1, 0) == -3 + 0.0);
  CHECK(y(1, 1) == 0.5 + 6.0);
}

TEST_CASE("a Residual block whose layers output zero is the identity", "[residual]") {
  using With = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU, Dense<16, 16>>, ReLU, Dense<16, 3>,
                       SoftmaxCrossEntropy>;
  using Without = Network<Dense<8, 16>, ReLU, Dense<16, 3>, SoftmaxCrossEntropy>;
  With with{HeNormal{.seed = 2}};
  with.layer<2>().inner.layer<2>().weights.fill(0.0f);  // f(x) = 0 + b = 0
  Without without;
  without.layer<0>() = with.layer<0>();
  without.layer<2>() = with.layer<4>();
  const auto x = random_matrix<float, 5, 8>(3);
  const auto a = std::as_const(with).predict(x), b = std::as_const(without).predict(x);
  for (std::size_t i = 0; i < a.size; ++i) CHECK(a.data()[i] == b.data()[i]);
}

TEST_CASE("Residual gradients match central differences in double", "[residual][gradient]") {
  SECTION("in an MLP") {
    Mlp net{HeNormal{.seed = 3}};
    require_gradients_match(net, random_matrix<double, 6, 8>(4));
  }
  SECTION("as the network's first stage (no backward_input before its parameters' gradients)") {
    using Net = BasicNetwork<double, Input<8>, Residual<Dense<8, 8>, Tanh, Dense<8, 8>>, Sigmoid, Dense<8, 3>,
                             SoftmaxCrossEntropy>;
    Net net{HeNormal{.seed = 5}};
    require_gradients_match(net, random_matrix<double, 4, 8>(6));
  }
  SECTION("nested, with BatchNorm inside") {
    using Net =
        BasicNetwork<double, Dense<6, 8>, Tanh,
                     Residual<Dense<8, 8>, BatchNorm<8>, Tanh, Residual<Dense<8, 8>, Tanh>, Dense<8, 8>>,
                     Tanh, Dense<8, 3>, SoftmaxCrossEntropy>;
    Net net{HeNormal{.seed = 7}};
    const GradientCheckReport report =
        gradient_check(net, random_matrix<double, 8, 6>(8), cycling_labels<8>(3));
    INFO(report);
    // The bias of the Dense right before the BatchNorm has no effect (its true gradient is 0): it is the
    // one tensor whose relative difference compares round-off; every other must match.
    for (std::size_t t = 0; t < report.tensors.size(); ++t) {
      INFO("tensor " << t);
      if (t == 3)
        CHECK(report.tensors[t].max_abs_difference < 1e-10);
      else
        CHECK(report.tensors[t].relative_difference < 1e-7);
    }
  }
  SECTION("in a CNN, over Conv2D and BatchNorm") {
    using Net = BasicNetwork<double, Input<2, 5, 5>, Conv2D<2, 3, 3, 1, 1>, Tanh,
                             Residual<Conv2D<3, 3, 3, 1, 1>, Tanh, Conv2D<3, 3, 3, 1, 1>>, Tanh, Flatten,
                             Dense<75, 3>, SoftmaxCrossEntropy>;
    Net net{HeNormal{.seed = 9}};
    require_gradients_match(net, random_matrix<double, 3, 50>(10));
  }
}

TEST_CASE("a wrong gradient inside a block fails the check (the check is not vacuous)",
          "[residual][gradient]") {
  Mlp net{HeNormal{.seed = 3}};
  const auto x = random_matrix<double, 6, 8>(4);
  NetworkGradients<Mlp> gradients = compute_gradients(net, x, cycling_labels<6>(3));
  gradients.parameters.layer<2>().inner.layer<2>().weights.data()[5] += 1e-3;
  CHECK_FALSE(gradient_check(net, x, cycling_labels<6>(3), gradients.parameters).passed(1e-4));
}

TEST_CASE("a Residual block round-trips through the model file and safetensors, by PyTorch's names",
          "[residual][io]") {
  using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, BatchNorm<16>, ReLU, Dense<16, 16>>, ReLU,
                      Dense<16, 3>, SoftmaxCrossEntropy>;
  Net trained{HeNormal{.seed = 1}};
  Trainer trainer(trained, Adam{.learning_rate = 1e-2});
  const auto x = random_matrix<float, 16, 8>(2);
  for (int i = 0; i < 5; ++i) trainer.step(x, cycling_labels<16>(3));
  REQUIRE(trained.layer<2>().inner.layer<1>().running_mean(0, 0) != 0.0f);

  Net loaded{HeNormal{.seed = 2}};
  decode_model(loaded, encode_model(trained), "residual.tnet");
  CHECK(test::parameter_bits(loaded) == test::parameter_bits(trained));

  // As a PyTorch Residual(nn.Sequential) at module 2 names them: 2.0.weight ... 2.1.running_var, 2.3.bias.
  const std::vector<std::uint8_t> bytes = encode_safetensors(trained);
  const std::string text(bytes.begin(), bytes.end());
  for (const char* name :
       {"\"2.0.weight\"", "\"2.1.weight\"", "\"2.1.running_var\"", "\"2.3.bias\"", "\"4.weight\""})
    CHECK_THAT(text, Contains(name));
  Net from_safetensors{HeNormal{.seed = 3}};
  decode_safetensors(from_safetensors, bytes, "residual.safetensors");
  CHECK(test::parameter_bits(from_safetensors) == test::parameter_bits(trained));

  using Other = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU, Dense<16, 16>>, ReLU, Dense<16, 3>,
                        SoftmaxCrossEntropy>;
  Other other;
  CHECK_THROWS_WITH(decode_model(other, encode_model(trained), "residual.tnet"),
                    Contains("layer 2: file has Residual<Dense<16, 16>, BatchNorm<16>, ReLU, Dense<16, 16>>, "
                             "network has Residual<Dense<16, 16>, ReLU, Dense<16, 16>>"));
}

TEST_CASE("residual blocks train a deep sigmoid MLP that plain SGD barely moves", "[residual][training]") {
  using Deep = Network<Dense<16, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>,
                       Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 4>, SoftmaxCrossEntropy>;
  using Blocks = Network<Dense<16, 32>, Sigmoid, Residual<Dense<32, 32>, Sigmoid>,
                         Residual<Dense<32, 32>, Sigmoid>, Residual<Dense<32, 32>, Sigmoid>,
                         Residual<Dense<32, 32>, Sigmoid>, Dense<32, 4>, SoftmaxCrossEntropy>;
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
  const float residual = train(Blocks{HeNormal{.seed = 4}});
  INFO("final loss: plain " << plain << ", with residual blocks " << residual);
  CHECK(residual < 0.1f);
  CHECK(residual < plain / 5);
}
