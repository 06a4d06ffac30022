// The loss of one batch from the network's last outputs: the one place that checks class labels and calls
// the loss layer (layers/contract.hpp), shared by training (which also wants the gradient) and the
// introspection helpers (which want the value only).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "typenet/core/error.hpp"

namespace typenet::detail {

// A label must index one of the Classes outputs; a LabelError names the first that does not.
template <std::size_t Classes>
void check_labels(const std::uint32_t* labels, std::size_t rows) {
  for (std::size_t r = 0; r < rows; ++r)
    if (labels[r] >= Classes)
      throw LabelError("typenet: label " + std::to_string(labels[r]) + " in row " + std::to_string(r) +
                       " is not a class index below " + std::to_string(Classes) +
                       " (the network's output width)");
}

template <class Targets>
concept class_labels = std::is_same_v<std::remove_cv_t<typename Targets::value_type>, std::uint32_t>;

// Loss of `rows` rows of `outputs` (the last layer's, Width wide) against `targets`: class labels
// (Labels<B>, a span of labels) or target rows (a Matrix or MatrixView). Writes the loss's predictions
// (softmax cross-entropy: the probabilities) and, when `gradient` is not null, dL/d(outputs).
template <class Loss, std::size_t Width, class T, class Targets>
T batch_loss(const T* outputs, const Targets& targets, std::size_t rows, T* predictions, T* gradient) {
  if constexpr (class_labels<Targets>) {
    const std::uint32_t* labels = targets.data();
    check_labels<Width>(labels, rows);
    return Loss::loss(outputs, labels, predictions, gradient, rows, Width);
  } else {
    return Loss::loss(outputs, static_cast<const T*>(targets.data()), predictions, gradient, rows, Width);
  }
}

}  // namespace typenet::detail
