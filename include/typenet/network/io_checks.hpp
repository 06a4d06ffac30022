// Compile-time checks of what a user passes to a network: input width, label and target shapes. Like the
// layer checks, each is one named function with a tagged trait, so the error names both numbers.
#pragma once

#include <cstddef>
#include <type_traits>

namespace typenet {

template <std::size_t Width>
struct network_input_width {};
template <std::size_t Width>
struct network_output_width {};
template <std::size_t Width>
struct given_width {};
template <std::size_t Rows>
struct input_batch {};
template <std::size_t Rows>
struct label_batch {};
template <std::size_t Rows>
struct output_rows {};
template <std::size_t Rows>
struct next_batch {};
template <std::size_t Width>
struct next_width {};

template <class NetworkInputWidth, class GivenWidth>
struct input_fits_network {
  static constexpr bool value = false;
};
template <std::size_t W>
struct input_fits_network<network_input_width<W>, given_width<W>> {
  static constexpr bool value = true;
};

template <class NetworkOutputWidth, class GivenWidth>
struct targets_fit_network {
  static constexpr bool value = false;
};
template <std::size_t W>
struct targets_fit_network<network_output_width<W>, given_width<W>> {
  static constexpr bool value = true;
};

template <class InputBatch, class LabelBatch>
struct labels_match_batch {
  static constexpr bool value = false;
};
template <std::size_t B>
struct labels_match_batch<input_batch<B>, label_batch<B>> {
  static constexpr bool value = true;
};

template <class InputBatch, class InputWidth, class NextBatch, class NextWidth>
struct next_matches_input {
  static constexpr bool value = false;
};
template <std::size_t B, std::size_t W>
struct next_matches_input<input_batch<B>, given_width<W>, next_batch<B>, next_width<W>> {
  static constexpr bool value = true;
};

template <class Loss>
struct loss_accepts_class_labels {
  static constexpr bool value = Loss::outputs_probabilities;
};

namespace detail {

template <class Loss>
constexpr bool check_loss_accepts_labels() {
  static_assert(loss_accepts_class_labels<Loss>::value,
                "typenet: class labels need SoftmaxCrossEntropy; MeanSquaredError takes a target matrix");
  return true;
}

template <class NetworkInputWidth, class GivenWidth>
constexpr bool check_input_width() {
  static_assert(input_fits_network<NetworkInputWidth, GivenWidth>::value,
                "typenet: the input matrix's width differs from the network's input width");
  return true;
}

template <class NetworkOutputWidth, class GivenWidth>
constexpr bool check_target_width() {
  static_assert(targets_fit_network<NetworkOutputWidth, GivenWidth>::value,
                "typenet: the target matrix's width differs from the network's output width");
  return true;
}

template <class InputBatch, class LabelBatch>
constexpr bool check_label_batch() {
  static_assert(labels_match_batch<InputBatch, LabelBatch>::value,
                "typenet: the labels (or targets) are for another batch size than the input");
  return true;
}

// Trainer::step(x, targets, next): next is the following step's input, so it has x's shape.
template <class InputBatch, class InputWidth, class NextBatch, class NextWidth>
constexpr bool check_next_input() {
  static_assert(
      next_matches_input<InputBatch, InputWidth, NextBatch, NextWidth>::value,
      "typenet: the next step's input (step's third argument) differs in shape from this step's input");
  return true;
}

}  // namespace detail
}  // namespace typenet
