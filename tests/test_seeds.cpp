// The numbers of the course notes (tests/../seeds), recomputed through the library: the shopping graphs of
// seeds 002/003, the hand-worked 2-layer ReLU network of seed 001, softmax-with-loss and the sigmoid
// derivative (seeds 003/004), and the 784-256-128-10 MLP's gradient shapes and dimension table (seed 000).
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

// --- Seeds 002/003: the shopping graphs -------------------------------------------------------------------

struct OneItem {
  double total, d_price, d_count, d_tax;
};

// 100 per walnut, 2 walnuts, 10% tax.
OneItem one_item_graph() {
  graph::Mul items, tax;
  const double total = tax.forward(items.forward(100, 2), 1.1);
  const graph::InputGradients d_tax_node = tax.backward(1);
  const graph::InputGradients d_items = items.backward(d_tax_node.dx);
  return {total, d_items.dx, d_items.dy, d_tax_node.dy};
}

struct TwoItems {
  double total, d_walnut, d_pistachio, d_walnut_count, d_pistachio_count, d_tax;
};

// 2 walnuts at 100, 3 pistachios at 150, 10% tax.
TwoItems two_item_graph() {
  graph::Mul walnuts, pistachios, tax;
  graph::Add sum;
  const double total = tax.forward(sum.forward(walnuts.forward(100, 2), pistachios.forward(150, 3)), 1.1);
  const graph::InputGradients d_tax_node = tax.backward(1);
  const graph::InputGradients d_sum = sum.backward(d_tax_node.dx);
  const graph::InputGradients d_walnuts = walnuts.backward(d_sum.dx);
  const graph::InputGradients d_pistachios = pistachios.backward(d_sum.dy);
  return {total, d_walnuts.dx, d_pistachios.dx, d_walnuts.dy, d_pistachios.dy, d_tax_node.dy};
}

}  // namespace

TEST_CASE("Shopping graph, one item: 220 with gradients 2.2, 110, 200", "[seeds][graph]") {
  const OneItem r = one_item_graph();
  CHECK(r.total == Approx(220).margin(1e-12));
  CHECK(r.d_price == Approx(2.2).margin(1e-12));
  CHECK(r.d_count == Approx(110).margin(1e-12));
  CHECK(r.d_tax == Approx(200).margin(1e-12));
}

TEST_CASE("Shopping graph, two items: 715 with gradients 2.2, 3.3, 110, 165, 650", "[seeds][graph]") {
  const TwoItems r = two_item_graph();
  CHECK(r.total == Approx(715).margin(1e-12));
  CHECK(r.d_walnut == Approx(2.2).margin(1e-12));
  CHECK(r.d_pistachio == Approx(3.3).margin(1e-12));
  CHECK(r.d_walnut_count == Approx(110).margin(1e-12));
  CHECK(r.d_pistachio_count == Approx(165).margin(1e-12));
  CHECK(r.d_tax == Approx(650).margin(1e-12));
}

TEST_CASE("Graph nodes: Add passes dout, Mul swaps inputs, ReLU masks, Sigmoid uses y(1-y)",
          "[seeds][graph]") {
  graph::Add add;
  CHECK(add.forward(3, -5) == -2);
  CHECK(add.backward(1.5).dx == 1.5);
  CHECK(add.backward(1.5).dy == 1.5);

  graph::Mul mul;
  CHECK(mul.forward(3, -5) == -15);
  CHECK(mul.backward(2).dx == -10);
  CHECK(mul.backward(2).dy == 6);

  graph::ReLU relu;
  CHECK(relu.forward(2.5) == 2.5);
  CHECK(relu.backward(4) == 4);
  CHECK(relu.forward(-1) == 0);
  CHECK(relu.backward(4) == 0);
  CHECK(relu.forward(0) == 0);
  CHECK(relu.backward(4) == 0);  // x <= 0 sends nothing back (seed 003)

  graph::Sigmoid sigmoid;
  const double y = sigmoid.forward(0.3);
  CHECK(y == Approx(1 / (1 + std::exp(-0.3))).margin(1e-15));
  CHECK(sigmoid.backward(2) == Approx(2 * y * (1 - y)).margin(1e-15));
  CHECK(sigmoid.forward(-800) == 0);  // no overflow far out
  CHECK(sigmoid.forward(800) == 1);
}

// --- Seed 001: the 2-layer ReLU network by hand -----------------------------------------------------------

