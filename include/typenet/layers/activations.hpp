// Sigmoid and ReLU: width-preserving layers. Following a Dense layer they are fused into its kernels; the
// derivative is written through the output a: sigmoid a(1 - a) (seed 004), ReLU [a > 0] (seed 003).
#pragma once

#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/layer_traits.hpp"

namespace typenet {

struct Sigmoid {
  static constexpr kernels::Activation activation = kernels::Activation::sigmoid;
};

struct ReLU {
  static constexpr kernels::Activation activation = kernels::Activation::relu;
};

}  // namespace typenet
