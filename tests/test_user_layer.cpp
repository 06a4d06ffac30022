// A layer defined outside the library, on the layer contract (layers/contract.hpp) alone: the network core
// builds, trains, gradient-checks and saves networks with it without being told about it.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>

#include "typenet/typenet.hpp"

namespace user {

using namespace typenet;

// y = s (.) x with a learned scale s per feature (1 x N, initialised to 1): a layer with parameters that
// does not fuse activations, so the network applies the derivative of the activation before it itself.
struct LearnedScale {
  static std::string name() { return "LearnedScale"; }
  template <ShapeType Received>
  using output_shape = Received;
  // The layer for what it receives: its parameters' width is that of its input.
  template <ShapeType In>
  struct Fitted;
  template <ShapeType Received>
  using fitted_to = Fitted<Received>;
};

template <ShapeType In>
struct LearnedScale::Fitted {
  static constexpr std::size_t N = In::size;
  static std::string name() { return "LearnedScale"; }
  template <ShapeType Received>
  using output_shape = Received;

  template <class T>
  struct Parameters {
    RowVector<T, N> scale;
    static constexpr auto tensors() { return std::tuple{tensor(TensorKind::weights, &Parameters::scale)}; }
  };
  template <class Init, class T>
  static void initialize(Parameters<T>& p, NormalSource&) {
    p.scale.fill(T(1));
  }

  template <class T, std::size_t Rows>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, N> in, MatrixView<T, Rows, N> out,
                      const LayerContext<T>&) {
    for (std::size_t r = 0; r < in.row_count(); ++r)
      for (std::size_t c = 0; c < N; ++c) out(r, c) = p.scale(0, c) * in(r, c);
  }
  template <class T, std::size_t Rows>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, N> d_out,
                             MatrixView<const T, Rows, N>, MatrixView<T, Rows, N> d_in,
                             const LayerContext<T>&) {
    for (std::size_t r = 0; r < d_out.row_count(); ++r)
      for (std::size_t c = 0; c < N; ++c) d_in(r, c) = p.scale(0, c) * d_out(r, c);
  }
  template <class T, std::size_t Rows>
  static void backward_params(MatrixView<const T, Rows, N> in, MatrixView<const T, Rows, N> d_out,
                              Parameters<T>& grads, const LayerContext<T>&) {
    grads.scale.fill(T(0));
    for (std::size_t r = 0; r < in.row_count(); ++r)
      for (std::size_t c = 0; c < N; ++c) grads.scale(0, c) += in(r, c) * d_out(r, c);
  }
};

// y = x^3 with no parameters; it keeps 3x^2 from the forward pass for the backward one (kept_per_row).
struct Cube {
  static std::string name() { return "Cube"; }
  template <ShapeType Received>
  using output_shape = Received;
  template <ShapeType In>
  struct Fitted;
  template <ShapeType Received>
  using fitted_to = Fitted<Received>;
};

template <ShapeType In>
struct Cube::Fitted {
  static constexpr std::size_t N = In::size;
  static std::string name() { return "Cube"; }
  template <ShapeType Received>
  using output_shape = Received;
  template <class T>
  using Parameters = NoParameters;
  static constexpr std::size_t kept_per_row = N;

  template <class T, std::size_t Rows>
  static void forward(const NoParameters&, MatrixView<const T, Rows, N> in, MatrixView<T, Rows, N> out,
                      const LayerContext<T>& ctx) {
    for (std::size_t i = 0; i < in.size(); ++i) {
      const T x = in.data()[i];
      out.data()[i] = x * x * x;
      ctx.kept[i] = 3 * x * x;
    }
  }
  template <class T, std::size_t Rows>
  static void backward_input(const NoParameters&, MatrixView<const T, Rows, N> d_out,
                             MatrixView<const T, Rows, N>, MatrixView<T, Rows, N> d_in,
                             const LayerContext<T>& ctx) {
    for (std::size_t i = 0; i < d_out.size(); ++i) d_in.data()[i] = ctx.kept[i] * d_out.data()[i];
  }
};

}  // namespace user

using namespace typenet;

namespace {

template <class T, std::size_t R, std::size_t C>
Matrix<T, R, C> waves(double phase) {
  Matrix<T, R, C> m;
  for (std::size_t i = 0; i < m.size; ++i) m.data()[i] = T(0.8 * std::sin(0.7 * double(i) + phase));
  return m;
}

template <class T>
using UserNet =
    BasicNetwork<T, Dense<6, 5>, Sigmoid, user::LearnedScale, user::Cube, Dense<5, 3>, SoftmaxCrossEntropy>;

}  // namespace