namespace {

using HandNet = BasicNetwork<double, Dense<2, 2>, ReLU, Dense<2, 1>, MeanSquaredError>;

// The seed writes z1 = W1 x + b1 with W1 = [[0.5, 0.3], [0.2, 0.4]] (Out x In); typenet's weights are
// In x Out (z1 = x W + b), so W holds the seed's W1 transposed.
void set_seed001_weights(HandNet& net) {
  net.layer<0>().weights = Matrix<double, 2, 2>({{0.5, 0.2}, {0.3, 0.4}});
  net.layer<0>().bias = RowVector<double, 2>({{0.1, 0.2}});
  net.layer<2>().weights = Matrix<double, 2, 1>({{0.6}, {0.8}});
  net.layer<2>().bias = RowVector<double, 1>({{0.1}});
}

struct HandResult {
  double loss;
  std::array<double, 2> h1, dz1;  // h1 = ReLU(z1); dz1 = dL/dz1 (= dL/dh1 here: z1 > 0)
  double z2, dz2;
  HandNet::Parameters gradients;
};

// One forward and backward pass through typenet's own backprop; the sink sees each layer's dL/dz.
HandResult seed001_backward() {
  HandNet net;
  set_seed001_weights(net);
  const Matrix<double, 1, 2> x({{1, 2}});
  const Matrix<double, 1, 1> y({{3}});

  HandResult r{};
  detail::Backprop<HandNet> backprop;
  auto store = backprop.store_gradients<1>(net, r.gradients);
  r.loss = backprop.run(net, std::as_const(x).view(), y, [&](auto k, auto in, auto g) {
    constexpr std::size_t K = decltype(k)::value;
    store(k, in, g);
    if constexpr (K == 0)
      r.dz1 = {g(0, 0), g(0, 1)};
    else
      r.dz2 = g(0, 0);
  });
  const auto h1 = backprop.output<1, 0>();
  r.h1 = {h1(0, 0), h1(0, 1)};
  r.z2 = backprop.output<1, 1>()(0, 0);
  return r;
}

// The same gradients as the trainer stores them (Adam at learning rate 0 leaves the weights alone).
HandNet::Parameters seed001_trainer_gradients(double& loss, HandNet& net) {
  set_seed001_weights(net);
  const Matrix<double, 1, 2> x({{1, 2}});
  const Matrix<double, 1, 1> y({{3}});
  Trainer trainer(net, Adam{.learning_rate = 0});
  loss = trainer.step(x, y);
  return trainer.gradients();
}

}  // namespace

TEST_CASE("A Matrix from nested braces holds them row by row, the missing values zero", "[matrix]") {
  const Matrix<double, 2, 3> m({{1, 2, 3}, {4, 5}});
  CHECK(m(0, 0) == 1);
  CHECK(m(0, 2) == 3);
  CHECK(m(1, 0) == 4);
  CHECK(m(1, 1) == 5);
  CHECK(m(1, 2) == 0);
}

TEST_CASE("Seed 001: 2-layer ReLU network, forward and backward by hand", "[seeds][backprop]") {
  const HandResult r = seed001_backward();
  constexpr double eps = 1e-12;
  CHECK(r.h1[0] == Approx(1.2).margin(eps));  // z1 = [1.2, 1.2], all positive
  CHECK(r.h1[1] == Approx(1.2).margin(eps));
  CHECK(r.z2 == Approx(1.78).margin(eps));
  CHECK(r.loss == Approx(0.7442).margin(eps));
  CHECK(r.dz2 == Approx(-1.22).margin(eps));
  CHECK(r.dz1[0] == Approx(-0.732).margin(eps));  // dh1 = -1.22 * [0.6, 0.8]
  CHECK(r.dz1[1] == Approx(-0.976).margin(eps));

  const auto& g1 = r.gradients.layer<0>();
  const auto& g2 = r.gradients.layer<2>();
  CHECK(g2.weights(0, 0) == Approx(-1.464).margin(eps));
  CHECK(g2.weights(1, 0) == Approx(-1.464).margin(eps));
  CHECK(g2.bias(0, 0) == Approx(-1.22).margin(eps));
  // The seed's dW1 = [[-0.732, -1.464], [-0.976, -1.952]] is Out x In; typenet's is its transpose.
  CHECK(g1.weights(0, 0) == Approx(-0.732).margin(eps));
  CHECK(g1.weights(1, 0) == Approx(-1.464).margin(eps));
  CHECK(g1.weights(0, 1) == Approx(-0.976).margin(eps));
  CHECK(g1.weights(1, 1) == Approx(-1.952).margin(eps));
  CHECK(g1.bias(0, 0) == Approx(-0.732).margin(eps));
  CHECK(g1.bias(0, 1) == Approx(-0.976).margin(eps));
}

