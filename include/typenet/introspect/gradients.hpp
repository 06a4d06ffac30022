// typenet::compute_gradients(net, x, targets): one forward and backward pass that stores every parameter
// gradient and changes no parameter. It is the analytic side of the gradient check and the way to look at
// the gradients of a batch (seed 000 §4.3.4) without building a trainer.
#pragma once

#include <array>
#include <boost/hana/at.hpp>
#include <cstddef>

#include "typenet/core/matrix.hpp"
#include "typenet/introspect/loss.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/backprop.hpp"

namespace typenet {

template <class Net>
struct NetworkGradients {
  using T = typename Net::scalar_type;
  T loss{};
  // dL/dW (In x Out) and dL/db (1 x Out) of each Dense layer: the same type as the network's parameters.
  typename Net::Parameters parameters;
  // ||dL/dz_k|| of each Dense layer's pre-activation (seed 000 §4.3.6).
  std::array<T, Net::stage_count> z_norms{};
};

namespace detail {

// The sink for Backprop::run that stores dW and db of each layer instead of updating it.
template <class Net>
auto store_parameter_gradients(typename Net::Parameters& gradients) {
  return [&gradients](auto k, auto in, auto g) {
    using Layer = typename Net::template stage<decltype(k)::value>::layer;
    Layer::backward_params(in, g, boost::hana::at(gradients, k));
  };
}

}  // namespace detail

template <class Net, std::size_t B, std::size_t Width, class Targets>
NetworkGradients<Net> compute_gradients(Net& net, const Matrix<typename Net::scalar_type, B, Width>& x,
                                        const Targets& targets) {
  detail::check_input_width<network_input_width<Net::input_width>, given_width<Width>>();
  detail::check_targets<Net, B>(static_cast<const Targets*>(nullptr));
  NetworkGradients<Net> result;
  if constexpr (Width == Net::input_width && detail::targets_fit<Net, B, Targets>()) {
    detail::Backprop<Net> backprop;
    result.loss =
        backprop.run(net, x.view(), targets, detail::store_parameter_gradients<Net>(result.parameters));
    result.z_norms = backprop.gradient_norms();
  }
  return result;
}

}  // namespace typenet
