// Flatten makes a vector; a convolution needs an image.
// EXPECT: layer_index<2>
// EXPECT: Conv2D<1, 2, 3(, 1, 0)?>
// EXPECT: flattened<(typenet::)?previous_layer_outputs<1, 8, 8>, 64>
// EXPECT: Conv2D needs an image Shape<C, H, W>; it cannot follow Flatten or Dense
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Input<1, 8, 8>, Conv2D<1, 2, 3>, Flatten, Dense<72, 2>, SoftmaxCrossEntropy>;
#else
using Net = Network<Input<1, 8, 8>, Flatten, Conv2D<1, 2, 3>, Dense<72, 2>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 2 ? 0 : 1;
}
