// Dense<In, Out>: the affine layer Y = X.W + b of seed 004 (W is In x Out, b is 1 x Out).
// Its backward pass is dX = dY.W^T, dW = X^T.dY, db = column sums of dY (seed 004: the Affine backward
// derivation). The activation written after it is fused into these kernels, and the derivative of the one
// before it into dX (layers/contract.hpp: fuses_activation).
#pragma once

#include <cstddef>
#include <string>

#include "typenet/core/init.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t In, std::size_t Out>
struct Dense;

// Does this Dense layer (at LayerIndex) accept what the previous layer produces?
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct layer_input_fits {
  static constexpr bool value = true;
};
template <class Index, std::size_t In, std::size_t Out, std::size_t Width>
struct layer_input_fits<Index, Dense<In, Out>, previous_layer_outputs<Width>> {
  static constexpr bool value = In == Width || In == 0;  // width 0 has its own check
};

// After Flatten: does In equal the C*H*W values of the image?
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct flattened_image_fits {
  static constexpr bool value = true;
};
template <class Index, std::size_t In, std::size_t Out, class Image, std::size_t Values>
struct flattened_image_fits<Index, Dense<In, Out>, flattened<Image, Values>> {
  static constexpr bool value = In == Values || In == 0;
};

// A Dense layer takes a vector: an image must go through Flatten first.
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct dense_receives_a_vector {
  static constexpr bool value = true;
};
template <class Index, std::size_t In, std::size_t Out, std::size_t... Dims>
struct dense_receives_a_vector<Index, Dense<In, Out>, previous_layer_outputs<Dims...>> {
  static constexpr bool value = sizeof...(Dims) == 1;
};

template <class LayerIndex, class Layer>
struct layer_widths_are_positive {
  static constexpr bool value = true;
};
template <class Index, std::size_t In, std::size_t Out>
struct layer_widths_are_positive<Index, Dense<In, Out>> {
  static constexpr bool value = In != 0 && Out != 0;
};

template <std::size_t In, std::size_t Out>
struct Dense {
  static std::string name() { return "Dense<" + std::to_string(In) + ", " + std::to_string(Out) + ">"; }

  using input_shape = Shape<(In == 0 ? 1 : In)>;
  template <ShapeType Received>
  using output_shape = Shape<(Out == 0 ? 1 : Out)>;
  template <ShapeType Received>
  using fitted_to = Dense<Received::size, (Out == 0 ? 1 : Out)>;

  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool check_input() {
    static_assert(layer_widths_are_positive<LayerIndex, Dense>::value, "typenet: a Dense layer of width 0");
    static_assert(layer_input_fits<LayerIndex, Dense, PreviousLayerOutputs>::value,
                  "typenet: this layer's input width differs from the previous layer's output width");
    static_assert(dense_receives_a_vector<LayerIndex, Dense, PreviousLayerOutputs>::value,
                  "typenet: a Dense layer receives an image Shape<C, H, W>: add Flatten before it");
    static_assert(flattened_image_fits<LayerIndex, Dense, PreviousLayerOutputs>::value,
                  "typenet: after Flatten, Dense<In, Out> needs In = C*H*W of the image it flattens");
    return true;
  }
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool fits() {
    return layer_widths_are_positive<LayerIndex, Dense>::value &&
           layer_input_fits<LayerIndex, Dense, PreviousLayerOutputs>::value &&
           dense_receives_a_vector<LayerIndex, Dense, PreviousLayerOutputs>::value &&
           flattened_image_fits<LayerIndex, Dense, PreviousLayerOutputs>::value;
  }

  static constexpr bool fuses_activation = true;

  // The dimension-flow table's formulas (seed 000 §4.3.7): dW = x^T @ dz, db = sum(dz, axis=0), dx = dz @ W^T.
  static std::string gradient_text(TensorKind kind, const std::string& input, const std::string& z) {
    std::string text = kind == TensorKind::weights ? input : std::string("sum(");
    text += kind == TensorKind::weights ? "^T @ " : "";
    text += z;  // appended, not "literal" + string: g++ 12 warns (-Wrestrict) on that
    text += kind == TensorKind::weights ? "" : ", axis=0)";
    return text;
  }
  static std::string input_gradient_text(const std::string& z, const std::string& n) {
    std::string text = z;
    text += " @ W";
    text += n;
    text += "^T";
    return text;
  }

