// The loss of one batch from the network's last outputs: the one place that checks class labels and picks
// the loss kernel, shared by training (which also wants the gradient) and the introspection helpers (which
// want the value only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace typenet::detail {

// A label must index one of the Classes outputs; std::out_of_range names the first that does not.
template <std::size_t Classes, std::size_t B>
void check_labels(const Labels<B>& labels) {
  for (std::size_t r = 0; r < B; ++r)
    if (labels[r] >= Classes)
      throw std::out_of_range("typenet: label " + std::to_string(labels[r]) + " in row " + std::to_string(r) +
                              " is not a class index below " + std::to_string(Classes));
}

// Loss of B rows of `outputs` (the last layer's, Width wide) against `targets`: Labels<B> (softmax
// cross-entropy only) or B x Width target rows. Writes the probabilities (softmax cross-entropy) and, when
// `gradient` is not null, dL/d(outputs).
template <class Loss, std::size_t Width, std::size_t B, class T, class Targets>
T batch_loss(const T* outputs, const Targets& targets, T* probabilities, T* gradient) {
  if constexpr (std::is_same_v<Loss, SoftmaxCrossEntropy>) {
    if constexpr (std::is_same_v<Targets, Labels<B>>) check_labels<Width>(targets);
    return kernels::softmax_cross_entropy(outputs, targets.data(), probabilities, gradient, B, Width);
  } else {
    static_assert(!std::is_same_v<Targets, Labels<B>>,
                  "typenet: MeanSquaredError takes target rows (a Matrix), not class labels");
    return kernels::mean_squared_error(outputs, targets.data(), gradient, B, Width);
  }
}

}  // namespace typenet::detail
