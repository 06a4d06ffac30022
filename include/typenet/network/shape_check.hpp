// The compile-time shape check of a network, done once where the user names the network type.
//
// Layers are counted from 0 in the order written, activations and the loss included:
//   Network<Dense<784,256>, Sigmoid, Dense<256,128>, Sigmoid, Dense<128,10>, SoftmaxCrossEntropy>
//           ^ layer 0       ^ 1      ^ 2             ^ 3      ^ 4            ^ 5
// Why it is flat: widths are computed in a constexpr array and every check is one named function template
// whose parameters name the layer, so a mistake gives one short error whose first lines carry the layer
// index, the layer type and both widths. After a failed check the network is built as if the faulty layer
// had been written right (repaired), so nothing downstream reports the same mistake again.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "typenet/layers/layer_traits.hpp"

namespace typenet {

// Each trait below has its own `value` (rather than deriving from std::bool_constant) so that g++ prints the
// trait, with its numbers, when a check fails.
// Tags that make the compiler's message readable: they appear, with their numbers, in the error.
template <std::size_t Index>
struct layer_index {};
template <std::size_t Width>
struct previous_layer_outputs {};
template <std::size_t Count>
struct layer_count {};
template <std::size_t Count>
struct loss_count {};
template <class Layer>
struct previous_layer {};

// Does `Layer` (at `LayerIndex`) accept the width the previous layer produces?
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct layer_input_fits {
  static constexpr bool value = true;
};
template <std::size_t I, std::size_t In, std::size_t Out, std::size_t Width>
struct layer_input_fits<layer_index<I>, Dense<In, Out>, previous_layer_outputs<Width>> {
  static constexpr bool value = In == Width || In == 0;  // width 0 has its own check
};

template <class LayerIndex, class Layer>
struct layer_widths_are_positive {
  static constexpr bool value = true;
};
template <std::size_t I, std::size_t In, std::size_t Out>
struct layer_widths_are_positive<layer_index<I>, Dense<In, Out>> {
  static constexpr bool value = In != 0 && Out != 0;
};

template <class LayerIndex, class Layer, class LayerCount>
struct loss_is_last_layer {
  static constexpr bool value = true;
};
template <std::size_t I, class Layer, std::size_t N>
requires detail::is_loss_v<Layer>
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
template <std::size_t I, class Layer, class Previous>
requires detail::is_activation_v<Layer>
struct activation_follows_dense<layer_index<I>, Layer, previous_layer<Previous>> {
  static constexpr bool value = I == 0 || detail::is_dense_v<Previous>;
};

template <class LayerIndex, class Layer>
struct first_layer_is_dense {
  static constexpr bool value = detail::is_dense_v<Layer>;
};

namespace detail {

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
constexpr bool check_layer_input() {
  static_assert(layer_input_fits<LayerIndex, Layer, PreviousLayerOutputs>::value,
                "typenet: this layer's input width differs from the previous layer's output width");
  return true;
}

template <class LayerIndex, class Layer>
constexpr bool check_layer_widths() {
  static_assert(layer_widths_are_positive<LayerIndex, Layer>::value, "typenet: a Dense layer of width 0");
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
                "typenet: an activation must directly follow a Dense layer");
  return true;
}

template <class LayerIndex, class Layer>
constexpr bool check_first_layer() {
  static_assert(first_layer_is_dense<LayerIndex, Layer>::value,
                "typenet: a network starts with a Dense layer, which fixes its input width");
  return true;
}

// The widths of the layer list, computed flat.
template <class... Layers>
struct WidthFlow {
  static constexpr std::size_t layer_count = sizeof...(Layers);
  static constexpr std::array<bool, layer_count> dense = {is_dense_v<Layers>...};
  static constexpr std::array<bool, layer_count> loss = {is_loss_v<Layers>...};

  template <class Layer>
  static constexpr std::size_t declared_input() {
    if constexpr (is_dense_v<Layer>) return Layer::input_width;
    return 0;
  }
  template <class Layer>
  static constexpr std::size_t declared_output() {
    if constexpr (is_dense_v<Layer>) return Layer::output_width == 0 ? 1 : Layer::output_width;  // repaired
    return 0;
  }
  static constexpr std::array<std::size_t, layer_count> declared_inputs = {declared_input<Layers>()...};
  static constexpr std::array<std::size_t, layer_count> declared_outputs = {declared_output<Layers>()...};

  // The network's input width: that of the first Dense layer.
  static constexpr std::size_t input_width = [] {
    for (std::size_t i = 0; i < layer_count; ++i)
      if (dense[i]) return declared_inputs[i] == 0 ? std::size_t{1} : declared_inputs[i];
    return std::size_t{1};
  }();

  // received[i]: the width layer i actually receives; received[layer_count]: the network's output width.
  static constexpr std::array<std::size_t, layer_count + 1> received = [] {
    std::array<std::size_t, layer_count + 1> widths{};
    widths[0] = input_width;
    for (std::size_t i = 0; i < layer_count; ++i) widths[i + 1] = dense[i] ? declared_outputs[i] : widths[i];
    return widths;
  }();

  static constexpr std::size_t losses = [] {
    std::size_t count = 0;
    for (bool is_loss : loss) count += is_loss;
    return count;
  }();
};

}  // namespace detail
}  // namespace typenet
