// Seed 001: the 2-layer ReLU network worked by hand, built as a typenet network and differentiated by
// typenet's own backward pass (through the Trainer, at learning rate 0 so the weights stay put).
//   x = [1, 2], y = 3, W1 = [[0.5, 0.3], [0.2, 0.4]], b1 = [0.1, 0.2], W2 = [0.6, 0.8], b2 = 0.1,
//   L = 1/2 (h2 - y)^2
// The seed writes z1 = W1 x (W1 is Out x In); typenet writes z1 = x W (W is In x Out), so W holds W1^T and
// the weight gradients print transposed relative to the seed.
#include <cstdio>

#include "typenet/typenet.hpp"

using namespace typenet;

int main() {
  using Net = BasicNetwork<double, Dense<2, 2>, ReLU, Dense<2, 1>, MeanSquaredError>;
  Net net;
  net.layer<0>().weights = Matrix<double, 2, 2>({{0.5, 0.2}, {0.3, 0.4}});
  net.layer<0>().bias = RowVector<double, 2>({{0.1, 0.2}});
  net.layer<2>().weights = Matrix<double, 2, 1>({{0.6}, {0.8}});
  net.layer<2>().bias = RowVector<double, 1>({{0.1}});

  const Matrix<double, 1, 2> x({{1, 2}});
  const Matrix<double, 1, 1> y({{3}});

  std::printf("Forward\n");
  std::printf("  h2 = %.4f\n", net.predict(x)(0, 0));  // 1.78

  Trainer trainer(net, Adam{.learning_rate = 0});
  const double loss = trainer.step(x, y);
  const auto& g1 = trainer.gradients().layer<0>();
  const auto& g2 = trainer.gradients().layer<2>();
  std::printf("  L  = %.4f\n\n", loss);  // 0.7442

  std::printf("Backward\n");
  std::printf("  dL/dW2 = [%.4f, %.4f]\n", g2.weights(0, 0), g2.weights(1, 0));  // [-1.464, -1.464]
  std::printf("  dL/db2 = %.4f\n", g2.bias(0, 0));                               // -1.22
  std::printf("  dL/dh1 = dL/dz1 = dL/db1 = [%.4f, %.4f]\n", g1.bias(0, 0),
              g1.bias(0, 1));  // [-0.732, -0.976]
  std::printf("  dL/dW1 (seed layout, Out x In) = [[%.4f, %.4f], [%.4f, %.4f]]\n", g1.weights(0, 0),
              g1.weights(1, 0), g1.weights(0, 1), g1.weights(1, 1));  // [[-0.732, -1.464], [-0.976, -1.952]]
  std::printf("  ||dL/dz|| per layer: %.4f, %.4f\n", trainer.gradient_norms()[0],
              trainer.gradient_norms()[1]);
  return 0;
}
