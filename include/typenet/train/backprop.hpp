// Backprop<Net>: the forward and backward passes of one batch, over work matrices carved from one arena.
//
// Per stage k (a Dense layer and its activation) it keeps the output a_k (B x Out_k) and the gradient
// g_k = dL/dz_k at the stage's pre-activation (B x Out_k). The reverse walk is seed 000 §4.3.2:
//   g_last          = loss gradient (.) act'(a_last)          (softmax-CE: (p - t) / B)
//   g_{k-1}         = (g_k . W_k^T) (.) act'_{k-1}(a_{k-1})   (one fused kernel)
//   dW_k, db_k      = a_{k-1}^T . g_k, column sums of g_k     (or fused into the SGD update)
// Every view is typed with its batch and width, so each product below is shape-checked by the compiler.
#pragma once

#include <array>
#include <boost/hana/for_each.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "typenet/core/arena.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/network/batch_loss.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/finite_check.hpp"

namespace typenet::detail {

template <class Net>
class Backprop {
 public:
  using T = typename Net::scalar_type;
  static constexpr std::size_t stage_count = Net::stage_count;
  static constexpr std::size_t first_width = Net::template stage<0>::output_width;

  // Where each work matrix of a batch of B rows starts in the arena.
  template <std::size_t B>
  struct Layout {
    static constexpr std::array<std::size_t, 2 * stage_count + 2> offsets = [] {
      std::array<std::size_t, 2 * stage_count + 2> o{};
      // [0, stage_count): outputs a_k; [stage_count, 2 stage_count): gradients g_k; then probabilities.
      for (std::size_t i = 0; i < 2 * stage_count + 1; ++i) {
        const std::size_t width = i == 2 * stage_count ? Net::output_width : Net::widths[i % stage_count + 1];
        o[i + 1] = o[i] + Arena<T>::round_up(B * width);
      }
      return o;
    }();
    static constexpr std::size_t total = offsets.back();
  };

  void reserve_rows(std::size_t rows) { arena_.reserve(rows_to_elements(rows)); }

  template <std::size_t B, std::size_t K>
  MatrixView<T, B, Net::template stage<K>::output_width> output() {
    return MatrixView<T, B, Net::template stage<K>::output_width>(arena_.data() + Layout<B>::offsets[K]);
  }
  template <std::size_t B, std::size_t K>
  MatrixView<T, B, Net::template stage<K>::output_width> gradient() {
    return MatrixView<T, B, Net::template stage<K>::output_width>(arena_.data() +
                                                                  Layout<B>::offsets[stage_count + K]);
  }
  template <std::size_t B>
  MatrixView<T, B, Net::output_width> probabilities() {
    return MatrixView<T, B, Net::output_width>(arena_.data() + Layout<B>::offsets[2 * stage_count]);
  }
  // What the loss saw as the network's answer in the last batch of B rows: the probabilities
  // (SoftmaxCrossEntropy) or the outputs (MeanSquaredError).
  template <std::size_t B>
  MatrixView<const T, B, Net::output_width> loss_outputs() {
    if constexpr (Net::loss_type::outputs_probabilities)
      return probabilities<B>();
    else
      return output<B, stage_count - 1>();
  }

  // Forward, loss and backward for one batch. `targets` is Labels<B> or a B x Out matrix.
  // parameter_sink(k, input_of_stage_k, g_k) runs in the reverse walk right after g_{k-1} was computed from
  // W_k, so it may update W_k in place or store the gradient. Returns the batch loss.
  template <std::size_t B, class Targets, class ParameterSink>
  T run(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets, ParameterSink&& sink) {
    return walk(net, x, targets, [&](auto k, auto in, auto g) {
      constexpr std::size_t K = decltype(k)::value;
      if constexpr (K > 0) backward_input<B, K>(net, g);
      sink(k, in, g);
    });
  }

  // run() with plain SGD (W -= lr dW, b -= lr db) applied by the walk, fused into passes that go over W
  // anyway: into the dW product; at batch 1 (where a step is bound by moving W) into the dX pass over the
  // same W and, for the first stage when `next` (the following step's input, or null) is given, into the
  // forward pass of `next` -- the lookahead, which the next run on an input equal to `next` bit for bit
  // starts from (unless the network was handed out for writing in between).
  template <std::size_t B, class Targets>
  T run_sgd(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets, T learning_rate,
            const T* next) {
    return walk(net, x, targets, [&](auto k, auto in, auto g) {
      constexpr std::size_t K = decltype(k)::value;
      using S = typename Net::template stage<K>;
      auto& parameters = net.template layer<K>();
      if constexpr (B == 1 && K > 0) {
        S::layer::backward_input_then_sgd(parameters, g, in, gradient<1, K - 1>(),
                                          Net::template stage<K - 1>::activation, learning_rate);
      } else if constexpr (B == 1) {
        if (next) {
          using Input = MatrixView<const T, 1, Net::input_width>;
          S::layer::sgd_then_forward(in, g, parameters, learning_rate, Input(next), lookahead_output_.view(),
                                     S::activation);
          std::memcpy(lookahead_input_.data(), next, sizeof(T) * Net::input_width);
          lookahead_ready_ = true;
        } else {
          S::layer::backward_params_sgd(in, g, parameters, learning_rate);
        }
      } else {
        if constexpr (K > 0) backward_input<B, K>(net, g);
        S::layer::backward_params_sgd(in, g, parameters, learning_rate, pool_);
      }
    });
  }

  // Worker threads for the large products of a batch (null: one thread). Not owned.
  void set_thread_pool(kernels::ThreadPool* pool) { pool_ = pool; }
  kernels::ThreadPool* thread_pool() const { return pool_; }