  // PyTorch's Linear holds its weight as (out, in): the transpose of typenet's In x Out.
  static constexpr ExchangeLayout exchange_layout(TensorKind kind) {
    if (kind == TensorKind::weights) return {2, {Out, In}, true};
    return {1, {Out}, false};
  }

  template <class T>
  struct Parameters {
    Matrix<T, In, Out> weights;
    RowVector<T, Out> bias;
    static constexpr auto tensors() {
      return std::tuple{tensor(TensorKind::weights, &Parameters::weights),
                        tensor(TensorKind::bias, &Parameters::bias)};
    }
  };

  // W from Init over fan-in In and fan-out Out; b = 0.
  template <class Init, class T>
  static void initialize(Parameters<T>& p, NormalSource& source) {
    detail::fill_weights<Init>(source, p.weights.data(), In, Out);
    p.bias.fill(T(0));
  }

  // out = act(in.W + b)
  template <class T, std::size_t Rows>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, In> in, MatrixView<T, Rows, Out> out,
                      kernels::Activation act, const LayerContext<T>& ctx) {
    kernels::dense_forward(in.data(), p.weights.data(), p.bias.data(), out.data(), in.row_count(), In, Out,
                           act, ctx.pool);
  }

  // d_in = (d_out.W^T) (.) in_act'(in)
  template <class T, std::size_t Rows>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, Out> d_out,
                             MatrixView<const T, Rows, In> in, MatrixView<T, Rows, In> d_in,
                             kernels::Activation in_act, const LayerContext<T>& ctx) {
    kernels::dense_backward_input(d_out.data(), p.weights.data(), in.data(), d_in.data(), d_out.row_count(),
                                  In, Out, in_act, ctx.pool);
  }

  // grads = (in^T.d_out, column sums of d_out)
  template <class T, std::size_t Rows>
  static void backward_params(MatrixView<const T, Rows, In> in, MatrixView<const T, Rows, Out> d_out,
                              Parameters<T>& grads, const LayerContext<T>& ctx) {
    kernels::dense_backward_params(in.data(), d_out.data(), grads.weights.data(), grads.bias.data(),
                                   in.row_count(), In, Out, ctx.pool);
  }

  // params -= lr * (in^T.d_out, column sums of d_out), without writing the gradient to memory.
  template <class T, std::size_t Rows>
  static void backward_params_sgd(MatrixView<const T, Rows, In> in, MatrixView<const T, Rows, Out> d_out,
                                  Parameters<T>& params, T learning_rate, const LayerContext<T>& ctx) {
    kernels::dense_backward_params_sgd(in.data(), d_out.data(), params.weights.data(), params.bias.data(),
                                       learning_rate, in.row_count(), In, Out, ctx.pool);
  }

  // Batch 1: backward_input and backward_params_sgd in one pass over W (each row's part of d_in is taken
  // before the row is updated); the same results as the two calls.
  template <class T>
  static void backward_input_then_sgd(Parameters<T>& params, MatrixView<const T, 1, Out> d_out,
                                      MatrixView<const T, 1, In> in, MatrixView<T, 1, In> d_in,
                                      kernels::Activation in_act, T learning_rate) {
    kernels::dense_backward_input_then_sgd(d_out.data(), params.weights.data(), params.bias.data(), in.data(),
                                           d_in.data(), learning_rate, In, Out, in_act);
  }

  // Batch 1: backward_params_sgd, then next_out = act(next_in.W + b) with the updated parameters, in the
  // same pass over W (each updated row feeds the forward while it is in registers).
  template <class T>
  static void sgd_then_forward(MatrixView<const T, 1, In> in, MatrixView<const T, 1, Out> d_out,
                               Parameters<T>& params, T learning_rate, MatrixView<const T, 1, In> next_in,
                               MatrixView<T, 1, Out> next_out, kernels::Activation act) {
    kernels::dense_sgd_then_forward(in.data(), d_out.data(), params.weights.data(), params.bias.data(),
                                    learning_rate, next_in.data(), next_out.data(), In, Out, act);
  }
};

}  // namespace typenet
