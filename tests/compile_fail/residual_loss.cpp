// A loss ends the network: inside a Residual block (here its layer 1) it is an error.
// EXPECT: layer_in_block<(typenet::)?layer_index<2>, 1>
// EXPECT: a Residual block holds no loss
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, ReLU>, Dense<16, 3>, SoftmaxCrossEntropy>;
#else
using Net =
    Network<Dense<8, 16>, ReLU, Residual<Dense<16, 16>, MeanSquaredError>, Dense<16, 3>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 3 ? 0 : 1;
}
