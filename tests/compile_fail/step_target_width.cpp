// EXPECT: network_output_width<10>
// EXPECT: given_width<5>
// EXPECT: the target matrix's width differs from the network's output width
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
  Trainer trainer(net, Adam{});
  Matrix<float, 8, 784> images;
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 8, 10> one_hot;
#else
  Matrix<float, 8, 5> one_hot;
#endif
  return trainer.step(images, one_hot) > 0 ? 0 : 1;
}
