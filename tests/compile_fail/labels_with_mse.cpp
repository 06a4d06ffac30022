// EXPECT: loss_accepts_class_labels<typenet::MeanSquaredError>
// EXPECT: class labels need SoftmaxCrossEntropy
#include <typenet/typenet.hpp>

using namespace typenet;
using Net = Network<Dense<4, 3>, Sigmoid, MeanSquaredError>;

int main() {
  Net net;
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  Matrix<float, 2, 4> x;
#ifdef TYPENET_EXPECT_SUCCESS
  Matrix<float, 2, 3> targets;
  return trainer.step(x, targets) > 0 ? 0 : 1;
#else
  Labels<2> labels{};
  return trainer.step(x, labels) > 0 ? 0 : 1;
#endif
}
