// typenet::compute_gradients(net, x, targets): one forward and backward pass that stores every parameter
// gradient and changes no parameter. It is the analytic side of the gradient check and the way to look at
// the gradients of a batch (seed 000 §4.3.4) without building a trainer.
#pragma once

#include <array>
#include <cstddef>

#include "typenet/core/matrix.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/backprop.hpp"

namespace typenet {

template <class Net>
struct NetworkGradients {
  using T = typename Net::scalar_type;
  T loss{};
  // dL/d(parameters) of every layer, by position: the same type as the network's parameters
  // (gradients.parameters.layer<0>().weights).
  typename Net::Parameters parameters;
  // ||dL/dz_k|| of each stage's pre-activation (seed 000 §4.3.6).
  std::array<T, Net::stage_count> z_norms{};
};

template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
NetworkGradients<Net> compute_gradients(Net& net, const Matrix<U, B, Width>& x, const Targets& targets) {
  detail::check_step_arguments<Net, U, B, Width, Targets>();
  NetworkGradients<Net> result;
  if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>()) {
    detail::Backprop<Net> backprop;
    result.loss =
        backprop.run(net, x.view(), targets, backprop.template store_gradients<B>(net, result.parameters));
    result.z_norms = backprop.gradient_norms();
  }
  return result;
}

}  // namespace typenet
