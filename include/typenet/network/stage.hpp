// A stage: one Dense layer and the activation written after it, run as one fused kernel pass.
#pragma once

#include <cstddef>
#include <string>

#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/dense.hpp"

namespace typenet::detail {

// Position: where the Dense layer stands in the list the user wrote (for messages).
template <std::size_t In, std::size_t Out, kernels::Activation Act, std::size_t Position>
struct DenseStage {
  using layer = Dense<In, Out>;
  static constexpr std::size_t input_width = In;
  static constexpr std::size_t output_width = Out;
  static constexpr kernels::Activation activation = Act;
  static constexpr std::size_t position = Position;

  // "layer 2 (Dense<256, 128> + Sigmoid)"
  static std::string describe() {
    std::string text = "layer " + std::to_string(Position) + " (Dense<" + std::to_string(In) + ", " +
                       std::to_string(Out) + ">";
    if (Act == kernels::Activation::sigmoid) text += " + Sigmoid";
    if (Act == kernels::Activation::relu) text += " + ReLU";
    return text + ")";
  }
};

}  // namespace typenet::detail
