// typenet::loss(net, x, targets): the batch loss of a network, forward pass only (no gradient is computed
// and no parameter changes). LossEvaluator keeps its work buffers between calls, so the gradient check can
// evaluate thousands of perturbed networks without allocating.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/network/batch_loss.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"

namespace typenet {

namespace detail {

template <class Net, std::size_t B>
class LossEvaluator {
 public:
  using T = typename Net::scalar_type;

  LossEvaluator() {
    std::size_t total = 0;
    for (std::size_t k = 0; k < Net::stage_count; ++k) {
      offsets_[k] = total;
      total += B * Net::widths[k + 1];
    }
    buffer_.resize(total + B * Net::output_width);  // the stage outputs, then the probabilities
    probabilities_ = total;
  }

  // Targets: Labels<B> (SoftmaxCrossEntropy only) or a B x output_width matrix.
  template <class Targets>
  T operator()(const Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets) {
    net.forward(x, [&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      return MatrixView<T, B, Net::template stage<K>::output_width>(buffer_.data() + offsets_[K]);
    });
    const T* a = buffer_.data() + offsets_[Net::stage_count - 1];
    T* probabilities = buffer_.data() + probabilities_;
    return detail::batch_loss<typename Net::loss_type, Net::output_width, B>(a, targets, probabilities,
                                                                             static_cast<T*>(nullptr));
  }

 private:
  std::array<std::size_t, Net::stage_count> offsets_{};
  std::size_t probabilities_ = 0;
  std::vector<T> buffer_;
};

// The compile-time checks of step(): labels need SoftmaxCrossEntropy and B rows; target rows are B x Out.
template <class Net, std::size_t B, std::size_t Rows>
constexpr bool check_targets(const Labels<Rows>*) {
  return check_loss_accepts_labels<typename Net::loss_type>() &&
         check_label_batch<input_batch<B>, label_batch<Rows>>();
}
template <class Net, std::size_t B, class U, std::size_t Rows, std::size_t Width>
constexpr bool check_targets(const Matrix<U, Rows, Width>*) {
  static_assert(std::is_same_v<U, typename Net::scalar_type>,
                "typenet: the target matrix's scalar type differs from the network's");
  return check_label_batch<input_batch<B>, label_batch<Rows>>() &&
         check_target_width<network_output_width<Net::output_width>, given_width<Width>>();
}

// The same as a plain bool, to skip the body after a failed check (its static_assert is then the one error).
template <class Net, std::size_t B, class Targets>
constexpr bool targets_fit() {
  if constexpr (std::is_same_v<Targets, Labels<B>>)
    return Net::loss_type::outputs_probabilities;
  else
    return std::is_same_v<Targets, Matrix<typename Net::scalar_type, B, Net::output_width>>;
}

}  // namespace detail

// The loss the trainer would report for this batch, without training. Allocates its work buffers per call.
template <class Net, std::size_t B, std::size_t Width, class Targets>
typename Net::scalar_type loss(const Net& net, const Matrix<typename Net::scalar_type, B, Width>& x,
                               const Targets& targets) {
  detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
  detail::check_targets<Net, B>(static_cast<const Targets*>(nullptr));
  if constexpr (Width == Net::input_width && detail::targets_fit<Net, B, Targets>())
    return detail::LossEvaluator<Net, B>{}(net, x.view(), targets);
  else
    return typename Net::scalar_type(0);
}

}  // namespace typenet
