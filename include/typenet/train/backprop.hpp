// Backprop<Net>: the forward and backward passes of one batch, over the network's Workspace.
//
// Per stage k (a layer and the activation fused into it) the workspace holds the output a_k and the gradient
// g_k = dL/dz_k at the stage's pre-activation. The reverse walk is seed 000 §4.3.2:
//   g_last          = loss gradient (.) act'(a_last)          (softmax-CE: (p - t) / B)
//   g_{k-1}         = backward_input_k(g_k) (.) act'_{k-1}(a_{k-1})   (fused into the layer when it can)
//   dW_k, db_k      = backward_params_k(a_{k-1}, g_k)          (or fused into the SGD update)
// Every view is typed with its batch and width, so each call below is shape-checked by the compiler.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>

#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/network/batch_loss.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/finite_check.hpp"

namespace typenet::detail {

template <class P>
constexpr bool holds_tensors = std::tuple_size_v<decltype(P::tensors())> > 0;

// The optional fast paths of layers/contract.hpp, for stage S on B rows of T.
template <class S, class T, std::size_t B>
concept has_fused_sgd = requires(parameters_of<typename S::layer, T>& p,
                                 MatrixView<const T, B, S::input_width> in,
                                 MatrixView<const T, B, S::output_width> g, const LayerContext<T>& ctx) {
  S::layer::backward_params_sgd(in, g, p, T(1), ctx);
};
template <class S, class T>
concept has_fused_input_gradient_and_sgd = requires(parameters_of<typename S::layer, T>& p,
                                                    MatrixView<const T, 1, S::input_width> in,
                                                    MatrixView<T, 1, S::input_width> d_in,
                                                    MatrixView<const T, 1, S::output_width> g) {
  S::layer::backward_input_then_sgd(p, g, in, d_in, kernels::Activation::identity, T(1));
};
template <class S, class T>
concept has_fused_sgd_and_forward = requires(parameters_of<typename S::layer, T>& p,
                                             MatrixView<const T, 1, S::input_width> in,
                                             MatrixView<const T, 1, S::output_width> g,
                                             MatrixView<T, 1, S::output_width> out) {
  S::layer::sgd_then_forward(in, g, p, T(1), in, out, kernels::Activation::identity);
};

// Does stage S's layer update a state in training (layers/contract.hpp: update_state)?
template <class S, class T, std::size_t B>
concept updates_state = requires(parameters_of<typename S::layer, T>& p,
                                 MatrixView<const T, B, S::input_width> in, const LayerContext<T>& ctx) {
  S::layer::update_state(p, in, ctx);
};

// What the finite check names: one function per stage type, shared by every batch size.
template <class S>
std::string describe_output(std::size_t) {
  return "the output of " + S::describe();
}
template <class S>
std::string describe_gradient(std::size_t) {
  return "dL/dz of " + S::describe();
}

template <class Net>
class Backprop {
 public:
  using T = typename Net::scalar_type;
  static constexpr std::size_t stage_count = Net::stage_count;
  template <std::size_t K>
  using stage = typename Net::template stage<K>;
  template <std::size_t K>
  using stage_parameters = typename Net::Parameters::template layer_parameters<stage<K>::position>;

  void reserve_rows(std::size_t rows) { work_.reserve(rows, true); }

  // Stage K's gradient dL/dz at its pre-activation in the last batch of B rows.
  template <std::size_t B, std::size_t K>
  MatrixView<T, B, stage<K>::output_width> gradient(std::size_t rows = B) const {
    return work_.template gradient<B, K>(rows);
  }

  // Stage K's output in the last batch of B rows (after its fused activation).
  template <std::size_t B, std::size_t K>
  MatrixView<const T, B, stage<K>::output_width> output(std::size_t rows = B) const {
    return work_.template output<B, K>(rows);
  }

  // What the loss saw as the network's answer in the last batch of B rows: the probabilities
  // (SoftmaxCrossEntropy) or the outputs (MeanSquaredError).
  template <std::size_t B>
  MatrixView<const T, B, Net::output_width> loss_outputs(std::size_t rows = B) const {
    if constexpr (Net::loss_type::outputs_probabilities)
      return work_.template predictions<B>(rows);
    else
      return work_.template output<B, stage_count - 1>(rows);
  }

  // Forward, loss and backward for one batch. `targets` is Labels<B> or a B x Out matrix.
  // sink(k, input_of_stage_k, g_k) runs in the reverse walk right after g_{k-1} was computed, so it may
  // update stage k's parameters in place or store their gradient. Returns the batch loss.
  template <std::size_t B, class Targets, class ParameterSink>
  T run(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets, ParameterSink&& sink) {
    return walk(net, x, targets, [&](auto k, auto in, auto g) {
      constexpr std::size_t K = decltype(k)::value;
      if constexpr (K > 0) backward_input<B, K>(net, in, g);
      sink(k, in, g);
    });
  }

