// EXPECT: input_batch<8>
// EXPECT: label_batch<16>
// EXPECT: the labels \(or targets\) are for another batch size than the input
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  Matrix<float, 8, 784> images;
#ifdef TYPENET_EXPECT_SUCCESS
  Labels<8> labels{};
#else
  Labels<16> labels{};
#endif
  return trainer.step(images, labels) > 0 ? 0 : 1;
}
