// Optimizers. Each keeps its state in tensors shaped like the network's parameters (allocated once, when the
// trainer is built) and updates every weight matrix and bias vector through one kernel call each.
//   SGD:      p -= lr * g                          (fused into the dW pass when nothing else needs dW)
//   Momentum: v = mu * v - lr * g; p += v
//   Adam:     as in Kingma & Ba (2015) and PyTorch, with bias correction
#pragma once

#include <cmath>
#include <cstdint>

#include "typenet/kernels/kernels.hpp"

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

}  // namespace detail

struct SGD {
  double learning_rate = 0.01;

  template <class Net>
  struct State {
    explicit State(const Net&) {}
  };

  template <class Net>
  void update(typename Net::Parameters& params, const typename Net::Parameters& grads, State<Net>&) const {
    using T = typename Net::scalar_type;
    detail::for_each_tensor<Net>(params, grads, [&](T* p, const T* g, std::size_t n) {
      kernels::sgd_update(p, g, T(learning_rate), n);
    });
  }
};

struct Momentum {
  double learning_rate = 0.01;
  double momentum = 0.9;

  template <class Net>
  struct State {
    explicit State(const Net&) {}
    typename Net::Parameters velocity;  // zero-filled
  };

  template <class Net>
  void update(typename Net::Parameters& params, const typename Net::Parameters& grads,
              State<Net>& state) const {
    using T = typename Net::scalar_type;
    detail::for_each_tensor<Net>(
        params, grads,
        [&](T* p, const T* g, T* v, std::size_t n) {
          kernels::momentum_update(p, g, v, T(learning_rate), T(momentum), n);
        },
        state.velocity);
  }
};

struct Adam {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;

  template <class Net>
  struct State {
    explicit State(const Net&) {}
    typename Net::Parameters first_moment;   // zero-filled
    typename Net::Parameters second_moment;  // zero-filled
    std::uint64_t step = 0;
  };

  template <class Net>
  void update(typename Net::Parameters& params, const typename Net::Parameters& grads,
              State<Net>& state) const {
    using T = typename Net::scalar_type;
    ++state.step;
    const T correction1 = T(1 - std::pow(beta1, double(state.step)));
    const T correction2 = T(1 - std::pow(beta2, double(state.step)));
    detail::for_each_tensor<Net>(
        params, grads,
        [&](T* p, const T* g, T* m, T* v, std::size_t n) {
          kernels::adam_update(p, g, m, v, T(learning_rate), T(beta1), T(beta2), T(epsilon), correction1,
                               correction2, n);
        },
        state.first_moment, state.second_moment);
  }
};

}  // namespace typenet
