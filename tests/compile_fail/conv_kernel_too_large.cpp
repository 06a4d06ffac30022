// A 7x7 kernel over a 4x4 image padded by 1 (6x6).
// EXPECT: layer_index<1>
// EXPECT: Conv2D<1, 2, 7, 1, 1>
// EXPECT: previous_layer_outputs<1, 4, 4>
// EXPECT: kernel is larger than its padded input
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Input<1, 4, 4>, Conv2D<1, 2, 3, 1, 1>, Sigmoid, Flatten, MeanSquaredError>;
#else
using Net = Network<Input<1, 4, 4>, Conv2D<1, 2, 7, 1, 1>, Sigmoid, Flatten, MeanSquaredError>;
#endif

int main() {
  return Net::input_width == 16 ? 0 : 1;
}
