// Compile-time checks of what a user passes to a network: scalar type, input width, label and target shapes.
// Like the layer checks, each is one named function with a tagged trait, so the error names both numbers;
// check_step_arguments runs them for every function that takes a batch and its targets (Trainer::step, loss,
// compute_gradients, gradient_check).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "typenet/core/error.hpp"
#include "typenet/core/matrix_view.hpp"

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
template <class T>
struct network_scalar {};
template <class T>
struct given_scalar {};

template <class NetworkScalar, class GivenScalar>
struct scalar_types_match {
  static constexpr bool value = false;
};
template <class T>
struct scalar_types_match<network_scalar<T>, given_scalar<T>> {
  static constexpr bool value = true;
};

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
  static constexpr bool value = Loss::accepts_class_labels;
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

template <class NetworkScalar, class GivenScalar>
constexpr bool check_scalar_type() {
  static_assert(scalar_types_match<NetworkScalar, GivenScalar>::value,
                "typenet: the matrix's scalar type differs from the network's (float: Network, double: "
                "BasicNetwork<double, ...>)");
  return true;
}

// What a step's targets are: class labels (std::array<std::uint32_t, Rows>, typenet::Labels) or target rows
// (a Matrix or MatrixView of Rows x Width).
template <class Targets>
struct targets_shape {
  static constexpr bool known = false;
};
template <std::size_t R>
struct targets_shape<std::array<std::uint32_t, R>> {
  static constexpr bool known = true, labels = true;
  static constexpr std::size_t rows = R, width = 0;
  using scalar = void;
};
// A span of labels: as many rows as it has elements (checked at run time when its extent is dynamic).
template <class L, std::size_t Extent>
requires std::is_same_v<std::remove_const_t<L>, std::uint32_t>
struct targets_shape<std::span<L, Extent>> {
  static constexpr bool known = true, labels = true;
  static constexpr std::size_t rows = Extent == std::dynamic_extent ? dynamic_rows : Extent, width = 0;
  using scalar = void;
};
template <template <class, std::size_t, std::size_t> class M, class U, std::size_t R, std::size_t W>
struct targets_shape<M<U, R, W>> {
  static constexpr bool known = true, labels = false;
  static constexpr std::size_t rows = R, width = W;
  using scalar = std::remove_const_t<U>;
};

// Every check of a batch of B rows of Width values in U and its targets, against Net.
template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
constexpr bool check_step_arguments() {
  using Shape = targets_shape<Targets>;
  static_assert(Shape::known, "typenet: targets are Labels<B> or a B-row Matrix");
  check_scalar_type<network_scalar<typename Net::scalar_type>, given_scalar<U>>();
  check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
  if constexpr (Shape::known) {
    if constexpr (B != dynamic_rows && Shape::rows != dynamic_rows)  // else checked at run time
      check_label_batch<input_batch<B>, label_batch<Shape::rows>>();
    if constexpr (Shape::labels) {
      check_loss_accepts_labels<typename Net::loss_type>();
    } else {
      check_scalar_type<network_scalar<typename Net::scalar_type>, given_scalar<typename Shape::scalar>>();
      check_target_width<network_output_width<Net::output_width>, given_width<Shape::width>>();
    }
  }
  return true;
}

// The rows of a step's targets, for the counts known only at run time.
template <class Targets>
std::size_t target_rows(const Targets& targets) {
  if constexpr (requires { targets.row_count(); })
    return targets.row_count();
  else if constexpr (requires { Targets::rows; })
    return Targets::rows;
  else
    return targets.size();
}

// A batch of `rows` inputs needs as many targets, and at least one.
template <class Targets>
void check_target_rows(std::size_t rows, const Targets& targets) {
  const std::size_t given = target_rows(targets);
  if (rows == 0) throw Error("typenet: a step needs at least one row");
  if (given != rows)
    throw Error("typenet: the step has " + std::to_string(rows) + " input rows and " + std::to_string(given) +
                " targets");
}

// The same as one bool, so a function stops after a failed check (its static_assert is then the one error).
template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
constexpr bool step_arguments_fit() {
  using Shape = targets_shape<Targets>;
  if constexpr (!Shape::known) {
    return false;
  } else {
    const bool targets_fit = Shape::labels
                                 ? Net::loss_type::accepts_class_labels
                                 : std::is_same_v<typename Shape::scalar, typename Net::scalar_type> &&
                                       Shape::width == Net::output_width;
    const bool rows_fit = Shape::rows == B || Shape::rows == dynamic_rows || B == dynamic_rows;
    return std::is_same_v<U, typename Net::scalar_type> && Width == Net::input_width && rows_fit &&
           targets_fit;
  }
}

}  // namespace detail
}  // namespace typenet
