// An activation fuses into the layer before it: first in a Residual block there is none to fuse into.
// EXPECT: layer_in_block<(typenet::)?layer_index<1>, 0>
// EXPECT: ReLU
// EXPECT: an activation must directly follow
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU>, Dense<16, 3>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<8, 16>, Residual<ReLU, Dense<16, 16> >, Dense<16, 3>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 3 ? 0 : 1;
}
