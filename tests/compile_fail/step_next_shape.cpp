// EXPECT: input_batch<1>
// EXPECT: next_batch<2>
// EXPECT: the next step's input \(step's third argument\) differs in shape from this step's input
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

int main() {
  Net net;
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  Matrix<float, 1, 784> image;
  Labels<1> label{};
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 1, 784> next;
#else
  Matrix<float, 2, 784> next;
#endif
  return trainer.step(image, label, next) > 0 ? 0 : 1;
}