TEST_CASE("Seed 001 through the Trainer and compute_gradients gives the same numbers", "[seeds][backprop]") {
  HandNet net;
  double loss = 0;
  const HandNet::Parameters grads = seed001_trainer_gradients(loss, net);
  constexpr double eps = 1e-12;
  CHECK(loss == Approx(0.7442).margin(eps));
  const auto& g1 = grads.layer<0>();
  const auto& g2 = grads.layer<2>();
  CHECK(g1.weights(1, 1) == Approx(-1.952).margin(eps));
  CHECK(g1.bias(0, 1) == Approx(-0.976).margin(eps));
  CHECK(g2.weights(0, 0) == Approx(-1.464).margin(eps));
  CHECK(g2.bias(0, 0) == Approx(-1.22).margin(eps));
  // Learning rate 0: the weights are still the seed's.
  CHECK(net.layer<0>().weights(0, 1) == 0.2);

  const Matrix<double, 1, 2> x({{1, 2}});
  const Matrix<double, 1, 1> y({{3}});
  const NetworkGradients<HandNet> direct = compute_gradients(net, x, y);
  CHECK(direct.loss == Approx(0.7442).margin(eps));
  CHECK(direct.parameters.layer<0>().weights(1, 0) == Approx(-1.464).margin(eps));
  CHECK(loss == Approx(typenet::loss(net, x, y)).margin(eps));  // the forward-only loss agrees
  CHECK(net.predict(x)(0, 0) == Approx(1.78).margin(eps));
}

// --- Seed 003: softmax-with-loss gives (y - t) / N --------------------------------------------------------

namespace {

// A network whose logits are its input: one Dense<4, 4> with identity weights and zero bias.
using SoftmaxNet = BasicNetwork<double, Dense<4, 4>, SoftmaxCrossEntropy>;
constexpr std::size_t softmax_rows = 3;

Matrix<double, softmax_rows, 4> softmax_logits() {
  Matrix<double, softmax_rows, 4> z;
  const double values[softmax_rows][4] = {
      {0.3, -1.2, 2.0, 0.5}, {1.0, 1.0, 1.0, 1.0}, {-3.0, 0.0, 4.5, -0.25}};
  for (std::size_t r = 0; r < softmax_rows; ++r)
    for (std::size_t c = 0; c < 4; ++c) z(r, c) = values[r][c];
  return z;
}

// dL/dz of the softmax-with-loss layer as typenet's backward pass computes it.
template <class Targets>
Matrix<double, softmax_rows, 4> softmax_loss_gradient(const Targets& targets) {
  SoftmaxNet net;
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) net.layer<0>().weights(i, j) = i == j ? 1 : 0;
  Matrix<double, softmax_rows, 4> g;
  detail::Backprop<SoftmaxNet> backprop;
  const Matrix<double, softmax_rows, 4> z = softmax_logits();
  backprop.run(net, z.view(), targets, [&](auto, auto, auto dz) {
    for (std::size_t i = 0; i < dz.size(); ++i) g.data()[i] = dz.data()[i];
  });
  return g;
}

}  // namespace

TEST_CASE("Softmax-with-loss: dL/dz = (y - t) / N for index labels and one-hot rows", "[seeds][softmax]") {
  const Labels<softmax_rows> labels = {2, 0, 3};
  Matrix<double, softmax_rows, 4> one_hot;
  for (std::size_t r = 0; r < softmax_rows; ++r) one_hot(r, labels[r]) = 1;

  const Matrix<double, softmax_rows, 4> from_labels = softmax_loss_gradient(labels);
  const Matrix<double, softmax_rows, 4> from_one_hot = softmax_loss_gradient(one_hot);
  const Matrix<double, softmax_rows, 4> z = softmax_logits();
  for (std::size_t r = 0; r < softmax_rows; ++r) {
    double sum = 0;
    for (std::size_t c = 0; c < 4; ++c) sum += std::exp(z(r, c));
    for (std::size_t c = 0; c < 4; ++c) {
      const double y = std::exp(z(r, c)) / sum;
      const double expected = (y - one_hot(r, c)) / double(softmax_rows);
      CHECK(from_labels(r, c) == Approx(expected).margin(1e-15));
      CHECK(from_one_hot(r, c) == Approx(expected).margin(1e-15));
    }
  }
}

