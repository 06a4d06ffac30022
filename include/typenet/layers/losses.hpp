// The losses, always the last layer of a network (layers/contract.hpp).
// SoftmaxCrossEntropy: softmax over the last layer's outputs, then the mean cross-entropy over the batch; its
// gradient with respect to the logits is (p - t) / N (seed 003: why softmax + CE gives y - t).
// MeanSquaredError: L = 1/2 * sum((y - t)^2) / N, gradient (y - t) / N (seed 001).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "typenet/core/shape.hpp"
#include "typenet/kernels/kernels.hpp"

namespace typenet {

struct SoftmaxCrossEntropy {
  static constexpr bool is_loss = true;
  static constexpr bool accepts_class_labels = true;
  static constexpr bool outputs_probabilities = true;
  static std::string name() { return "SoftmaxCrossEntropy"; }
  template <ShapeType Received>
  using output_shape = Received;

  template <class T, class Targets>  // const std::uint32_t* labels or const T* target rows
  static T loss(const T* logits, Targets targets, T* probabilities, T* gradient, std::size_t rows,
                std::size_t cols) {
    return kernels::softmax_cross_entropy(logits, targets, probabilities, gradient, rows, cols);
  }
  template <class T>
  static void predict(const T* logits, T* probabilities, std::size_t rows, std::size_t cols) {
    kernels::softmax(logits, probabilities, rows, cols);
  }
};

struct MeanSquaredError {
  static constexpr bool is_loss = true;
  static constexpr bool accepts_class_labels = false;
  static constexpr bool outputs_probabilities = false;
  static std::string name() { return "MeanSquaredError"; }
  template <ShapeType Received>
  using output_shape = Received;

  template <class T>
  static T loss(const T* y, const T* targets, T* /*predictions: y itself*/, T* gradient, std::size_t rows,
                std::size_t cols) {
    return kernels::mean_squared_error(y, targets, gradient, rows, cols);
  }
  template <class T>
  static void predict(const T* y, T* predictions, std::size_t rows, std::size_t cols) {
    if (y != predictions) std::copy(y, y + rows * cols, predictions);  // the outputs are the predictions
  }
};

}  // namespace typenet
