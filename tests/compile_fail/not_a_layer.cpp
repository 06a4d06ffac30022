// EXPECT: layer_index<2>
// EXPECT: PlainStruct
// EXPECT: this type is not a layer: see the layer contract in typenet/layers/contract.hpp
#include <typenet/typenet.hpp>

using namespace typenet;
struct PlainStruct {};  // a type that does not follow the contract (no name, no output_shape, no forward)
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<784, 32>, Sigmoid, PlainStruct, Dense<32, 10>, SoftmaxCrossEntropy>;
#endif

int main() {
  Net net;
  return Net::input_width == 784 && net.classify(Matrix<float, 1, 784>{}).size() == 1 ? 0 : 1;
}
