// EXPECT: network_input_width<784>
// EXPECT: given_width<100>
// EXPECT: the input matrix's width differs from the network's input width
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
  Trainer trainer(net, SGD{.learning_rate = 0.1});
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 8, 784> images;
#else
  Matrix<float, 8, 100> images;
#endif
  Labels<8> labels{};
  return trainer.step(images, labels) > 0 ? 0 : 1;
}