TEST_CASE("a layer defined outside typenet builds into a network by position", "[contract]") {
  using Net = UserNet<float>;
  static_assert(Net::layer_count == 6 && Net::stage_count == 4);
  static_assert(std::is_same_v<decltype(std::declval<Net&>().layer<2>().scale), RowVector<float, 5>>);
  Net net{HeNormal{.seed = 1}};
  for (float s : net.layer<2>().scale.values()) CHECK(s == 1.0f);  // its own initialize ran
  CHECK(Net::parameter_count == (6 + 1) * 5 + 5 + (5 + 1) * 3);
}

TEST_CASE("the user layers' gradients agree with central differences in double",
          "[contract][gradient_check]") {
  UserNet<double> net{HeNormal{.seed = 3}};
  // A scale away from 1, so its gradient and the input gradient it passes on both matter.
  for (std::size_t c = 0; c < 5; ++c) net.layer<2>().scale(0, c) = 0.5 + 0.3 * double(c);
  const auto x = waves<double, 7, 6>(0.3);
  const Labels<7> labels = {0, 1, 2, 0, 1, 2, 0};
  const GradientCheckReport report = gradient_check(net, x, labels);
  INFO(report);
  REQUIRE(report.tensors.size() == 5);  // W, b of layer 0; the scale of layer 2; W, b of layer 4
  CHECK(report.tensors[2].layer == 2);
  CHECK(report.tensors[2].layer_name == "LearnedScale");
  CHECK(report.passed(1e-7));
}

TEST_CASE("a network with user layers trains, with SGD and Adam, and saves by name", "[contract][training]") {
  const auto x = waves<float, 16, 6>(0.1);
  Labels<16> labels{};
  for (std::size_t r = 0; r < 16; ++r) labels[r] = std::uint32_t(x(r, 0) > 0 ? 1 : (x(r, 1) > 0 ? 2 : 0));
  auto train = [&](auto optimizer) {
    UserNet<float> net{HeNormal{.seed = 4}};
    Trainer trainer(net, optimizer);
    const float first = trainer.step(x, labels);
    float last = first;
    for (int i = 0; i < 300; ++i) last = trainer.step(x, labels);
    CHECK(last < 0.5f * first);
    bool scale_moved = false;
    for (float s : net.layer<2>().scale.values()) scale_moved = scale_moved || s != 1.0f;
    CHECK(scale_moved);
    return net;
  };
  train(SGD{.learning_rate = 0.5});
  const UserNet<float> trained = train(Adam{.learning_rate = 0.01});

  const auto path = std::filesystem::temp_directory_path() / "typenet_user_layer.tnet";
  save_model(trained, path);
  UserNet<float> loaded{HeNormal{.seed = 9}};
  load_model(loaded, path);
  CHECK(loaded.layer<2>().scale.values()[3] == trained.layer<2>().scale.values()[3]);
  using Other =
      Network<Dense<6, 5>, Sigmoid, user::Cube, user::LearnedScale, Dense<5, 3>, SoftmaxCrossEntropy>;
  Other other;
  CHECK_THROWS_WITH(load_model(other, path),
                    Catch::Matchers::Contains("layer 2: file has LearnedScale, network has Cube"));
  std::filesystem::remove(path);
}

TEST_CASE("a user layer that declares no exchange layout saves to safetensors as its Matrix's shape",
          "[contract][safetensors]") {
  const UserNet<float> net{HeNormal{.seed = 5}};
  const std::vector<std::uint8_t> file = encode_safetensors(net);
  const std::string header(file.begin() + 8, file.end());
  // LearnedScale (position 2) holds a 1 x 5 scale of kind weights: "2.weight" of shape [5].
  CHECK_THAT(header, Catch::Matchers::Contains(R"("2.weight":{"dtype":"F32","shape":[5],)"));
  CHECK_THAT(header, Catch::Matchers::Contains(R"("4.weight":{"dtype":"F32","shape":[3,5],)"));
  UserNet<float> loaded{HeNormal{.seed = 6}};
  loaded.layer<2>().scale(0, 3) = 7.0f;
  decode_safetensors(loaded, file, "user.safetensors");
  CHECK(loaded.layer<2>().scale(0, 3) == net.layer<2>().scale(0, 3));
  CHECK(loaded.layer<4>().weights(4, 2) == net.layer<4>().weights(4, 2));
}
