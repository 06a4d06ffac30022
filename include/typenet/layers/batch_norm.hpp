// BatchNorm<Channels>: batch normalisation (Ioffe and Szegedy 2015; the notes' remedy for vanishing
// gradients). It takes a vector of Channels features (Shape<Channels>, as PyTorch's BatchNorm1d) or an image
// of Channels channels (Shape<Channels, H, W>, as BatchNorm2d) and keeps that shape:
//
//   y = scale * (x - mean) / sqrt(var + eps) + shift,   per feature or channel
//
// In training, mean and var are the batch's (over the rows, and over H x W for an image; var divided by n).
// Each training step also moves the running statistics toward them, as PyTorch does:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)     (unbiased)
// with momentum = 0.1 and eps = 1e-5, PyTorch's defaults, so a model trained there gives the same outputs
// here (io/safetensors.hpp reads running_mean and running_var). A batch of one value per channel (n = 1)
// says nothing of the variance: it normalises every value to 0 and leaves the running statistics as they are.
// Inference (predict, classify, accuracy, the loss-only passes) normalises with the running statistics.
//
// scale (gamma, starts at 1) and shift (beta, starts at 0) are trained; weight decay does not apply to them.
// The running statistics are state: saved in the model file, never trained. The activation written after
// the layer is fused into it:
//
//   Network<Dense<784, 128>, BatchNorm<128>, ReLU, Dense<128, 10>, SoftmaxCrossEntropy>
//   Network<Input<1, 28, 28>, Conv2D<1, 6, 5>, BatchNorm<6>, ReLU, MaxPool2D<2>, ...>
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "typenet/core/matrix.hpp"
#include "typenet/kernels/channel_statistics.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t Channels>
struct BatchNorm;

// Does the BatchNorm at LayerIndex normalise as many channels as it receives (the first dimension of what
// the previous layer outputs)?
template <class LayerIndex, class Layer, class PreviousLayerOutputs>
struct batch_norm_channels_fit {
  static constexpr bool value = true;
};
template <class Index, std::size_t C, std::size_t First, std::size_t... Rest>
struct batch_norm_channels_fit<Index, BatchNorm<C>, previous_layer_outputs<First, Rest...>> {
  static constexpr bool value = C == First;
};
template <class Index, std::size_t C, class Image, std::size_t Values>
struct batch_norm_channels_fit<Index, BatchNorm<C>, flattened<Image, Values>> {
  static constexpr bool value = C == Values;
};

template <std::size_t Channels>
struct BatchNorm {
  static constexpr double momentum = 0.1;
  static constexpr double epsilon = 1e-5;

  static std::string name() { return "BatchNorm<" + std::to_string(Channels) + ">"; }

  template <ShapeType Received>
  using output_shape = Received;
  // After a failed check the network is built as if it had been written for what it receives.
  template <ShapeType Received>
  using fitted_to = BatchNorm<Received::dims[0]>;

  template <class LayerIndex, class Received>
  static constexpr bool check_input() {
    static_assert(batch_norm_channels_fit<LayerIndex, BatchNorm, Received>::value,
                  "typenet: BatchNorm<C> needs C = the features (Shape<C>) or channels (Shape<C, H, W>) it "
                  "receives");
    return true;
  }
  template <class LayerIndex, class Received>
  static constexpr bool fits() {
    return batch_norm_channels_fit<LayerIndex, BatchNorm, Received>::value;
  }

  static constexpr bool fuses_activation = true;
  // The batch's mean and variance per channel, from forward to backward.
  static constexpr std::size_t kept_per_batch = 2 * Channels;
  // Per-channel coefficients and gradient sums while a pass runs.
  static constexpr std::size_t scratch_size = 3 * Channels;

  template <class T>
  struct Parameters {
    RowVector<T, Channels> scale;  // gamma
    RowVector<T, Channels> shift;  // beta
    RowVector<T, Channels> running_mean;
    RowVector<T, Channels> running_variance;
    static constexpr auto tensors() {
      return std::tuple{tensor(TensorKind::scale, &Parameters::scale),
                        tensor(TensorKind::shift, &Parameters::shift)};
    }
    static constexpr auto state_tensors() {
      return std::tuple{tensor(TensorKind::running_mean, &Parameters::running_mean),
                        tensor(TensorKind::running_variance, &Parameters::running_variance)};
    }
  };

  // scale = 1, shift = 0, running mean 0 and variance 1 (the identity at inference), as PyTorch.
  template <class Init, class T>
  static void initialize(Parameters<T>& p, NormalSource&) {
    p.scale.fill(T(1));
    p.shift.fill(T(0));
    p.running_mean.fill(T(0));
    p.running_variance.fill(T(1));
  }

