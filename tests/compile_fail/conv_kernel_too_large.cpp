// A 7x7 kernel over a 4x4 image padded by 1 (6x6): one error, though the Dense after it was sized for the
// intended output (layers after the first misfit are not checked).
// EXPECT: layer_index<1>
// EXPECT: Conv2D<1, 2, 7, 1, 1>
// EXPECT: previous_layer_outputs<1, 4, 4>
// EXPECT: kernel is larger than its padded input
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Input<1, 4, 4>, Conv2D<1, 2, 3, 1, 1>, ReLU, Flatten, Dense<32, 2>, SoftmaxCrossEntropy>;
#else
using Net = Network<Input<1, 4, 4>, Conv2D<1, 2, 7, 1, 1>, ReLU, Flatten, Dense<32, 2>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 2 ? 0 : 1;
}