  // Opt-in: throw NonFiniteError at the first NaN or Inf in an output, the loss or a gradient.
  void set_finite_check(bool on) { check_finite_ = on; }
  bool checks_finite() const { return check_finite_; }
  // Batches run so far (the step number in messages).
  std::uint64_t step() const { return step_; }

  // ||dL/dz|| of each Dense layer in the last batch (seed 000 §4.3.6).
  const std::array<T, stage_count>& gradient_norms() const { return gradient_norms_; }

 private:
  // The forward pass, the loss and the reverse walk; stage_backward(k, input_of_stage_k, g_k) computes
  // g_{k-1} (k > 0) and does what the parameters need.
  template <std::size_t B, class Targets, class StageBackward>
  T walk(Net& net, MatrixView<const T, B, Net::input_width> x, const Targets& targets,
         StageBackward&& stage_backward) {
    reserve_rows(B);  // a no-op once the arena fits B rows
    ++step_;
    // A lookahead serves only the run right after it, only on the input it was computed for and only if the
    // network was not handed out for writing in between.
    bool first_stage_ready = false;
    if constexpr (B == 1)
      first_stage_ready = lookahead_ready_ && net.writable_access_count() == lookahead_access_count_ &&
                          std::memcmp(x.data(), lookahead_input_.data(), sizeof(T) * x.size()) == 0;
    lookahead_ready_ = false;
    if (first_stage_ready) {
      std::memcpy(output<1, 0>().data(), lookahead_output_.data(), sizeof(T) * lookahead_output_.size);
      forward<B, 1>(net, x);
    } else {
      forward<B, 0>(net, x);
    }
    const T loss = loss_and_gradient<B>(targets);
    if (check_finite_) require_finite_forward<B>(loss);
    boost::hana::for_each(Net::reverse_stage_indices, [&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = typename Net::template stage<K>;
      MatrixView<const T, B, S::output_width> g = gradient<B, K>();
      gradient_norms_[K] = std::sqrt(kernels::sum_of_squares(g.data(), g.size()));
      if (check_finite_)
        require_finite(g.data(), g.size(), S::output_width, step_,
                       [] { return "dL/dz of " + S::describe(); });
      if constexpr (K == 0)
        stage_backward(k, x, g);
      else
        stage_backward(k, MatrixView<const T, B, S::input_width>(output<B, K - 1>()), g);
    });
    lookahead_access_count_ = net.writable_access_count();  // after this walk's own updates
    return loss;
  }

  // g_{K-1} = (g_K . W_K^T) (.) act'_{K-1}(a_{K-1}).
  template <std::size_t B, std::size_t K>
  void backward_input(const Net& net, MatrixView<const T, B, Net::template stage<K>::output_width> g) {
    using S = typename Net::template stage<K>;
    S::layer::backward_input(net.template layer<K>(), g,
                             MatrixView<const T, B, S::input_width>(output<B, K - 1>()), gradient<B, K - 1>(),
                             Net::template stage<K - 1>::activation, pool_);
  }

  static std::size_t rows_to_elements(std::size_t rows) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < 2 * stage_count + 1; ++i) {
      const std::size_t width = i == 2 * stage_count ? Net::output_width : Net::widths[i % stage_count + 1];
      total += Arena<T>::round_up(rows * width);
    }
    return total;
  }

  // Network::forward from stage First on (the stages before it have their outputs), with the thread pool
  // passed to every stage.
  template <std::size_t B, std::size_t First>
  void forward(const Net& net, MatrixView<const T, B, Net::input_width> x) {
    boost::hana::for_each(Net::stage_indices, [&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = typename Net::template stage<K>;
      if constexpr (K < First) {
        return;
      } else if constexpr (K == 0) {
        S::layer::forward(net.template layer<K>(), x, output<B, K>(), S::activation, pool_);
      } else {
        S::layer::forward(net.template layer<K>(), MatrixView<const T, B, S::input_width>(output<B, K - 1>()),
                          output<B, K>(), S::activation, pool_);
      }
    });
  }

  template <std::size_t B>
  void require_finite_forward(T loss) {
    boost::hana::for_each(Net::stage_indices, [&](auto k) {
      using S = typename Net::template stage<decltype(k)::value>;
      const auto out = output<B, decltype(k)::value>();
      require_finite(out.data(), out.size(), S::output_width, step_,
                     [] { return "the output of " + S::describe(); });
    });
    require_finite(&loss, 1, 1, step_, [] { return std::string("the loss"); });
  }

  template <std::size_t B, class Targets>
  T loss_and_gradient(const Targets& targets) {
    constexpr std::size_t last = stage_count - 1;
    constexpr std::size_t width = Net::output_width;
    MatrixView<T, B, width> a = output<B, last>();
    MatrixView<T, B, width> g = gradient<B, last>();
    const T loss = detail::batch_loss<typename Net::loss_type, width, B>(a.data(), targets,
                                                                         probabilities<B>().data(), g.data());
    // The loss saw the activation's output: take its derivative into g as well.
    constexpr auto act = Net::template stage<last>::activation;
    if constexpr (act != kernels::Activation::identity)
      kernels::activation_backward(a.data(), g.data(), g.data(), g.size(), act);
    return loss;
  }

  Arena<T> arena_;
  // The lookahead: the input it was computed for and stage 0's output on it.
  Matrix<T, 1, Net::input_width> lookahead_input_;
  Matrix<T, 1, first_width> lookahead_output_;
  bool lookahead_ready_ = false;
  std::uint64_t lookahead_access_count_ = 0;  // the network's writable_access_count() when it was made
  std::array<T, stage_count> gradient_norms_{};
  std::uint64_t step_ = 0;
  bool check_finite_ = false;
  kernels::ThreadPool* pool_ = nullptr;
};

}  // namespace typenet::detail