  // Stores every stage's parameter gradients: the sink of run() for the optimizers and the gradient check.
  template <std::size_t B>
  auto store_gradients(const Net& net, typename Net::Parameters& gradients) {
    return [this, &net, &gradients](auto k, auto in, auto g) {
      constexpr std::size_t K = decltype(k)::value;
      constexpr std::size_t P = stage<K>::position;
      if constexpr (holds_tensors<stage_parameters<K>>)
        detail::backward_params<typename stage<K>::layer>(net.template layer<P>(), in, g,
                                                          gradients.template layer<P>(), context<K>(x_rows_));
    };
  }

  // run() with plain SGD (p -= lr dL/dp) applied by the walk, fused into passes that go over the parameters
  // anyway where the layer has those fast paths (layers/contract.hpp): into the dW product; at batch 1
  // (where a step is bound by moving W) into the dX pass over the same W and, for the first stage when
  // `next` (the following step's input, or null) is given, into the forward pass of `next` -- the
  // lookahead, which the next run on an input equal to `next` bit for bit starts from (unless the network
  // was handed out for writing in between). A layer without them stores its gradient in `scratch` first.
  template <std::size_t B, class Targets>
  T run_sgd(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets, T learning_rate,
            const T* next, typename Net::Parameters& scratch) {
    return walk(net, x, targets, [&](auto k, auto in, auto g) {
      constexpr std::size_t K = decltype(k)::value;
      using L = typename stage<K>::layer;
      constexpr std::size_t P = stage<K>::position;
      if constexpr (!holds_tensors<stage_parameters<K>>) {
        if constexpr (K > 0) backward_input<B, K>(net, in, g);
      } else {
        auto& parameters = net.template layer<P>();
        if constexpr (B == 1 && K > 0 && has_fused_input_gradient_and_sgd<stage<K>, T>) {
          L::backward_input_then_sgd(parameters, g, in, gradient<1, K - 1>(), stage<K - 1>::activation,
                                     learning_rate);
        } else if constexpr (B == 1 && K == 0 && has_fused_sgd_and_forward<stage<K>, T> &&
                             has_fused_sgd<stage<K>, T, B>) {
          if (next) {
            L::sgd_then_forward(in, g, parameters, learning_rate,
                                MatrixView<const T, 1, Net::input_width>(next), lookahead_output_.view(),
                                stage<K>::activation);
            std::memcpy(lookahead_input_.data(), next, sizeof(T) * Net::input_width);
            lookahead_ready_ = true;
          } else {
            L::backward_params_sgd(in, g, parameters, learning_rate, context<K>(x_rows_));
          }
        } else {
          if constexpr (K > 0) backward_input<B, K>(net, in, g);
          if constexpr (has_fused_sgd<stage<K>, T, B>) {
            L::backward_params_sgd(in, g, parameters, learning_rate, context<K>(x_rows_));
          } else {
            auto& grads = scratch.template layer<P>();
            detail::backward_params<L>(std::as_const(parameters), in, g, grads, context<K>(x_rows_));
            std::apply(
                [&](auto... m) {
                  (kernels::sgd_update(m.of(parameters).data(), m.of(grads).data(), learning_rate,
                                       m.of(grads).size),
                   ...);
                },
                stage_parameters<K>::tensors());
          }
        }
      }
    });
  }

  // Worker threads for the large products of a batch (null: one thread). Not owned.
  void set_thread_pool(kernels::ThreadPool* pool) { pool_ = pool; }
  kernels::ThreadPool* thread_pool() const { return pool_; }

  // Opt-in: throw NonFiniteError at the first NaN or Inf in an output, the loss or a gradient.
  void set_finite_check(bool on) { check_finite_ = on; }
  // Whether a walk updates the layers' state (BatchNorm's running statistics): a trainer's steps do, the
  // gradient check and compute_gradients do not.
  void set_updates_state(bool on) { updates_state_ = on; }
  // The seed of the random layers' choices (TrainerOptions::seed).
  void set_random_seed(std::uint64_t seed) { random_seed_ = seed; }
  bool checks_finite() const { return check_finite_; }
  // Batches run so far (the step number in messages).
  std::uint64_t step() const { return step_; }

  // ||dL/dz|| of each stage in the last batch (seed 000 §4.3.6).
  const std::array<T, stage_count>& gradient_norms() const { return gradient_norms_; }

 private:
  template <std::size_t K>
  LayerContext<T> context(std::size_t rows) const {
    return {pool_, work_.template kept<K>(rows), true, work_.scratch(), stage_random_seed(step_seed_, K)};
  }