TEST_CASE("Sigmoid derivative y(1 - y) matches a numeric derivative", "[seeds][sigmoid]") {
  const double h = 1e-5;
  for (double x : {-6.0, -2.5, -0.7, 0.0, 0.4, 1.3, 5.0}) {
    const double xs[3] = {x, x + h, x - h};
    double ys[3];
    kernels::activation_forward(xs, ys, 3, kernels::Activation::sigmoid);
    const double y = ys[0];
    const double numeric = (ys[1] - ys[2]) / (2 * h);
    double dy = 0;
    const double one = 1;
    kernels::activation_backward(&y, &one, &dy, 1, kernels::Activation::sigmoid);
    CHECK(dy == Approx(y * (1 - y)).margin(1e-15));
    CHECK(dy == Approx(numeric).margin(1e-9));
    graph::Sigmoid node;
    node.forward(x);
    CHECK(node.backward(1) == Approx(numeric).margin(1e-9));
  }
}

// --- Seed 000: the 784-256-128-10 MLP ---------------------------------------------------------------------

namespace {

using test::Mlp;
using MlpGradients = std::remove_cvref_t<decltype(std::declval<Trainer<Mlp, Adam>&>().gradients())>;
template <std::size_t K>
using MlpLayerGradient =
    std::remove_cvref_t<decltype(std::declval<const MlpGradients&>().template layer<K>())>;

// §4.3.4: grad_w1 (784, 256), grad_b1 (256,), grad_w2 (256, 128), grad_b2 (128,), grad_w3 (128, 10), grad_b3
// (10,): the Dense layers stand at positions 0, 2 and 4.
static_assert(std::is_same_v<decltype(MlpLayerGradient<0>::weights), Matrix<float, 784, 256>>);
static_assert(std::is_same_v<decltype(MlpLayerGradient<0>::bias), RowVector<float, 256>>);
static_assert(std::is_same_v<decltype(MlpLayerGradient<2>::weights), Matrix<float, 256, 128>>);
static_assert(std::is_same_v<decltype(MlpLayerGradient<2>::bias), RowVector<float, 128>>);
static_assert(std::is_same_v<decltype(MlpLayerGradient<4>::weights), Matrix<float, 128, 10>>);
static_assert(std::is_same_v<decltype(MlpLayerGradient<4>::bias), RowVector<float, 10>>);
// The per-batch gradients dL/dz of the backward pass, batch 4: (4, 256), (4, 128), (4, 10).
static_assert(std::is_same_v<decltype(std::declval<detail::Backprop<Mlp>&>().gradient<4, 0>()),
                             MatrixView<float, 4, 256>>);
static_assert(std::is_same_v<decltype(std::declval<detail::Backprop<Mlp>&>().gradient<4, 1>()),
                             MatrixView<float, 4, 128>>);
static_assert(std::is_same_v<decltype(std::declval<detail::Backprop<Mlp>&>().gradient<4, 2>()),
                             MatrixView<float, 4, 10>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 0>::z, Matrix<float, 4, 256>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 2>::input, Matrix<float, 4, 128>>);

}  // namespace

TEST_CASE("784-256-128-10 MLP, batch 4: one backward pass gives finite, non-zero gradients", "[seeds][mlp]") {
  Mlp net{HeNormal{.seed = 42}};
  Matrix<float, 4, 784> x;
  NormalSource source(7);
  for (float& v : x.values()) v = float(source.standard_normal());
  const Labels<4> labels = {3, 1, 4, 1};
  const NetworkGradients<Mlp> g = compute_gradients(net, x, labels);
  CHECK(std::isfinite(g.loss));
  CHECK(g.loss > 0);
  std::size_t tensors = 0;
  g.parameters.for_each_tensor([&](auto tensor) {
    double squares = 0;
    for (float v : tensor.values) squares += double(v) * double(v);
    CHECK(std::isfinite(squares));
    CHECK(squares > 0);
    ++tensors;
  });
  CHECK(tensors == 6);
  // The bias gradient is the column sum of dL/dz, whose rows each sum to 0 at the softmax output.
  double output_bias_sum = 0;
  for (float v : g.parameters.layer<4>().bias.values()) output_bias_sum += v;
  CHECK(output_bias_sum == Approx(0).margin(1e-6));
  for (float norm : g.z_norms) CHECK(norm > 0);
}

