// Sigmoid and ReLU: element-wise activations (layers/contract.hpp). Each is fused into the layer written
// before it; the derivative is written through the output a: sigmoid a(1 - a) (seed 004), ReLU [a > 0]
// (seed 003).
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

}  // namespace typenet
