// Seed 000 §4.3.4-4.3.7: the 784-256-128-10 sigmoid MLP, He-initialised, one backward pass on a batch of 4.
// The gradient shapes are types (checked below at compile time); the statistics, the per-layer gradient
// norms ||grad_z|| (the gradient flow of §4.3.6) and the dimension table of §4.3.7 are printed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <type_traits>

#include "typenet/typenet.hpp"

using namespace typenet;

using Mlp = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

// grad_w1 (784, 256), grad_b1 (256,), ... : each gradient has its parameter's type.
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 0>::weights, Matrix<float, 784, 256>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 0>::bias, RowVector<float, 256>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 1>::weights, Matrix<float, 256, 128>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 2>::weights, Matrix<float, 128, 10>>);
static_assert(std::is_same_v<GradientShapes<Mlp, 4, 2>::z, Matrix<float, 4, 10>>);

int main() {
  Mlp net{HeNormal{.seed = 42}};  // W ~ N(0, 2 / fan_in), b = 0

  // Dummy data: x ~ N(0, 1), random classes.
  Matrix<float, 4, 784> x;
  NormalSource source(7);
  for (float& v : x.values()) v = float(source.standard_normal());
  Labels<4> labels{};
  for (auto& label : labels) label = std::uint32_t(source.engine()() % 10);

  const NetworkGradients<Mlp> g = compute_gradients(net, x, labels);

  std::printf("============================================================\n");
  std::printf("Backward Propagation Example\n");
  std::printf("============================================================\n\n");
  std::printf("[Parameter Gradient Shapes]\n");
  // The seed's math names: w1 is the first layer with parameters (typenet's layer 0), w2 the second (layer
  // 2).
  std::size_t w = 0;
  g.parameters.for_each_tensor([&](auto tensor) {
    if (tensor.kind == TensorKind::weights)
      std::printf("grad_w%zu: (%zu, %zu)\n", ++w, tensor.rows, tensor.cols);
    else
      std::printf("grad_b%zu: (%zu,)\n", w, tensor.cols);
  });

  std::printf("\n[Gradient Statistics]\n");
  w = 0;
  g.parameters.for_each_tensor([&](auto tensor) {
    if (tensor.kind != TensorKind::weights) return;
    ++w;
    double sum = 0, squares = 0;
    for (float v : tensor.values) {
      sum += v;
      squares += double(v) * double(v);
    }
    const double n = double(tensor.values.size());
    const double mean = sum / n;
    std::printf("grad_w%zu - mean: %.6f, std: %.6f\n", w, mean, std::sqrt(squares / n - mean * mean));
  });

  std::printf("\n[Gradient Flow: ||grad_z|| per layer]\n");
  for (std::size_t k = 0; k < Mlp::stage_count; ++k)
    std::printf("Layer %zu: %.4f\n", k + 1, double(g.z_norms[k]));
  std::printf("loss: %.4f\n", double(g.loss));

  print_dimension_flow<Mlp, 32>(std::cout);
  return 0;
}
