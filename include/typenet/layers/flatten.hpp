// Flatten: an image Shape<C, H, W> becomes the vector Shape<C*H*W> a Dense layer takes. A reshape layer
// (layers/contract.hpp): NCHW rows already hold the image in that order (PyTorch's flatten order), so it
// runs no pass. The layer after it is told what was flattened, flattened<previous_layer_outputs<C, H, W>,
// C*H*W>, so a Dense layer of the wrong width names the image in its error.
#pragma once

#include <string>

#include "typenet/core/shape.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

struct Flatten {
  static std::string name() { return "Flatten"; }
  static constexpr bool reshapes_only = true;
  template <ShapeType Received>
  using output_shape = Shape<Received::size>;
  template <ShapeType Received>
  using outputs_tag = flattened<detail::outputs_tag<Received>, Received::size>;
};

}  // namespace typenet
