// A Residual block without layers would compute 2x: it is an error.
// EXPECT: layer_index<2>
// EXPECT: a Residual block needs layers
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>>, Dense<16, 3>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<8, 16>, ReLU, Residual<>, Dense<16, 3>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 3 ? 0 : 1;
}
