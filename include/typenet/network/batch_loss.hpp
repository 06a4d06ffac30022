// The loss of one batch from the network's last outputs: the one place that checks class labels and calls
// the loss layer (layers/contract.hpp), shared by training (which also wants the gradient) and the
// introspection helpers (which want the value only).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "typenet/core/error.hpp"

namespace typenet::detail {

// A label must index one of the Classes outputs; a LabelError names the first that does not.
template <std::size_t Classes, std::size_t B>
void check_labels(const std::array<std::uint32_t, B>& labels) {
  for (std::size_t r = 0; r < B; ++r)
    if (labels[r] >= Classes)
      throw LabelError("typenet: label " + std::to_string(labels[r]) + " in row " + std::to_string(r) +
                       " is not a class index below " + std::to_string(Classes) +
                       " (the network's output width)");
}

// Loss of B rows of `outputs` (the last layer's, Width wide) against `targets`: Labels<B> or a B x Width
// target matrix. Writes the loss's predictions (softmax cross-entropy: the probabilities) and, when
// `gradient` is not null, dL/d(outputs).
template <class Loss, std::size_t Width, std::size_t B, class T, class Targets>
T batch_loss(const T* outputs, const Targets& targets, T* predictions, T* gradient) {
  if constexpr (std::is_same_v<Targets, std::array<std::uint32_t, B>>) {
    check_labels<Width>(targets);
    return Loss::loss(outputs, static_cast<const std::uint32_t*>(targets.data()), predictions, gradient, B,
                      Width);
  } else {
    return Loss::loss(outputs, static_cast<const T*>(targets.data()), predictions, gradient, B, Width);
  }
}

}  // namespace typenet::detail
