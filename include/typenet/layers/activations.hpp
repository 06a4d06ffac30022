// Sigmoid, ReLU, Tanh and LeakyReLU: element-wise activations (layers/contract.hpp). Each is fused into the
// layer written before it; the derivative is written through the output a: sigmoid a(1 - a) (seed 004), ReLU
// [a > 0] (seed 003), tanh 1 - a^2, LeakyReLU 1 for a > 0 and 0.01 otherwise.
#pragma once

#include <string>

#include "typenet/core/shape.hpp"
#include "typenet/kernels/kernels.hpp"

namespace typenet {

struct Sigmoid {
  static constexpr kernels::Activation activation = kernels::Activation::sigmoid;
  static std::string name() { return "Sigmoid"; }
  template <ShapeType Received>
  using output_shape = Received;
};

struct ReLU {
  static constexpr kernels::Activation activation = kernels::Activation::relu;
  static std::string name() { return "ReLU"; }
  template <ShapeType Received>
  using output_shape = Received;
};

// tanh(z) = (e^z - e^-z) / (e^z + e^-z): zero-centred, saturating at +-1 (a remedy the notes give for
// sigmoid's all-positive outputs).
struct Tanh {
  static constexpr kernels::Activation activation = kernels::Activation::tanh;
  static std::string name() { return "Tanh"; }
  template <ShapeType Received>
  using output_shape = Received;
};

// z for z > 0, 0.01 z otherwise: ReLU that keeps a gradient for negative inputs. The slope is PyTorch's
// default negative_slope (kernels::leaky_relu_slope), fixed so that the fused kernels need no argument.
struct LeakyReLU {
  static constexpr kernels::Activation activation = kernels::Activation::leaky_relu;
  static std::string name() { return "LeakyReLU"; }
  template <ShapeType Received>
  using output_shape = Received;
};

}  // namespace typenet
