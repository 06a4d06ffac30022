// The network-wide compile-time checks, done once where the user names the network type. The rules of one
// layer about what it receives live in that layer's header (its check_input, layers/contract.hpp).
//
// Layers are counted from 0 in the order written, activations and the loss included:
//   Network<Dense<784,256>, Sigmoid, Dense<256,128>, Sigmoid, Dense<128,10>, SoftmaxCrossEntropy>
//           ^ layer 0       ^ 1      ^ 2             ^ 3      ^ 4            ^ 5
// Why it is flat: shapes are computed by one fold over the layer list and every check is one named function
// template whose parameters name the layer, so a mistake gives one short error whose first lines carry the
// layer index, the layer type and both shapes. After a failed check the network is built as if the faulty
// layer had been written right (repaired), so nothing downstream reports the same mistake again.
#pragma once

#include <cstddef>

#include "typenet/layers/contract.hpp"

namespace typenet {

// Each trait below has its own `value` (rather than deriving from std::bool_constant) so that g++ prints the
// trait, with its numbers, when a check fails.
template <std::size_t Count>
struct layer_count {};
template <std::size_t Count>
struct loss_count {};
template <class Layer>
struct previous_layer {};

template <class LayerCount>
struct network_has_layers {
  static constexpr bool value = true;
};
template <>
struct network_has_layers<layer_count<0>> {
  static constexpr bool value = false;
};

// Is Type a layer (layers/contract.hpp), given what it receives?
template <class LayerIndex, class Type, class PreviousLayerOutputs>
struct follows_layer_contract {
  static constexpr bool value = true;
};
template <class Index, class Type, std::size_t... Dims>
struct follows_layer_contract<Index, Type, previous_layer_outputs<Dims...>> {
  static constexpr bool value = detail::layer_at<Type, Shape<Dims...>>;
};

template <class LayerIndex, class Layer, class LayerCount>
struct loss_is_last_layer {
  static constexpr bool value = true;
};
template <std::size_t I, detail::loss_layer Layer, std::size_t N>
struct loss_is_last_layer<layer_index<I>, Layer, layer_count<N>> {
  static constexpr bool value = I + 1 == N;
};

template <class LossCount>
struct network_has_exactly_one_loss {
  static constexpr bool value = false;
};
template <>
struct network_has_exactly_one_loss<loss_count<1>> {
  static constexpr bool value = true;
};

template <class LayerIndex, class Layer, class PreviousLayer>
struct activation_follows_dense {
  static constexpr bool value = true;
};
template <std::size_t I, detail::elementwise_layer Layer, class Previous>
struct activation_follows_dense<layer_index<I>, Layer, previous_layer<Previous>> {
  static constexpr bool value = I == 0 || detail::fuses_activation<Previous>();
};
// Inside a block (Residual) nothing comes before its layer 0 to fuse into.
template <class Block, std::size_t I, detail::elementwise_layer Layer, class Previous>
struct activation_follows_dense<layer_in_block<Block, I>, Layer, previous_layer<Previous>> {
  static constexpr bool value = I != 0 && detail::fuses_activation<Previous>();
};

// Does a reshape layer (Flatten) keep the number of values it receives? (Input declares what it receives.)
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct reshape_keeps_size {
  static constexpr bool value = true;
};
template <class Index, detail::reshape_layer Layer, std::size_t... Dims>
struct reshape_keeps_size<Index, Layer, previous_layer_outputs<Dims...>> {
  static constexpr bool value = requires { typename Layer::input_shape; }
  || Layer::template output_shape<Shape<Dims...>>::size == Shape<Dims...>::size;
};

template <class LayerIndex, class Layer>
struct first_layer_is_dense {
  static constexpr bool value = requires { typename Layer::input_shape; };
};

namespace detail {

template <class LayerCount>
constexpr bool check_network_has_layers() {
  static_assert(network_has_layers<LayerCount>::value,
                "typenet: a network needs layers, and a loss last: Network<Dense<In, Out>, ..., Loss>");
  return true;
}

template <class LayerIndex, class Type, class PreviousLayerOutputs>
constexpr bool check_layer_contract() {
  static_assert(follows_layer_contract<LayerIndex, Type, PreviousLayerOutputs>::value,
                "typenet: this type is not a layer: see the layer contract in typenet/layers/contract.hpp");
  return true;
}

template <class LayerIndex, class Layer, class LayerCount>
constexpr bool check_loss_position() {
  static_assert(loss_is_last_layer<LayerIndex, Layer, LayerCount>::value,
                "typenet: the loss must be the last layer of the network");
  return true;
}

template <class LossCount>
constexpr bool check_loss_count() {
  static_assert(network_has_exactly_one_loss<LossCount>::value,
                "typenet: a network ends with exactly one loss (SoftmaxCrossEntropy or MeanSquaredError)");
  return true;
}

template <class LayerIndex, class Layer, class PreviousLayer>
constexpr bool check_activation_position() {
  static_assert(activation_follows_dense<LayerIndex, Layer, PreviousLayer>::value,
                "typenet: an activation must directly follow a Dense layer (or another layer it fuses into)");
  return true;
}

template <class LayerIndex, class Layer>
constexpr bool check_first_layer() {
  static_assert(first_layer_is_dense<LayerIndex, Layer>::value,
                "typenet: a network starts with a Dense layer or Input<C, H, W> (a layer that declares its "
                "input_shape), which fixes its input shape");
  return true;
}

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
constexpr bool check_reshape_keeps_size() {
  static_assert(reshape_keeps_size<LayerIndex, Layer, PreviousLayerOutputs>::value,
                "typenet: a reshape layer must keep the number of values it receives");
  return true;
}

}  // namespace detail
}  // namespace typenet
