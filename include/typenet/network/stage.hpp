// A stage: one Dense layer and the activation written after it, run as one fused kernel pass.
#pragma once

#include <cstddef>

#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/dense.hpp"

namespace typenet::detail {

template <std::size_t In, std::size_t Out, kernels::Activation Act>
struct DenseStage {
  using layer = Dense<In, Out>;
  static constexpr std::size_t input_width = In;
  static constexpr std::size_t output_width = Out;
  static constexpr kernels::Activation activation = Act;
};

}  // namespace typenet::detail
