// EXPECT: layer_index<2>
// EXPECT: ReLU
// EXPECT: previous_layer<typenet::Sigmoid>
// EXPECT: an activation must directly follow a Dense layer
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 10>, ReLU, MeanSquaredError>;
#else
using Net = Network<Dense<784, 10>, Sigmoid, ReLU, MeanSquaredError>;
#endif

int main() {
  return Net::input_width == 784 ? 0 : 1;
}
