// EXPECT: layer_index<1>
// EXPECT: SoftmaxCrossEntropy
// EXPECT: layer_count<3>
// EXPECT: the loss must be the last layer of the network
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<784, 64>, Dense<64, 10>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<784, 64>, SoftmaxCrossEntropy, Dense<64, 10> >;
#endif

int main() {
  return Net::output_width == 10 ? 0 : 1;
}
