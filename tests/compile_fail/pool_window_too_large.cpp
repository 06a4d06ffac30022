// Conv2D<1, 2, 5> turns 6x6 into 2x2: a 3x3 pooling window does not fit.
// EXPECT: layer_index<3>
// EXPECT: MaxPool2D<3(, 3)?>
// EXPECT: previous_layer_outputs<2, 2, 2>
// EXPECT: window is larger than the image it receives
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net =
    Network<Input<1, 6, 6>, Conv2D<1, 2, 5>, ReLU, MaxPool2D<2>, Flatten, Dense<2, 2>, SoftmaxCrossEntropy>;
#else
using Net =
    Network<Input<1, 6, 6>, Conv2D<1, 2, 5>, ReLU, MaxPool2D<3>, Flatten, Dense<2, 2>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 2 ? 0 : 1;
}
