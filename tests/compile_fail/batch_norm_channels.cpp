// BatchNorm<C> normalises C features or channels: here it receives 8 features from Dense<4, 8>.
// EXPECT: layer_index<2>
// EXPECT: BatchNorm<6>
// EXPECT: previous_layer_outputs<8>
// EXPECT: BatchNorm<C> needs C = the features
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Input<4>, Dense<4, 8>, BatchNorm<8>, ReLU, Dense<8, 2>, SoftmaxCrossEntropy>;
#else
using Net = Network<Input<4>, Dense<4, 8>, BatchNorm<6>, ReLU, Dense<8, 2>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 2 ? 0 : 1;
}
