// ParameterSet: the parameters of every layer of a network, by the layer's position in the list the user
// wrote (activations and the loss hold none). The network's weights, a trainer's gradients and an
// optimizer's moments are each one ParameterSet of the same type:
//
//   net.layer<0>().weights      // Dense<784, 256>: a Matrix<float, 784, 256>
//   grads.layer<2>().bias       // the second Dense layer's bias gradient
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/layers/contract.hpp"

namespace typenet {

// One parameter tensor, as the gradient check and the model file see it.
template <class T>
struct ParameterTensor {
  std::size_t layer;  // its layer's position, counted as everywhere (network/shape_check.hpp)
  TensorKind kind;
  std::size_t rows, cols;
  std::span<T> values;
};

namespace detail {

template <class L, class T>
struct parameters_or_none {
  using type = NoParameters;
};
template <class L, class T>
requires has_parameters<L, T>
struct parameters_or_none<L, T> {
  using type = typename L::template Parameters<T>;
};

// f(std::integral_constant<std::size_t, I>{}) for I = 0 .. N-1, in order (Reverse: N-1 .. 0).
template <std::size_t N, bool Reverse = false, class F>
constexpr void for_each_index(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f(std::integral_constant < std::size_t, Reverse ? N - 1 - I : I > {}), ...);
  }
  (std::make_index_sequence<N>{});
}

template <class Matrix>
constexpr std::size_t tensor_size = std::remove_cvref_t<Matrix>::size;

}  // namespace detail

template <class T, class LayerList>
class ParameterSet;

template <class T, template <class...> class List, class... Layers>
class ParameterSet<T, List<Layers...>> {
 public:
  using scalar_type = T;
  static constexpr std::size_t layer_count = sizeof...(Layers);
  template <std::size_t I>
  using layer_parameters =
      typename detail::parameters_or_none<std::tuple_element_t<I, std::tuple<Layers...>>, T>::type;

 private:
  struct TensorInfo {
    std::size_t layer;
    TensorKind kind;
  };
  template <std::size_t I, bool State>
  static constexpr auto members() {
    if constexpr (State)
      return detail::state_tensors_of<layer_parameters<I>>();
    else
      return layer_parameters<I>::tensors();
  }
  template <bool State, class F, class... Sets>
  static void zip_members(F&& f, Sets&... sets) {
    detail::for_each_index<layer_count>([&](auto i) {
      constexpr std::size_t I = decltype(i)::value;
      const auto visit = [&](auto member) {
        f(TensorInfo{I, member.kind}, member.of(sets.template layer<I>())...);
      };
      std::apply([&](auto... m) { (visit(m), ...); }, members<I, State>());
    });
  }

 public:
  // Zero-filled.
  ParameterSet() = default;

  template <std::size_t I>
  layer_parameters<I>& layer() {
    return boost::hana::at_c<I>(tensors_);
  }
  template <std::size_t I>
  const layer_parameters<I>& layer() const {
    return boost::hana::at_c<I>(tensors_);
  }

  // Every tensor of every layer, in order: f(ParameterTensor<T or const T>).
  template <class F>
  void for_each_tensor(F&& f) {
    zip([&](const auto& info, auto& tensor) { f(describe(info, tensor)); }, *this);
  }
  template <class F>
  void for_each_tensor(F&& f) const {
    zip([&](const auto& info, const auto& tensor) { f(describe(info, tensor)); }, *this);
  }

  // For each tensor in order: f(info, tensor of sets[0], tensor of sets[1], ...) where every set has this
  // type and info has .layer and .kind: how the optimizers walk parameters, gradients and moments together.
  template <class F, class... Sets>
  static void zip(F&& f, Sets&... sets) {
    zip_members<false>(f, sets...);
  }

  // Every state tensor (layers/contract.hpp: state_tensors, BatchNorm's running statistics), in order:
  // not trained, but saved with the parameters.
  template <class F>
  void for_each_state_tensor(F&& f) {
    zip_members<true>([&](const auto& info, auto& tensor) { f(describe(info, tensor)); }, *this);
  }
  template <class F>
  void for_each_state_tensor(F&& f) const {
    zip_members<true>([&](const auto& info, const auto& tensor) { f(describe(info, tensor)); }, *this);
  }

  // Values in all (trainable) tensors, and in all state tensors.
  static constexpr std::size_t parameter_count =
      (std::size_t{0} + ... +
       detail::values_in<typename detail::parameters_or_none<Layers, T>::type>(
           detail::parameters_or_none<Layers, T>::type::tensors()));
  static constexpr std::size_t state_count =
      (std::size_t{0} + ... +
       detail::values_in<typename detail::parameters_or_none<Layers, T>::type>(
           detail::state_tensors_of<typename detail::parameters_or_none<Layers, T>::type>()));

 private:
  template <class Tensor>
  static auto describe(const TensorInfo& info, Tensor& tensor) {
    using M = std::remove_cvref_t<Tensor>;
    using Value = std::remove_reference_t<decltype(*tensor.data())>;
    return ParameterTensor<Value>{info.layer, info.kind, M::rows, M::cols,
                                  std::span<Value>(tensor.data(), M::size)};
  }

  boost::hana::tuple<typename detail::parameters_or_none<Layers, T>::type...> tensors_;
};

}  // namespace typenet
