// A Dense layer straight after an image: the message says to add Flatten.
// EXPECT: layer_index<3>
// EXPECT: Dense<400, 10>
// EXPECT: previous_layer_outputs<16, 5, 5>
// EXPECT: add Flatten before it
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net =
    Network<Input<3, 14, 14>, Conv2D<3, 16, 5>, MaxPool2D<2>, Flatten, Dense<400, 10>, SoftmaxCrossEntropy>;
#else
using Net = Network<Input<3, 14, 14>, Conv2D<3, 16, 5>, MaxPool2D<2>, Dense<400, 10>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
