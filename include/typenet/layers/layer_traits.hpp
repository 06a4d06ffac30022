// What the network needs to know about a layer type, without instantiating it: its kind and its widths.
// A width-preserving layer (an activation) has no widths of its own: it takes the width it receives.
#pragma once

#include <cstddef>
#include <type_traits>

namespace typenet {

template <std::size_t In, std::size_t Out>
struct Dense;
struct Sigmoid;
struct ReLU;
struct SoftmaxCrossEntropy;
struct MeanSquaredError;

namespace detail {

template <class Layer>
struct is_dense : std::false_type {};
template <std::size_t In, std::size_t Out>
struct is_dense<Dense<In, Out>> : std::true_type {};

template <class Layer>
inline constexpr bool is_dense_v = is_dense<Layer>::value;

template <class Layer>
inline constexpr bool is_loss_v =
    std::is_same_v<Layer, SoftmaxCrossEntropy> || std::is_same_v<Layer, MeanSquaredError>;

template <class Layer>
inline constexpr bool is_activation_v = std::is_same_v<Layer, Sigmoid> || std::is_same_v<Layer, ReLU>;

}  // namespace detail
}  // namespace typenet
