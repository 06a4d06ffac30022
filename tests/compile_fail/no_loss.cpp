// EXPECT: loss_count<0>
// EXPECT: a network ends with exactly one loss
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 10>, Sigmoid, MeanSquaredError>;
#else
using Net = Network<Dense<784, 10>, Sigmoid>;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
