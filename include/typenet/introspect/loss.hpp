// typenet::loss(net, x, targets): the batch loss of a network, forward pass only (no gradient is computed
// and no parameter changes). LossEvaluator keeps its workspace between calls, so the gradient check can
// evaluate thousands of perturbed networks without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "typenet/core/matrix.hpp"
#include "typenet/network/batch_loss.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"

namespace typenet {

namespace detail {

template <class Net, std::size_t B>
class LossEvaluator {
 public:
  using T = typename Net::scalar_type;

  // training_seed: evaluate as the training pass whose step seed this is (the random layers draw what it
  // drew: how the gradient check sees the loss that compute_gradients differentiated); none: inference.
  explicit LossEvaluator(std::optional<std::uint64_t> training_seed = std::nullopt)
      : training_seed_(training_seed) {
    work_.reserve(B, false);
  }

  // Targets: Labels<B> (a loss that accepts class labels) or a B x output_width matrix.
  template <class Targets>
  T operator()(const Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets) {
    net.template forward<B>(x, work_, nullptr, training_seed_.has_value(), training_seed_.value_or(0));
    return detail::batch_loss<typename Net::loss_type, Net::output_width>(
        work_.template output<B, Net::stage_count - 1>().data(), targets, B,
        work_.template predictions<B>().data(), static_cast<T*>(nullptr));
  }

 private:
  typename Net::Workspace work_;
  std::optional<std::uint64_t> training_seed_;
};

}  // namespace detail

// The loss the trainer would report for this batch, without training. Allocates its workspace per call.
template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
typename Net::scalar_type loss(const Net& net, const Matrix<U, B, Width>& x, const Targets& targets) {
  detail::check_step_arguments<Net, U, B, Width, Targets>();
  if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>())
    return detail::LossEvaluator<Net, B>{}(net, x.view(), targets);
  else
    return typename Net::scalar_type(0);
}

}  // namespace typenet
