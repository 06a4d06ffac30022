// EXPECT: layer_index<2>
// EXPECT: Dense<64, 0>
// EXPECT: a Dense layer of width 0
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 64>, ReLU, Dense<64, 1>, MeanSquaredError>;
#else
using Net = Network<Dense<784, 64>, ReLU, Dense<64, 0>, MeanSquaredError>;
#endif

int main() {
  return Net::input_width == 784 ? 0 : 1;
}
