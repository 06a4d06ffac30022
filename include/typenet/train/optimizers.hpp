// Optimizers. Each keeps its state in tensors shaped like the network's parameters (allocated once, when the
// trainer is built) and updates every weight matrix and bias vector through one kernel call each.
//   SGD:      p -= lr * g                          (fused into the dW pass when nothing else needs dW)
//   Momentum: v = mu * v - lr * g; p += v
//   Adam:     as in Kingma & Ba (2015) and PyTorch, with bias correction
//   AdamW:    Adam with decoupled weight decay (Loshchilov & Hutter, 2019; PyTorch's AdamW): p *= 1 - lr * wd
//             before the Adam step
// weight_decay in SGD, Momentum and Adam is L2 regularisation, as PyTorch's weight_decay there: wd * p is
// added to the gradient of each weight tensor before the update. Every decay applies to weights only, not to
// biases (PyTorch decays whatever parameters it is given; excluding biases is the usual choice and keeps a
// bias free to fit the data's offset). The trainer sets learning_rate each epoch when a schedule runs
// (train/schedule.hpp); the gradient handed to update() is the trainer's own, and may be modified.
#pragma once

#include <cmath>
#include <cstdint>

#include "typenet/kernels/kernels.hpp"
#include "typenet/network/parameters.hpp"

namespace typenet {

namespace detail {

// f(params, grads, state..., count) for each parameter tensor of the network, in order.
template <class Net, class F, class... States>
void for_each_tensor(typename Net::Parameters& params, const typename Net::Parameters& grads, F&& f,
                     States&... states) {
  Net::Parameters::zip(
      [&](const auto&, auto& p, const auto& g, auto&... s) { f(p.data(), g.data(), s.data()..., p.size); },
      params, grads, states...);
}

// L2 regularisation's gradient: g += wd * p on every weight tensor (biases untouched).
template <class Net>
void add_weight_decay(const typename Net::Parameters& params, typename Net::Parameters& grads, double wd) {
  using T = typename Net::scalar_type;
  if (wd == 0) return;
  Net::Parameters::zip(
      [&](const auto& info, const auto& p, auto& g) {
        if (info.kind == TensorKind::weights) kernels::sgd_update(g.data(), p.data(), T(-wd), p.size);
      },
      params, grads);
}

// Decoupled weight decay: p *= 1 - lr * wd on every weight tensor.
template <class Net>
void decay_weights(typename Net::Parameters& params, double factor) {
  using T = typename Net::scalar_type;
  if (factor == 1) return;
  Net::Parameters::zip(
      [&](const auto& info, auto& p) {
        if (info.kind == TensorKind::weights) kernels::scale(p.data(), T(factor), p.size);
      },
      params);
}

}  // namespace detail

struct SGD {
  double learning_rate = 0.01;
  double weight_decay = 0;  // L2: wd * p added to each weight tensor's gradient (0: the update fuses into dW)

  template <class Net>
  struct State {
    explicit State(const Net&) {}
  };

  template <class Net>
  void update(typename Net::Parameters& params, typename Net::Parameters& grads, State<Net>&) const {
    using T = typename Net::scalar_type;
    detail::add_weight_decay<Net>(params, grads, weight_decay);
    detail::for_each_tensor<Net>(params, grads, [&](T* p, const T* g, std::size_t n) {
      kernels::sgd_update(p, g, T(learning_rate), n);
    });
  }
};

struct Momentum {
  double learning_rate = 0.01;
  double momentum = 0.9;
  double weight_decay = 0;  // L2, as SGD's

  template <class Net>
  struct State {
    explicit State(const Net&) {}
    typename Net::Parameters velocity;  // zero-filled
  };

  template <class Net>
  void update(typename Net::Parameters& params, typename Net::Parameters& grads, State<Net>& state) const {
    using T = typename Net::scalar_type;
    detail::add_weight_decay<Net>(params, grads, weight_decay);
    detail::for_each_tensor<Net>(
        params, grads,
        [&](T* p, const T* g, T* v, std::size_t n) {
          kernels::momentum_update(p, g, v, T(learning_rate), T(momentum), n);
        },
        state.velocity);
  }
};

namespace detail {

// Adam's moments and step count, and one Adam step on every tensor (shared by Adam and AdamW).
template <class Net>
struct AdamState {
  explicit AdamState(const Net&) {}
  typename Net::Parameters first_moment;   // zero-filled
  typename Net::Parameters second_moment;  // zero-filled
  std::uint64_t step = 0;
};

template <class Net>
void adam_step(typename Net::Parameters& params, const typename Net::Parameters& grads, AdamState<Net>& state,
               double learning_rate, double beta1, double beta2, double epsilon) {
  using T = typename Net::scalar_type;
  ++state.step;
  const T correction1 = T(1 - std::pow(beta1, double(state.step)));
  const T correction2 = T(1 - std::pow(beta2, double(state.step)));
  for_each_tensor<Net>(
      params, grads,
      [&](T* p, const T* g, T* m, T* v, std::size_t n) {
        kernels::adam_update(p, g, m, v, T(learning_rate), T(beta1), T(beta2), T(epsilon), correction1,
                             correction2, n);
      },
      state.first_moment, state.second_moment);
}

}  // namespace detail

struct Adam {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0;  // L2, added to the gradient before the moments (PyTorch's Adam); see AdamW

  template <class Net>
  using State = detail::AdamState<Net>;

  template <class Net>
  void update(typename Net::Parameters& params, typename Net::Parameters& grads, State<Net>& state) const {
    detail::add_weight_decay<Net>(params, grads, weight_decay);
    detail::adam_step<Net>(params, grads, state, learning_rate, beta1, beta2, epsilon);
  }
};

struct AdamW {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.01;  // decoupled: weights shrink by lr * wd each step, outside the moments

  template <class Net>
  using State = detail::AdamState<Net>;

  template <class Net>
  void update(typename Net::Parameters& params, typename Net::Parameters& grads, State<Net>& state) const {
    detail::decay_weights<Net>(params, 1 - learning_rate * weight_decay);
    detail::adam_step<Net>(params, grads, state, learning_rate, beta1, beta2, epsilon);
  }
};

}  // namespace typenet
