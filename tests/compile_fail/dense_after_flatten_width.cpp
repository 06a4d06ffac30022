// LeNet's Flatten gives 16 x 5 x 5 = 400 values; Dense<256, 120> expects 256.
// EXPECT: layer_index<8>
// EXPECT: Dense<256, 120>
// EXPECT: flattened<(typenet::)?previous_layer_outputs<16, 5, 5>, 400>
// EXPECT: needs In = C\*H\*W of the image it flattens
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
constexpr std::size_t width = 400;
#else
constexpr std::size_t width = 256;
#endif
using Net =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,
            Flatten, Dense<width, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