  // The forward pass, the loss and the reverse walk; stage_backward(k, input_of_stage_k, g_k) computes
  // g_{k-1} (k > 0) and does what the parameters need.
  template <std::size_t B, class Targets, class StageBackward>
  T walk(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets,
         StageBackward&& stage_backward) {
    x_rows_ = x.row_count();  // B, or the count of a batch whose size is known at run time
    reserve_rows(x_rows_);    // a no-op once the workspace fits that many rows
    ++step_;
    step_seed_ = step_random_seed(random_seed_, step_);
    // A lookahead serves only the run right after it, only on the input it was computed for and only if the
    // network was not handed out for writing in between.
    bool first_stage_ready = false;
    if constexpr (B == 1)
      first_stage_ready = lookahead_ready_ && net.writable_access_count() == lookahead_access_count_ &&
                          std::memcmp(x.data(), lookahead_input_.data(), sizeof(T) * x.size()) == 0;
    lookahead_ready_ = false;
    if (first_stage_ready) {
      std::memcpy(work_.template output<1, 0>().data(), lookahead_output_.data(),
                  sizeof(T) * lookahead_output_.size);
      std::as_const(net).template forward<B, 1>(x, work_, pool_, true, step_seed_);
    } else {
      std::as_const(net).template forward<B, 0>(x, work_, pool_, true, step_seed_);
    }
    if (updates_state_) update_states<B>(net, x);
    const T loss = loss_and_gradient<B>(targets, x_rows_);
    if (check_finite_) require_finite_forward<B>(loss);
    for_each_index<stage_count, true>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      MatrixView<const T, B, S::output_width> g = gradient<B, K>(x_rows_);
      gradient_norms_[K] = std::sqrt(kernels::sum_of_squares(g.data(), g.size()));
      if (check_finite_) require_finite(g.data(), g.size(), S::output_width, step_, &describe_gradient<S>);
      if constexpr (K == 0)
        stage_backward(k, x, g);
      else
        stage_backward(k, MatrixView<const T, B, S::input_width>(work_.template output<B, K - 1>(x_rows_)),
                       g);
    });
    lookahead_access_count_ = net.writable_access_count();  // after this walk's own updates
    return loss;
  }

  // g_{K-1} = backward_input_K(g_K) (.) act'_{K-1}(a_{K-1}): fused into the layer when it fuses
  // activations, else a pass of its own.
  template <std::size_t B, std::size_t K>
  void backward_input(const Net& net, MatrixView<const T, B, stage<K>::input_width> in,
                      MatrixView<const T, B, stage<K>::output_width> g) {
    using S = stage<K>;
    constexpr kernels::Activation in_act = stage<K - 1>::activation;
    const auto& p = net.template layer<S::position>();
    MatrixView<T, B, S::input_width> d_in = gradient<B, K - 1>(x_rows_);
    if constexpr (fuses_activation<typename S::layer>()) {
      S::layer::backward_input(p, g, in, d_in, in_act, context<K>(x_rows_));
    } else {
      S::layer::backward_input(p, g, in, d_in, context<K>(x_rows_));
      if constexpr (in_act != kernels::Activation::identity)
        kernels::activation_backward(in.data(), d_in.data(), d_in.data(), d_in.size(), in_act);
    }
  }

  // After the forward pass: each stage that keeps a state updates it from what its pass kept.
  template <std::size_t B>
  void update_states(Net& net, MatrixView<const T, B, Net::input_width> x) {
    for_each_index<stage_count>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      if constexpr (updates_state<S, T, B>) {
        auto& parameters = net.template layer<S::position>();
        if constexpr (K == 0)
          S::layer::update_state(parameters, x, context<K>(x_rows_));
        else
          S::layer::update_state(
              parameters, MatrixView<const T, B, S::input_width>(work_.template output<B, K - 1>(x_rows_)),
              context<K>(x_rows_));
      }
    });
  }

  template <std::size_t B>
  void require_finite_forward(T loss) {
    for_each_index<stage_count>([&](auto k) {
      using S = stage<decltype(k)::value>;
      const auto out = work_.template output<B, decltype(k)::value>(x_rows_);
      require_finite(out.data(), out.size(), S::output_width, step_, &describe_output<S>);
    });
    require_finite(&loss, 1, 1, step_, [](std::size_t) { return std::string("the loss"); });
  }

  template <std::size_t B, class Targets>
  T loss_and_gradient(const Targets& targets, std::size_t rows) {
    constexpr std::size_t last = stage_count - 1;
    constexpr std::size_t width = Net::output_width;
    MatrixView<T, B, width> a = work_.template output<B, last>(rows);
    MatrixView<T, B, width> g = gradient<B, last>(rows);
    const T loss = detail::batch_loss<typename Net::loss_type, width>(
        a.data(), targets, rows, work_.template predictions<B>(rows).data(), g.data());
    // The loss saw the activation's output: take its derivative into g as well.
    constexpr auto act = stage<last>::activation;
    if constexpr (act != kernels::Activation::identity)
      kernels::activation_backward(a.data(), g.data(), g.data(), g.size(), act);
    return loss;
  }

  typename Net::Workspace work_;
  // The lookahead: the input it was computed for and stage 0's output on it.
  Matrix<T, 1, Net::input_width> lookahead_input_;
  Matrix<T, 1, stage<0>::output_width> lookahead_output_;
  bool lookahead_ready_ = false;
  std::uint64_t lookahead_access_count_ = 0;  // the network's writable_access_count() when it was made
  std::array<T, stage_count> gradient_norms_{};
  std::uint64_t step_ = 0;
  std::uint64_t random_seed_ = 0, step_seed_ = 0;
  std::size_t x_rows_ = 0;  // the rows of the batch being run
  bool check_finite_ = false;
  bool updates_state_ = false;
  kernels::ThreadPool* pool_ = nullptr;
};

}  // namespace typenet::detail
