// A Dropout that drops everything (rate 100 / 100) would scale what it keeps by 1 / 0.
// EXPECT: layer_index<2>
// EXPECT: Dropout<100(, 100)?>
// EXPECT: a Dropout rate N / D must be below 1
#include <typenet/typenet.hpp>

using namespace typenet;
#ifdef TYPENET_EXPECT_SUCCESS
using Net = Network<Dense<4, 8>, ReLU, Dropout<50>, Dense<8, 2>, SoftmaxCrossEntropy>;
#else
using Net = Network<Dense<4, 8>, ReLU, Dropout<100>, Dense<8, 2>, SoftmaxCrossEntropy>;
#endif

int main() {
  return Net::output_width == 2 ? 0 : 1;
}