TEST_CASE("Dimension flow of the 784-256-128-10 MLP at batch 32 is the seed's table", "[seeds][mlp]") {
  const std::vector<DimensionFlowRow> rows = dimension_flow<Mlp, 32>();
  const std::vector<std::array<std::string, 3>> expected = {
      {"grad_z3 (output)", "(32, 10)", "p - y"},         {"grad_W3", "(128, 10)", "a2^T @ grad_z3"},
      {"grad_b3", "(10,)", "sum(grad_z3, axis=0)"},      {"grad_a2", "(32, 128)", "grad_z3 @ W3^T"},
      {"grad_z2", "(32, 128)", "grad_a2 * a2 * (1-a2)"}, {"grad_W2", "(256, 128)", "a1^T @ grad_z2"},
      {"grad_b2", "(128,)", "sum(grad_z2, axis=0)"},     {"grad_a1", "(32, 256)", "grad_z2 @ W2^T"},
      {"grad_z1", "(32, 256)", "grad_a1 * a1 * (1-a1)"}, {"grad_W1", "(784, 256)", "x^T @ grad_z1"},
      {"grad_b1", "(256,)", "sum(grad_z1, axis=0)"},
  };
  REQUIRE(rows.size() == expected.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].gradient == expected[i][0]);
    CHECK(rows[i].shape == expected[i][1]);
    CHECK(rows[i].computation == expected[i][2]);
  }

  // The printed table, character for character (the seed pads every column, so lines end in spaces).
  const std::string seed_output = R"(
================================================================================
Backward Propagation Dimension Flow
================================================================================
Batch Size: 32

Gradient             Shape                     Computation                   
--------------------------------------------------------------------------------
grad_z3 (output)     (32, 10)                  p - y                         
grad_W3              (128, 10)                 a2^T @ grad_z3                
grad_b3              (10,)                     sum(grad_z3, axis=0)          
grad_a2              (32, 128)                 grad_z3 @ W3^T                
grad_z2              (32, 128)                 grad_a2 * a2 * (1-a2)         
grad_W2              (256, 128)                a1^T @ grad_z2                
grad_b2              (128,)                    sum(grad_z2, axis=0)          
grad_a1              (32, 256)                 grad_z2 @ W2^T                
grad_z1              (32, 256)                 grad_a1 * a1 * (1-a1)         
grad_W1              (784, 256)                x^T @ grad_z1                 
grad_b1              (256,)                    sum(grad_z1, axis=0)          
================================================================================
)";
  CHECK(format_dimension_flow(rows, 32) == seed_output);
}

TEST_CASE("Dimension flow follows the activations and the loss of the network type", "[seeds][mlp]") {
  using Net = Network<Dense<2, 3>, ReLU, Dense<3, 3>, Dense<3, 1>, Sigmoid, MeanSquaredError>;
  const std::vector<DimensionFlowRow> rows = dimension_flow<Net, 5>();
  REQUIRE(rows.size() == 3 * 3 + 2);
  CHECK(rows[0].gradient == "grad_z3 (output)");
  CHECK(rows[0].shape == "(5, 1)");
  CHECK(rows[0].computation == "(y - t) * a3 * (1-a3)");
  CHECK(rows[3].gradient == "grad_a2");
  CHECK(rows[3].shape == "(5, 3)");
  CHECK(rows[4].computation == "grad_a2");  // no activation after the second Dense layer
  CHECK(rows[8].computation == "grad_a1 * (a1 > 0)");
  CHECK(rows[9].gradient == "grad_W1");
  CHECK(rows[9].shape == "(2, 3)");
  CHECK(rows[9].computation == "x^T @ grad_z1");
  CHECK(rows[10].shape == "(3,)");

  using Regression = Network<Dense<4, 2>, MeanSquaredError>;
  const std::vector<DimensionFlowRow> single = dimension_flow<Regression, 8>();
  REQUIRE(single.size() == 3);
  CHECK(single[0].computation == "y - t");
  CHECK(single[1].computation == "x^T @ grad_z1");
}
