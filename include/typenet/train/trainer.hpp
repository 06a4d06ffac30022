// Trainer<Net, Optimizer>: one call, step(x, y), runs the forward pass, the loss, the backward pass and the
// optimizer update for a batch whose size is a compile-time constant of that call, and returns the loss.
//
//   Net net{typenet::HeNormal{.seed = 42}};
//   typenet::Trainer trainer(net, typenet::Adam{.learning_rate = 1e-3});
//   float loss = trainer.step(images, labels);  // Matrix<float, 64, 784>, Labels<64>
//
// A step allocates nothing: its work matrices come from an arena sized when the trainer is built (for
// TrainerOptions::reserve_rows rows) and grown only if a step uses a larger batch than any before.
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "typenet/kernels/thread_pool.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/backprop.hpp"
#include "typenet/train/optimizers.hpp"

namespace typenet {

struct TrainerOptions {
  // Clip the gradient by its global L2 norm (over every parameter) when it exceeds this; 0 turns clipping
  // off.
  double clip_norm = 0;
  // Rows of work matrices to allocate up front.
  std::size_t reserve_rows = 256;
  // Stop with NonFiniteError at the first NaN or Inf in an output, the loss, a gradient or a parameter (costs
  // one extra pass over each; off by default).
  bool check_finite = false;
  // Threads for a step's large matrix products, the calling thread included (1: no worker threads). Products
  // below about 2 MFLOP (every product at batch 1) stay on the calling thread; results match one thread.
  std::size_t threads = 1;
};

template <class Net, class Optimizer>
class Trainer {
 public:
  using T = typename Net::scalar_type;
  using Parameters = typename Net::Parameters;

  Trainer(Net& net, Optimizer optimizer, TrainerOptions options = {})
      : net_(net), optimizer_(optimizer), options_(options), state_(net) {
    backprop_.reserve_rows(options.reserve_rows);
    backprop_.set_finite_check(options.check_finite);
    if (options.threads > 1) {
      pool_ = std::make_unique<kernels::ThreadPool>(options.threads);
      backprop_.set_thread_pool(pool_.get());
    }
  }

  // A step on class labels (SoftmaxCrossEntropy).
  template <std::size_t B, std::size_t Width, std::size_t LabelRows>
  T step(const Matrix<T, B, Width>& x, const Labels<LabelRows>& labels) {
    detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
    detail::check_label_batch<input_batch<B>, label_batch<LabelRows>>();
    detail::check_loss_accepts_labels<typename Net::loss_type>();
    // After a failed check, stop here: the one error above is the whole message.
    if constexpr (labels_fit<B, Width, LabelRows>)
      return run<B>(x.view(), labels, nullptr);
    else
      return T(0);
  }

  // A step on target rows: one-hot or soft labels (SoftmaxCrossEntropy), regression targets
  // (MeanSquaredError).
  template <std::size_t B, std::size_t Width, std::size_t TargetRows, std::size_t TargetWidth>
  T step(const Matrix<T, B, Width>& x, const Matrix<T, TargetRows, TargetWidth>& targets) {
    detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
    detail::check_label_batch<input_batch<B>, label_batch<TargetRows>>();
    detail::check_target_width<network_output_width<Net::output_width>, given_width<TargetWidth>>();
    if constexpr (targets_fit<B, Width, TargetRows, TargetWidth>)
      return run<B>(x.view(), targets, nullptr);
    else
      return T(0);
  }

  // A step that also starts the following one, whose input is `next`. At batch 1 with plain SGD (no
  // clipping) the first layer's update and its forward pass of `next` share one pass over the first layer's
  // weights, which a batch-1 step spends most of its time moving through the cache; the following
  // step(next, ...) starts from that result if its rows equal `next` bit for bit and the network was not
  // handed out for writing in between (see Network::writable_access_count; writes through a reference kept
  // from before are not seen). Otherwise it is a full step. Other batch sizes and optimizers: the same as
  // step(x, labels). train_epoch steps this way.
  //
  //   for (std::size_t i = 0; i + 1 < count; ++i) trainer.step(x[i], labels[i], x[i + 1]);
  //   trainer.step(x[count - 1], labels[count - 1]);
  template <std::size_t B, std::size_t Width, std::size_t LabelRows, std::size_t NextRows,
            std::size_t NextWidth>
  T step(const Matrix<T, B, Width>& x, const Labels<LabelRows>& labels,
         const Matrix<T, NextRows, NextWidth>& next) {
    detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
    detail::check_label_batch<input_batch<B>, label_batch<LabelRows>>();
    detail::check_loss_accepts_labels<typename Net::loss_type>();
    detail::check_next_input<input_batch<B>, given_width<Width>, next_batch<NextRows>,
                             next_width<NextWidth>>();
    if constexpr (labels_fit<B, Width, LabelRows> && NextRows == B && NextWidth == Width)
      return run<B>(x.view(), labels, next.data());
    else
      return T(0);
  }

