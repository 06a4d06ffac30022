// Input<C, H, W> (or Input<N>): the shape of one sample, written first where the network starts with a layer
// that takes any shape, such as Conv2D:
//   Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, ...>
// A reshape layer (layers/contract.hpp): it runs no pass; a Matrix<float, B, 784> of images feeds
// Input<1, 28, 28> as it is, one sample a row of C*H*W values (NCHW).
#pragma once

#include <cstddef>
#include <string>

#include "typenet/core/shape.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t... Dims>
struct Input;

template <class LayerIndex, class Layer>
struct input_is_first_layer {
  static constexpr bool value = true;
};
template <std::size_t I, std::size_t... Dims>
struct input_is_first_layer<layer_index<I>, Input<Dims...>> {
  static constexpr bool value = I == 0;
};

template <class LayerIndex, class Layer>
struct input_dims_are_positive {
  static constexpr bool value = true;
};
template <std::size_t I, std::size_t... Dims>
struct input_dims_are_positive<layer_index<I>, Input<Dims...>> {
  static constexpr bool value = ((Dims != 0) && ...);
};

template <std::size_t... Dims>
struct Input {
  static std::string name() {
    std::string list;
    ((list += (list.empty() ? "" : ", ") + std::to_string(Dims)), ...);
    return "Input<" + list + ">";
  }

  static constexpr bool reshapes_only = true;
  static constexpr bool is_declaration = true;  // PyTorch has no module for it
  using input_shape = Shape<(Dims == 0 ? 1 : Dims)...>;
  template <ShapeType Received>
  using output_shape = input_shape;

  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool check_input() {
    static_assert(input_is_first_layer<LayerIndex, Input>::value,
                  "typenet: Input<...> names the network's input: it must be the first layer");
    static_assert(input_dims_are_positive<LayerIndex, Input>::value, "typenet: an Input dimension of 0");
    return true;
  }
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool fits() {
    return input_is_first_layer<LayerIndex, Input>::value &&
           input_dims_are_positive<LayerIndex, Input>::value;
  }
};

}  // namespace typenet
