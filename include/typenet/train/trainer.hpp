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
  // Seed of the random layers' choices (Dropout's masks): step n of trainers with the same seed draws the
  // same masks, so the same seed gives the same weights bit for bit.
  std::uint64_t seed = 0;
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
    backprop_.set_random_seed(options.seed);
    backprop_.set_updates_state(true);
    if (options.threads > 1) {
      pool_ = std::make_unique<kernels::ThreadPool>(options.threads);
      backprop_.set_thread_pool(pool_.get());
    }
  }

  // A step on `targets`: class labels (Labels<B>, SoftmaxCrossEntropy) or target rows (a B x Out Matrix:
  // one-hot or soft labels for SoftmaxCrossEntropy, regression targets for MeanSquaredError).
  template <class U, std::size_t B, std::size_t Width, class Targets>
  T step(const Matrix<U, B, Width>& x, const Targets& targets) {
    detail::check_step_arguments<Net, U, B, Width, Targets>();
    // After a failed check, stop here: the one error above is the whole message.
    if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>())
      return run<B>(x.view(), targets, nullptr);
    else
      return T(0);
  }

  // A step on views of the caller's memory, so a custom loop need not copy: x is a MatrixView of B rows,
  // where B may be dynamic_rows (a batch whose size is known at run time, such as an epoch's last partial
  // batch: the step averages over its own rows); targets are Labels<B>, a std::span of class labels, or a
  // Matrix or MatrixView of target rows. Row counts known only at run time are checked then (an Error
  // naming both). A step allocates nothing while its rows fit TrainerOptions::reserve_rows.
  template <class V, std::size_t B, std::size_t Width, class Targets>
  T step(MatrixView<V, B, Width> x, const Targets& targets) {
    using U = std::remove_const_t<V>;
    detail::check_step_arguments<Net, U, B, Width, Targets>();
    if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>()) {
      detail::check_target_rows(x.row_count(), targets);
      return run<B>(MatrixView<const T, B, Width>(x.data(), x.row_count()), targets, nullptr);
    } else {
      return T(0);
    }
  }

  // A step that also starts the following one, whose input is `next`. At batch 1 with plain SGD (no
  // clipping) the first layer's update and its forward pass of `next` share one pass over the first layer's
  // weights, which a batch-1 step spends most of its time moving through the cache; the following
  // step(next, ...) starts from that result if its rows equal `next` bit for bit and the network was not
  // handed out for writing in between (see Network::writable_access_count; writes through a reference kept
  // from before are not seen). Otherwise it is a full step. Other batch sizes and optimizers: the same as
  // step(x, targets). train_epoch steps this way.
  //
  //   for (std::size_t i = 0; i + 1 < count; ++i) trainer.step(x[i], labels[i], x[i + 1]);
  //   trainer.step(x[count - 1], labels[count - 1]);
  template <class U, std::size_t B, std::size_t Width, class Targets, class V, std::size_t NextRows,
            std::size_t NextWidth>
  T step(const Matrix<U, B, Width>& x, const Targets& targets, const Matrix<V, NextRows, NextWidth>& next) {
    detail::check_step_arguments<Net, U, B, Width, Targets>();
    detail::check_next_input<input_batch<B>, given_width<Width>, next_batch<NextRows>,
                             next_width<NextWidth>>();
    if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>() && NextRows == B &&
                  NextWidth == Width && std::is_same_v<U, V>)
      return run<B>(x.view(), targets, next.data());
    else
      return T(0);
  }

  // The two halves of a step, for loops that work on the gradient in between (data-parallel training sums
  // it across processes: distributed/data_parallel.hpp). backward() runs the forward pass, the loss and the
  // backward pass on x and stores dL/d(parameters), the mean over x's rows, in gradients(), changing no
  // parameter; update() clips (TrainerOptions::clip_norm) and applies the optimizer to what gradients()
  // holds then. step() does both, fused where it can be. x is a MatrixView as step() takes it.
  template <class V, std::size_t B, std::size_t Width, class Targets>
  T backward(MatrixView<V, B, Width> x, const Targets& targets) {
    using U = std::remove_const_t<V>;
    detail::check_step_arguments<Net, U, B, Width, Targets>();
    if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>()) {
      detail::check_target_rows(x.row_count(), targets);
      return backprop_.run(net_, MatrixView<const T, B, Width>(x.data(), x.row_count()), targets,
                           backprop_.template store_gradients<B>(net_, gradients_));
    } else {
      return T(0);
    }
  }
  template <class U, std::size_t B, std::size_t Width, class Targets>
  T backward(const Matrix<U, B, Width>& x, const Targets& targets) {
    return backward(x.view(), targets);
  }
  void update() {
    if (options_.clip_norm > 0) clip_gradients();
    optimizer_.update(net_.parameters(), gradients_, state_);
    if (options_.check_finite) require_finite_parameters();
  }
  Parameters& gradients() { return gradients_; }

  // ||dL/dz|| per stage (a layer with parameters and its activation) in the last step (seed 000 §4.3.6: the
  // gradient flow chart).
  const auto& gradient_norms() const { return backprop_.gradient_norms(); }
  // The probabilities (or MSE outputs) of the last step, which had B rows (`rows` of them for
  // dynamic_rows): a running train accuracy costs no extra forward pass. Valid until the next step.
  template <std::size_t B>
  MatrixView<const T, B, Net::output_width> last_outputs(std::size_t rows = B) {
    return backprop_.template loss_outputs<B>(rows);
  }
  // The parameter gradients of the last step (weight decay's term included); not written when plain SGD is
  // fused into the backward pass.
  const Parameters& gradients() const { return gradients_; }

  Optimizer& optimizer() { return optimizer_; }
  Net& network() { return net_; }

 private:
  // Plain SGD without clipping or weight decay needs no stored gradient: the update is fused into the dW pass.
  bool fuses_sgd() const {
    if constexpr (std::is_same_v<Optimizer, SGD>)
      return options_.clip_norm <= 0 && optimizer_.weight_decay == 0;
    else
      return false;
  }

  // next: the following step's input (B x input width), or null.
  template <std::size_t B, class Targets>
  T run(MatrixView<const T, B, Net::input_width> x, const Targets& targets, const T* next) {
    if (fuses_sgd()) {
      const T loss = backprop_.run_sgd(net_, x, targets, T(optimizer_.learning_rate), next, gradients_);
      if (options_.check_finite) require_finite_parameters();
      return loss;
    }
    const T loss = backprop_.run(net_, x, targets, backprop_.template store_gradients<B>(net_, gradients_));
    update();
    return loss;
  }

  void require_finite_parameters() const {
    Parameters::zip(
        [&](const auto& info, const auto& tensor) {
          using M = std::remove_cvref_t<decltype(tensor)>;
          detail::require_finite(tensor.data(), M::size, M::cols, backprop_.step(), &describe_parameters,
                                 info.layer * 256 + std::size_t(info.kind));
        },
        std::as_const(net_).parameters());
  }
  // "the weights of layer 0 (Dense<784, 256>) after the update", from layer * 256 + kind.
  static std::string describe_parameters(std::size_t what) {
    const std::size_t layer = what / 256;
    return "the " + std::string(to_string(TensorKind(what % 256))) + " of layer " + std::to_string(layer) +
           " (" + Net::plan::layer_name(layer) + ") after the update";
  }

  void clip_gradients() {
    T squares = 0;
    gradients_.for_each_tensor(
        [&](auto tensor) { squares += kernels::sum_of_squares(tensor.values.data(), tensor.values.size()); });
    const T norm = std::sqrt(squares);
    if (norm <= T(options_.clip_norm)) return;
    const T factor = T(options_.clip_norm) / norm;
    gradients_.for_each_tensor(
        [&](auto tensor) { kernels::scale(tensor.values.data(), factor, tensor.values.size()); });
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
