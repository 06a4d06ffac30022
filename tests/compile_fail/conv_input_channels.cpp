// Conv2D<3, 6, 5> expects 3 channels, but Input<1, 28, 28> gives it one.
// EXPECT: layer_index<1>
// EXPECT: Conv2D<3, 6, 5(, 1, 0)?>
// EXPECT: previous_layer_outputs<1, 28, 28>
// EXPECT: InChannels differ from the channels C of the image it receives
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Input<1, 28, 28>, Conv2D<1, 6, 5>, ReLU, Flatten, Dense<3456, 10>, SoftmaxCrossEntropy>;
#else
using Net = Network<Input<1, 28, 28>, Conv2D<3, 6, 5>, ReLU, Flatten, Dense<3456, 10>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
