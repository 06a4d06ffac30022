// The losses, always the last layer of a network.
// SoftmaxCrossEntropy: softmax over the last layer's outputs, then the mean cross-entropy over the batch; its
// gradient with respect to the logits is (p - t) / N (seed 003: why softmax + CE gives y - t).
// MeanSquaredError: L = 1/2 * sum((y - t)^2) / N, gradient (y - t) / N (seed 001).
#pragma once

#include "typenet/layers/layer_traits.hpp"

namespace typenet {

struct SoftmaxCrossEntropy {
  static constexpr bool outputs_probabilities = true;
};

struct MeanSquaredError {
  static constexpr bool outputs_probabilities = false;
};

}  // namespace typenet
