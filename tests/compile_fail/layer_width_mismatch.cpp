// Layer 2 expects 128 inputs, but layer 0 (through the width-preserving Sigmoid) produces 256.
// EXPECT: layer_index<2>
// EXPECT: Dense<128, 10>
// EXPECT: previous_layer_outputs<256>
// EXPECT: this layer's input width differs from the previous layer's output width
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 256>, Sigmoid, Dense<256, 10>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<784, 256>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
