// A layer inside a Residual block is checked where it stands in the block: layer 2 of the block at layer 2
// receives 16 values, not the 12 it is written for.
// EXPECT: layer_in_block<(typenet::)?layer_index<2>, 2>
// EXPECT: Dense<12, 16>
// EXPECT: previous_layer_outputs<16>
// EXPECT: this layer's input width differs from the previous layer's output width
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 12>, ReLU, Dense<12, 16>>, Dense<16, 3>,
                    SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU, Dense<12, 16>>, Dense<16, 3>,
                    SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 3 ? 0 : 1;
}
