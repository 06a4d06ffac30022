// A stride of 0 would never move the kernel.
// EXPECT: layer_index<1>
// EXPECT: Conv2D<1, 6, 5, 0(, 0)?>
// EXPECT: a Conv2D stride of 0
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1>, ReLU, Flatten, Dense<3456, 10>, SoftmaxCrossEntropy>;
#else
using Net =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 0>, ReLU, Flatten, Dense<3456, 10>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
