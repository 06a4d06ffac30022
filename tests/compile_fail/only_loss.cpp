// EXPECT: layer_index<0>
// EXPECT: SoftmaxCrossEntropy
// EXPECT: a network starts with a Dense layer
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<4, 2>, SoftmaxCrossEntropy>;
#else
using Net = Network<SoftmaxCrossEntropy>;
#endif

int main() {
  Net net;
  return net.classify(Matrix<float, 1, Net::input_width>{}).size() == 1 ? 0 : 1;
}
