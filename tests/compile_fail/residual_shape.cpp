// A Residual block adds its input to what its layers produce: here they produce 8 values from 16.
// EXPECT: layer_index<2>
// EXPECT: block_receives<16>
// EXPECT: block_produces<8>
// EXPECT: a Residual block's layers must produce the shape the block receives
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU, Dense<16, 16>>, Dense<16, 3>,
                    SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU, Dense<16, 8>>, Dense<16, 3>,
                    SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 3 ? 0 : 1;
}
