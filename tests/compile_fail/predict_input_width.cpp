// EXPECT: network_input_width<784>
// EXPECT: given_width<28>
// EXPECT: the input matrix's width differs from the network's input width
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 3, 784> images;
#else
  Matrix<float, 3, 28> images;
#endif
  return net.classify(images).size() == 3 ? 0 : 1;
}
