// Seed 003: softmax-with-loss sends (y - t) / N back to the logits, whether the labels are class indices or
// one-hot rows; seed 004: the sigmoid's derivative is y (1 - y), checked here against a numeric derivative.
#include <cmath>
#include <cstdio>

#include "typenet/typenet.hpp"

using namespace typenet;

int main() {
  // A network whose logits are its input: Dense<3, 3> with identity weights and zero bias. The bias gradient
  // is then the column sum of dL/dz; with one row per batch it is dL/dz itself.
  using Net = BasicNetwork<double, Dense<3, 3>, SoftmaxCrossEntropy>;
  Net net;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) net.layer<0>().weights(i, j) = i == j ? 1 : 0;

  Matrix<double, 1, 3> z;
  z(0, 0) = 0.3;
  z(0, 1) = 2.9;
  z(0, 2) = 4.0;
  const Labels<1> label = {2};
  Matrix<double, 1, 3> one_hot;
  one_hot(0, 2) = 1;

  const Matrix<double, 1, 3> y = net.predict(z);
  const auto by_index = compute_gradients(net, z, label);
  const auto by_one_hot = compute_gradients(net, z, one_hot);
  std::printf("Softmax with loss (N = 1, correct class 2)\n");
  std::printf("  y = softmax(z)      = [%.6f, %.6f, %.6f]\n", y(0, 0), y(0, 1), y(0, 2));
  std::printf("  y - t               = [%.6f, %.6f, %.6f]\n", y(0, 0), y(0, 1), y(0, 2) - 1);
  const auto& db_index = by_index.parameters.layer<0>().bias;
  const auto& db_one_hot = by_one_hot.parameters.layer<0>().bias;
  std::printf("  dL/dz (label index) = [%.6f, %.6f, %.6f]\n", db_index(0, 0), db_index(0, 1), db_index(0, 2));
  std::printf("  dL/dz (one-hot row) = [%.6f, %.6f, %.6f]\n", db_one_hot(0, 0), db_one_hot(0, 1),
              db_one_hot(0, 2));
  std::printf("  loss = -log y[2]    = %.6f (typenet: %.6f)\n\n", -std::log(y(0, 2)), by_index.loss);

  std::printf("Sigmoid derivative: y (1 - y) against (s(x + h) - s(x - h)) / 2h, h = 1e-5\n");
  for (double x : {-4.0, -1.0, 0.0, 0.5, 2.0}) {
    graph::Sigmoid s;
    const double h = 1e-5;
    const double up = s.forward(x + h), down = s.forward(x - h);
    const double out = s.forward(x);
    std::printf("  x = %5.2f  y(1 - y) = %.10f  numeric = %.10f  backward(1) = %.10f\n", x, out * (1 - out),
                (up - down) / (2 * h), s.backward(1));
  }
  return 0;
}
