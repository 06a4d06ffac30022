// Conv2D<InChannels, OutChannels, Kernel, Stride = 1, Padding = 0>: OutChannels filters of InChannels x
// Kernel x Kernel over an image Shape<C, H, W>, giving Shape<OutChannels, (H + 2P - K)/S + 1,
// (W + 2P - K)/S + 1>. Weights OutChannels x (InChannels*K*K), PyTorch's (out, in, kH, kW) order; one bias
// per filter. He-initialised over the fan-in InChannels*K*K. The activation written after it is fused into
// its forward pass (layers/contract.hpp: fuses_activation).
//
// The image size comes from what the layer receives, so the network builds it as Conv2DLayer for that size
// (fitted_to); the checks below compare what was written with what arrives.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <tuple>

#include "typenet/core/init.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t InChannels, std::size_t OutChannels, std::size_t Kernel, std::size_t Stride = 1,
          std::size_t Padding = 0>
struct Conv2D;

// ------------------------------------------------------------------------------------------------ checks

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct conv_receives_an_image {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P,
          std::size_t... Dims>
struct conv_receives_an_image<Index, Conv2D<C, O, K, S, P>, previous_layer_outputs<Dims...>> {
  static constexpr bool value = sizeof...(Dims) == 3;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P, class Image,
          std::size_t Values>
struct conv_receives_an_image<Index, Conv2D<C, O, K, S, P>, flattened<Image, Values>> {
  static constexpr bool value = false;
};

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct conv_input_channels_fit {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P,
          std::size_t Channels, std::size_t H, std::size_t W>
struct conv_input_channels_fit<Index, Conv2D<C, O, K, S, P>, previous_layer_outputs<Channels, H, W>> {
  static constexpr bool value = C == Channels || C == 0;  // 0 has its own check
};

template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct conv_kernel_fits_padded_input {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P,
          std::size_t Channels, std::size_t H, std::size_t W>
struct conv_kernel_fits_padded_input<Index, Conv2D<C, O, K, S, P>, previous_layer_outputs<Channels, H, W>> {
  static constexpr bool value = K <= H + 2 * P && K <= W + 2 * P;
};

template <class LayerIndex, class Layer>
struct conv_stride_is_positive {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P>
struct conv_stride_is_positive<Index, Conv2D<C, O, K, S, P>> {
  static constexpr bool value = S != 0;
};

template <class LayerIndex, class Layer>
struct conv_sizes_are_positive {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t O, std::size_t K, std::size_t S, std::size_t P>
struct conv_sizes_are_positive<Index, Conv2D<C, O, K, S, P>> {
  static constexpr bool value = C != 0 && O != 0 && K != 0;
};

namespace detail {

// The geometry a Conv2D works with on R: as written where that fits R, else the nearest one that does
// (built after the layer's error, so that nothing downstream fails again).
template <ShapeType R, std::size_t OutChannels, std::size_t Kernel, std::size_t Stride, std::size_t Padding>
constexpr kernels::ConvGeometry conv_geometry() {
  using image = image_dims<R>;
  constexpr std::size_t largest_kernel = std::min(image::height, image::width) + 2 * Padding;
  return {image::channels,
          image::height,
          image::width,
          OutChannels == 0 ? 1 : OutChannels,
          std::clamp<std::size_t>(Kernel, 1, largest_kernel),
          Stride == 0 ? 1 : Stride,
          Padding};
}

inline std::string conv_name(const kernels::ConvGeometry& g) {
  std::string text = "Conv2D<" + std::to_string(g.channels) + ", " + std::to_string(g.out_channels) + ", " +
                     std::to_string(g.kernel);
  if (g.stride != 1 || g.padding != 0) text += ", " + std::to_string(g.stride);
  if (g.padding != 0) text += ", " + std::to_string(g.padding);
  return text + ">";
}

// The convolution as the network builds it, for images of Height x Width.
template <std::size_t Channels, std::size_t OutChannels, std::size_t Kernel, std::size_t Stride,
          std::size_t Padding, std::size_t Height, std::size_t Width>
struct Conv2DLayer {
  static constexpr kernels::ConvGeometry geometry{Channels, Height, Width,  OutChannels,
                                                  Kernel,   Stride, Padding};
  static constexpr std::size_t in_size = Channels * Height * Width;
  static constexpr std::size_t out_size = OutChannels * geometry.out_pixels();
  static constexpr std::size_t patch_size = geometry.patch_size();

  static std::string name() { return conv_name(geometry); }
  template <ShapeType Received>
  using output_shape = Shape<OutChannels, geometry.out_height(), geometry.out_width()>;

  static constexpr bool fuses_activation = true;
  static std::string gradient_text(TensorKind kind, const std::string& input, const std::string& z) {
    std::string text = kind == TensorKind::weights ? "correlate(" : "sum(";
    if (kind == TensorKind::weights) text += input + ", ";
    text += z;
    text += kind == TensorKind::weights ? ")" : ", axis=(0, 2, 3))";
    return text;
  }
  static std::string input_gradient_text(const std::string& z, const std::string& n) {
    std::string text = "conv_transpose(";
    text += z;
    text += ", W";
    text += n;
    text += ")";
    return text;
  }
  static constexpr std::size_t scratch_size = geometry.scratch_size();  // one sample's im2col patches

  // PyTorch's Conv2d weight (out, in, kH, kW): typenet's rows, in the same order.
  static constexpr ExchangeLayout exchange_layout(TensorKind kind) {
    if (kind == TensorKind::weights) return {4, {OutChannels, Channels, Kernel, Kernel}, false};
    return {1, {OutChannels}, false};
  }

  template <class T>
  struct Parameters {
    Matrix<T, OutChannels, patch_size> weights;
    RowVector<T, OutChannels> bias;
    static constexpr auto tensors() {
      return std::tuple{tensor(TensorKind::weights, &Parameters::weights),
                        tensor(TensorKind::bias, &Parameters::bias)};
    }
  };

  // W from Init over fan-in C*K*K and fan-out OutChannels*K*K (as PyTorch counts them); b = 0.
  template <class Init, class T>
  static void initialize(Parameters<T>& p, NormalSource& source) {
    detail::fill_weights<Init>(source, p.weights.data(), OutChannels * patch_size, patch_size,
                               OutChannels * Kernel * Kernel);
    p.bias.fill(T(0));
  }

  template <class T, std::size_t Rows>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, in_size> in,
                      MatrixView<T, Rows, out_size> out, kernels::Activation act,
                      const LayerContext<T>& ctx) {
    kernels::conv2d_forward(in.data(), p.weights.data(), p.bias.data(), out.data(), in.row_count(), geometry,
                            act, ctx.scratch);
  }

  // d_in = conv^T(d_out) (.) in_act'(in)
  template <class T, std::size_t Rows>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, out_size> d_out,
                             MatrixView<const T, Rows, in_size> in, MatrixView<T, Rows, in_size> d_in,
                             kernels::Activation in_act, const LayerContext<T>& ctx) {
    kernels::conv2d_backward_input(d_out.data(), p.weights.data(), d_in.data(), d_out.row_count(), geometry,
                                   ctx.scratch);
    if (in_act != kernels::Activation::identity)
      kernels::activation_backward(in.data(), d_in.data(), d_in.data(), d_in.size(), in_act);
  }

  template <class T, std::size_t Rows>
  static void backward_params(MatrixView<const T, Rows, in_size> in,
                              MatrixView<const T, Rows, out_size> d_out, Parameters<T>& grads,
                              const LayerContext<T>& ctx) {
    kernels::conv2d_backward_params(in.data(), d_out.data(), grads.weights.data(), grads.bias.data(),
                                    in.row_count(), geometry, ctx.scratch);
  }
};

template <ShapeType R, std::size_t OutChannels, std::size_t Kernel, std::size_t Stride, std::size_t Padding>
struct conv_layer_for {
  static constexpr kernels::ConvGeometry g = conv_geometry<R, OutChannels, Kernel, Stride, Padding>();
  using type = Conv2DLayer<g.channels, g.out_channels, g.kernel, g.stride, g.padding, g.height, g.width>;
};

}  // namespace detail

template <std::size_t InChannels, std::size_t OutChannels, std::size_t Kernel, std::size_t Stride,
          std::size_t Padding>
struct Conv2D {
  static std::string name() {
    return detail::conv_name({InChannels, 1, 1, OutChannels, Kernel, Stride, Padding});
  }

  template <ShapeType Received>
  using fitted_to = typename detail::conv_layer_for<Received, OutChannels, Kernel, Stride, Padding>::type;
  template <ShapeType Received>
  using output_shape = typename fitted_to<Received>::template output_shape<Received>;

  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool check_input() {
    static_assert(conv_sizes_are_positive<LayerIndex, Conv2D>::value,
                  "typenet: a Conv2D with 0 channels or a kernel of size 0");
    static_assert(conv_stride_is_positive<LayerIndex, Conv2D>::value, "typenet: a Conv2D stride of 0");
    static_assert(conv_receives_an_image<LayerIndex, Conv2D, PreviousLayerOutputs>::value,
                  "typenet: Conv2D needs an image Shape<C, H, W>; it cannot follow Flatten or Dense");
    static_assert(conv_input_channels_fit<LayerIndex, Conv2D, PreviousLayerOutputs>::value,
                  "typenet: Conv2D's InChannels differ from the channels C of the image it receives");
    static_assert(
        conv_kernel_fits_padded_input<LayerIndex, Conv2D, PreviousLayerOutputs>::value,
        "typenet: the Conv2D kernel is larger than its padded input (H + 2 Padding, W + 2 Padding)");
    return true;
  }
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool fits() {
    return conv_sizes_are_positive<LayerIndex, Conv2D>::value &&
           conv_stride_is_positive<LayerIndex, Conv2D>::value &&
           conv_receives_an_image<LayerIndex, Conv2D, PreviousLayerOutputs>::value &&
           conv_input_channels_fit<LayerIndex, Conv2D, PreviousLayerOutputs>::value &&
           conv_kernel_fits_padded_input<LayerIndex, Conv2D, PreviousLayerOutputs>::value;
  }
};

}  // namespace typenet