  // out = act(scale * (in - mean) / sqrt(var + eps) + shift): the batch's statistics in training (kept for
  // backward), the running ones at inference.
  template <class T, std::size_t Rows, std::size_t Size>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, Size> in,
                      MatrixView<T, Rows, Size> out, kernels::Activation act, const LayerContext<T>& ctx) {
    constexpr std::size_t spatial = Size / Channels;
    const std::size_t rows = in.row_count();
    const T* mean = p.running_mean.data();
    const T* var = p.running_variance.data();
    if (ctx.training) {
      kernels::channel_mean_variance(in.data(), rows, Channels, spatial, ctx.kept, ctx.kept + Channels);
      mean = ctx.kept;
      var = ctx.kept + Channels;
    }
    T* a = ctx.scratch;
    T* b = ctx.scratch + Channels;
    for (std::size_t c = 0; c < Channels; ++c) {
      a[c] = p.scale.data()[c] * inverse_std(var[c]);
      b[c] = p.shift.data()[c] - a[c] * mean[c];
    }
    kernels::channel_affine(in.data(), out.data(), rows, Channels, spatial, a, b);
    if (act != kernels::Activation::identity)
      kernels::activation_forward(out.data(), out.data(), out.size(), act);
  }

  template <class T, std::size_t Rows, std::size_t Size>
  static void update_state(Parameters<T>& p, MatrixView<const T, Rows, Size> in, const LayerContext<T>& ctx) {
    const std::size_t n = in.row_count() * (Size / Channels);
    if (n < 2) return;
    const T m = T(momentum);
    const T unbiased = T(double(n) / double(n - 1));
    for (std::size_t c = 0; c < Channels; ++c) {
      p.running_mean.data()[c] = (1 - m) * p.running_mean.data()[c] + m * ctx.kept[c];
      p.running_variance.data()[c] =
          (1 - m) * p.running_variance.data()[c] + m * ctx.kept[Channels + c] * unbiased;
    }
  }

  // d_in = scale / sqrt(var + eps) / n * (n d_out - sum(d_out) - xhat sum(d_out xhat)), (.) in_act'(in)
  template <class T, std::size_t Rows, std::size_t Size>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, Size> d_out,
                             MatrixView<const T, Rows, Size> in, MatrixView<T, Rows, Size> d_in,
                             kernels::Activation in_act, const LayerContext<T>& ctx) {
    constexpr std::size_t spatial = Size / Channels;
    const std::size_t rows = in.row_count();
    T* inv_std = ctx.scratch;
    T* sum_dy = ctx.scratch + Channels;
    T* sum_dy_xhat = ctx.scratch + 2 * Channels;
    inverse_stds(ctx.kept + Channels, inv_std);
    kernels::channel_gradient_sums(in.data(), d_out.data(), rows, Channels, spatial, ctx.kept, inv_std,
                                   sum_dy, sum_dy_xhat);
    kernels::channel_normalise_backward(in.data(), d_out.data(), d_in.data(), rows, Channels, spatial,
                                        ctx.kept, inv_std, p.scale.data(), sum_dy, sum_dy_xhat);
    if (in_act != kernels::Activation::identity)
      kernels::activation_backward(in.data(), d_in.data(), d_in.data(), d_in.size(), in_act);
  }

  // d_scale = sum(d_out xhat), d_shift = sum(d_out), per channel.
  template <class T, std::size_t Rows, std::size_t Size>
  static void backward_params(MatrixView<const T, Rows, Size> in, MatrixView<const T, Rows, Size> d_out,
                              Parameters<T>& grads, const LayerContext<T>& ctx) {
    T* inv_std = ctx.scratch;
    inverse_stds(ctx.kept + Channels, inv_std);
    kernels::channel_gradient_sums(in.data(), d_out.data(), in.row_count(), Channels, Size / Channels,
                                   ctx.kept, inv_std, grads.shift.data(), grads.scale.data());
  }

  static std::string gradient_text(TensorKind kind, const std::string&, const std::string& z) {
    std::string text = kind == TensorKind::scale ? "sum(" + z + " * xhat" : "sum(" + z;
    text += ", axis=0)";
    return text;
  }

 private:
  template <class T>
  static T inverse_std(T var) {
    return T(1) / std::sqrt(var + T(epsilon));
  }
  template <class T>
  static void inverse_stds(const T* var, T* inv_std) {
    for (std::size_t c = 0; c < Channels; ++c) inv_std[c] = inverse_std(var[c]);
  }
};

}  // namespace typenet
