// EXPECT: layer_index<0>
// EXPECT: Sigmoid
// EXPECT: a network starts with a Dense layer
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 10>, Sigmoid, MeanSquaredError>;
#else
using Net = Network<Sigmoid, Dense<784, 10>, MeanSquaredError>;
#endif

int main() {
  return Net::input_width == 784 ? 0 : 1;
}
