// MaxPool2D<Window, Stride = Window>: the maximum of each Window x Window patch of every channel, moved by
// Stride, no padding: Shape<C, H, W> becomes Shape<C, (H - Window)/Stride + 1, (W - Window)/Stride + 1>.
// Forward keeps where each maximum was (ctx.kept), and backward sends the gradient there alone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t Window, std::size_t Stride = Window>
struct MaxPool2D;

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct pool_receives_an_image {
  static constexpr bool value = true;
};
template <class Index, std::size_t K, std::size_t S, std::size_t... Dims>
struct pool_receives_an_image<Index, MaxPool2D<K, S>, previous_layer_outputs<Dims...>> {
  static constexpr bool value = sizeof...(Dims) == 3;
};
template <class Index, std::size_t K, std::size_t S, class Image, std::size_t Values>
struct pool_receives_an_image<Index, MaxPool2D<K, S>, flattened<Image, Values>> {
  static constexpr bool value = false;
};

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct pool_window_fits_input {
  static constexpr bool value = true;
};
template <class Index, std::size_t K, std::size_t S, std::size_t C, std::size_t H, std::size_t W>
struct pool_window_fits_input<Index, MaxPool2D<K, S>, previous_layer_outputs<C, H, W>> {
  static constexpr bool value = K <= H && K <= W;
};

template <class LayerIndex, class Layer>
struct pool_sizes_are_positive {
  static constexpr bool value = true;
};
template <class Index, std::size_t K, std::size_t S>
struct pool_sizes_are_positive<Index, MaxPool2D<K, S>> {
  static constexpr bool value = K != 0 && S != 0;
};

namespace detail {

// The pooling a MaxPool2D does on R: as written where that fits, else the nearest that does (after its
// error).
template <ShapeType R, std::size_t Window, std::size_t Stride>
constexpr kernels::PoolGeometry pool_geometry() {
  using image = image_dims<R>;
  return {image::channels, image::height, image::width,
          std::clamp<std::size_t>(Window, 1, std::min(image::height, image::width)),
          Stride == 0 ? 1 : Stride};
}

inline std::string pool_name(std::size_t window, std::size_t stride) {
  return "MaxPool2D<" + std::to_string(window) + (stride == window ? "" : ", " + std::to_string(stride)) +
         ">";
}

template <std::size_t Channels, std::size_t Height, std::size_t Width, std::size_t Window, std::size_t Stride>
struct MaxPool2DLayer {
  static constexpr kernels::PoolGeometry geometry{Channels, Height, Width, Window, Stride};
  static constexpr std::size_t in_size = Channels * Height * Width;
  static constexpr std::size_t out_size = geometry.out_size();
  static_assert(in_size < (std::size_t{1} << 24),
                "typenet: MaxPool2D keeps positions as float: images "
                "up to 2^24 values");

  static std::string name() { return pool_name(Window, Stride); }
  template <ShapeType Received>
  using output_shape = Shape<Channels, geometry.out_height(), geometry.out_width()>;

  static constexpr std::size_t kept_per_row = out_size;  // where each maximum was
  static std::string input_gradient_text(const std::string& z, const std::string&) {
    std::string text = "unpool(";
    text += z;
    text += ", argmax)";
    return text;
  }
  template <class T>
  using Parameters = NoParameters;

  template <class T, std::size_t Rows>
  static void forward(const NoParameters&, MatrixView<const T, Rows, in_size> in,
                      MatrixView<T, Rows, out_size> out, const LayerContext<T>& ctx) {
    kernels::max_pool_forward(in.data(), out.data(), ctx.kept, in.row_count(), geometry);
  }

  template <class T, std::size_t Rows>
  static void backward_input(const NoParameters&, MatrixView<const T, Rows, out_size> d_out,
                             MatrixView<const T, Rows, in_size>, MatrixView<T, Rows, in_size> d_in,
                             const LayerContext<T>& ctx) {
    kernels::max_pool_backward(d_out.data(), ctx.kept, d_in.data(), d_out.row_count(), geometry);
  }
};

template <ShapeType R, std::size_t Window, std::size_t Stride>
struct pool_layer_for {
  static constexpr kernels::PoolGeometry g = pool_geometry<R, Window, Stride>();
  using type = MaxPool2DLayer<g.channels, g.height, g.width, g.window, g.stride>;
};

}  // namespace detail

template <std::size_t Window, std::size_t Stride>
struct MaxPool2D {
  static std::string name() { return detail::pool_name(Window, Stride); }

  template <ShapeType Received>
  using fitted_to = typename detail::pool_layer_for<Received, Window, Stride>::type;
  template <ShapeType Received>
  using output_shape = typename fitted_to<Received>::template output_shape<Received>;

  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool check_input() {
    static_assert(pool_sizes_are_positive<LayerIndex, MaxPool2D>::value,
                  "typenet: a MaxPool2D window or stride of 0");
    static_assert(pool_receives_an_image<LayerIndex, MaxPool2D, PreviousLayerOutputs>::value,
                  "typenet: MaxPool2D needs an image Shape<C, H, W>; it cannot follow Flatten or Dense");
    static_assert(pool_window_fits_input<LayerIndex, MaxPool2D, PreviousLayerOutputs>::value,
                  "typenet: the MaxPool2D window is larger than the image it receives");
    return true;
  }
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool fits() {
    return pool_sizes_are_positive<LayerIndex, MaxPool2D>::value &&
           pool_receives_an_image<LayerIndex, MaxPool2D, PreviousLayerOutputs>::value &&
           pool_window_fits_input<LayerIndex, MaxPool2D, PreviousLayerOutputs>::value;
  }
};

}  // namespace typenet