  // The same on target rows.
  template <std::size_t B, std::size_t Width, std::size_t TargetRows, std::size_t TargetWidth,
            std::size_t NextRows, std::size_t NextWidth>
  T step(const Matrix<T, B, Width>& x, const Matrix<T, TargetRows, TargetWidth>& targets,
         const Matrix<T, NextRows, NextWidth>& next) {
    detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
    detail::check_label_batch<input_batch<B>, label_batch<TargetRows>>();
    detail::check_target_width<network_output_width<Net::output_width>, given_width<TargetWidth>>();
    detail::check_next_input<input_batch<B>, given_width<Width>, next_batch<NextRows>,
                             next_width<NextWidth>>();
    if constexpr (targets_fit<B, Width, TargetRows, TargetWidth> && NextRows == B && NextWidth == Width)
      return run<B>(x.view(), targets, next.data());
    else
      return T(0);
  }

  // ||dL/dz|| per Dense layer in the last step (seed 000 §4.3.6: the gradient flow chart).
  const auto& gradient_norms() const { return backprop_.gradient_norms(); }
  // The probabilities (or MSE outputs) of the last step, which had B rows: a running train accuracy costs
  // no extra forward pass. Valid until the next step.
  template <std::size_t B>
  MatrixView<const T, B, Net::output_width> last_outputs() {
    return backprop_.template loss_outputs<B>();
  }
  // The parameter gradients of the last step; not written when plain SGD is fused into the backward pass.
  const Parameters& gradients() const { return gradients_; }

  Optimizer& optimizer() { return optimizer_; }
  Net& network() { return net_; }

 private:
  // Plain SGD without clipping needs no stored gradient: the update is fused into the dW pass.
  static constexpr bool fuses_sgd = std::is_same_v<Optimizer, SGD>;

  // The inputs of a step fit the network (after a failed check, the step stops there).
  template <std::size_t B, std::size_t Width, std::size_t LabelRows>
  static constexpr bool labels_fit = (Width == Net::input_width) &&
                                     (LabelRows == B) && Net::loss_type::outputs_probabilities;
  template <std::size_t B, std::size_t Width, std::size_t TargetRows, std::size_t TargetWidth>
  static constexpr bool targets_fit = (Width == Net::input_width) && (TargetRows == B) &&
                                      (TargetWidth == Net::output_width);

  // next: the following step's input (B x input width), or null.
  template <std::size_t B, class Targets>
  T run(MatrixView<const T, B, Net::input_width> x, const Targets& targets, const T* next) {
    T loss;
    if (fuses_sgd && options_.clip_norm <= 0) {
      loss = backprop_.run_sgd(net_, x, targets, T(optimizer_.learning_rate), next);
    } else {
      loss = backprop_.run(net_, x, targets, [&](auto k, auto in, auto g) {
        using Layer = typename Net::template stage<decltype(k)::value>::layer;
        Layer::backward_params(in, g, boost::hana::at(gradients_, k), pool_.get());
      });
      if (options_.clip_norm > 0) clip_gradients();
      optimizer_.update(net_.parameters(), gradients_, state_);
    }
    if (options_.check_finite) require_finite_parameters();
    return loss;
  }

  void require_finite_parameters() const {
    boost::hana::for_each(Net::stage_indices, [&](auto k) {
      using S = typename Net::template stage<decltype(k)::value>;
      const auto& p = std::as_const(net_).template layer<decltype(k)::value>();
      const auto step = backprop_.step();
      detail::require_finite(p.weights.data(), p.weights.size, S::output_width, step,
                             [] { return "the weights of " + S::describe() + " after the update"; });
      detail::require_finite(p.bias.data(), p.bias.size, S::output_width, step,
                             [] { return "the bias of " + S::describe() + " after the update"; });
    });
  }

  void clip_gradients() {
    T squares = 0;
    net_.visit_tensors(gradients_, [&](auto tensor) {
      squares += kernels::sum_of_squares(tensor.values.data(), tensor.values.size());
    });
    const T norm = std::sqrt(squares);
    if (norm <= T(options_.clip_norm)) return;
    const T factor = T(options_.clip_norm) / norm;
    net_.visit_tensors(
        gradients_, [&](auto tensor) { kernels::scale(tensor.values.data(), factor, tensor.values.size()); });
  }

  std::unique_ptr<kernels::ThreadPool> pool_;  // before backprop_, which points to it
  Net& net_;
  Optimizer optimizer_;
  TrainerOptions options_;
  typename Optimizer::template State<Net> state_;
  Parameters gradients_;
  detail::Backprop<Net> backprop_;
};

}  // namespace typenet
