// EXPECT: network_scalar<float>
// EXPECT: given_scalar<double>
// EXPECT: the matrix's scalar type differs from the network's
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
  Trainer trainer(net, SGD{});
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 8, 784> x;
#else
  Matrix<double, 8, 784> x;
#endif
  Labels<8> labels{};
  return trainer.step(x, labels) >= 0 ? 0 : 1;
}
