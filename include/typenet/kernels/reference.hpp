// Plain scalar definitions of every kernel in kernels.hpp: the specification the SIMD kernels are tested
// against, written for clarity, not speed. Double-precision accumulation is not used on purpose: each
// reference computes in T, as the SIMD kernels do.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "typenet/kernels/kernels.hpp"

namespace typenet::kernels::reference {

template <class T>
T activate(T z, Activation act) {
  switch (act) {
    case Activation::sigmoid:
      // Both branches only ever exponentiate a non-positive number: no overflow for any z.
      return z >= T(0) ? T(1) / (T(1) + std::exp(-z)) : std::exp(z) / (T(1) + std::exp(z));
    case Activation::relu:
      return z > T(0) ? z : T(0);
    case Activation::tanh:
      return std::tanh(z);
    case Activation::leaky_relu:
      return z > T(0) ? z : T(leaky_relu_slope) * z;
    case Activation::identity:
      break;
  }
  return z;
}

// The activation's derivative written through its output a.
template <class T>
T derivative_from_output(T a, Activation act) {
  switch (act) {
    case Activation::sigmoid:
      return a * (T(1) - a);
    case Activation::relu:
      return a > T(0) ? T(1) : T(0);
    case Activation::tanh:
      return (T(1) - a) * (T(1) + a);  // 1 - a^2 without cancellation near |a| = 1 (1 - a is exact there)
    case Activation::leaky_relu:
      return a > T(0) ? T(1) : T(leaky_relu_slope);
    case Activation::identity:
      break;
  }
  return T(1);
}

template <class T>
void dense_forward(const T* in, const T* weights, const T* bias, T* out, std::size_t rows, std::size_t inner,
                   std::size_t cols, Activation act) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      T sum = bias[c];
      for (std::size_t k = 0; k < inner; ++k) sum += in[r * inner + k] * weights[k * cols + c];
      out[r * cols + c] = activate(sum, act);
    }
  }
}

template <class T>
void dense_backward_input(const T* d_out, const T* weights, const T* in, T* d_in, std::size_t rows,
                          std::size_t inner, std::size_t cols, Activation in_act) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < inner; ++k) {
      T sum = 0;
      for (std::size_t c = 0; c < cols; ++c) sum += d_out[r * cols + c] * weights[k * cols + c];
      d_in[r * inner + k] = sum * derivative_from_output(in[r * inner + k], in_act);
    }
  }
}

template <class T>
void dense_backward_params(const T* in, const T* d_out, T* d_weights, T* d_bias, std::size_t rows,
                           std::size_t inner, std::size_t cols) {
  for (std::size_t k = 0; k < inner; ++k) {
    for (std::size_t c = 0; c < cols; ++c) {
      T sum = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += in[r * inner + k] * d_out[r * cols + c];
      d_weights[k * cols + c] = sum;
    }
  }
  for (std::size_t c = 0; c < cols; ++c) {
    T sum = 0;
    for (std::size_t r = 0; r < rows; ++r) sum += d_out[r * cols + c];
    d_bias[c] = sum;
  }
}

template <class T>
void dense_backward_params_sgd(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                               std::size_t rows, std::size_t inner, std::size_t cols) {
  for (std::size_t k = 0; k < inner; ++k) {
    for (std::size_t c = 0; c < cols; ++c) {
      T sum = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += in[r * inner + k] * d_out[r * cols + c];
      weights[k * cols + c] -= learning_rate * sum;
    }
  }
  for (std::size_t c = 0; c < cols; ++c) {
    T sum = 0;
    for (std::size_t r = 0; r < rows; ++r) sum += d_out[r * cols + c];
    bias[c] -= learning_rate * sum;
  }
}

// The convolutions as direct loops over the definition (no patches), so they check the SIMD kernels'
// im2col independently. pixel() is the padded input: zero outside the image.
template <class T>
T padded_pixel(const T* image, const ConvGeometry& g, std::size_t c, std::size_t y, std::size_t i,
               std::size_t x, std::size_t j) {
  const std::ptrdiff_t row = std::ptrdiff_t(y * g.stride + i) - std::ptrdiff_t(g.padding);
  const std::ptrdiff_t col = std::ptrdiff_t(x * g.stride + j) - std::ptrdiff_t(g.padding);
  if (row < 0 || col < 0 || row >= std::ptrdiff_t(g.height) || col >= std::ptrdiff_t(g.width)) return T(0);
  return image[(c * g.height + std::size_t(row)) * g.width + std::size_t(col)];
}

template <class T>
void conv2d_forward(const T* in, const T* weights, const T* bias, T* out, std::size_t rows,
                    const ConvGeometry& g, Activation act) {
  const std::size_t in_size = g.channels * g.height * g.width, k = g.kernel;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < g.out_channels; ++o)
      for (std::size_t y = 0; y < g.out_height(); ++y)
        for (std::size_t x = 0; x < g.out_width(); ++x) {
          T sum = bias[o];
          for (std::size_t c = 0; c < g.channels; ++c)
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j)
                sum += weights[((o * g.channels + c) * k + i) * k + j] *
                       padded_pixel(in + r * in_size, g, c, y, i, x, j);
          out[((r * g.out_channels + o) * g.out_height() + y) * g.out_width() + x] = activate(sum, act);
        }
}

template <class T>
void conv2d_backward_input(const T* d_out, const T* weights, T* d_in, std::size_t rows,
                           const ConvGeometry& g) {
  const std::size_t in_size = g.channels * g.height * g.width, k = g.kernel;
  std::fill(d_in, d_in + rows * in_size, T(0));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < g.out_channels; ++o)
      for (std::size_t y = 0; y < g.out_height(); ++y)
        for (std::size_t x = 0; x < g.out_width(); ++x) {
          const T d = d_out[((r * g.out_channels + o) * g.out_height() + y) * g.out_width() + x];
          for (std::size_t c = 0; c < g.channels; ++c)
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j) {
                const std::ptrdiff_t row = std::ptrdiff_t(y * g.stride + i) - std::ptrdiff_t(g.padding);
                const std::ptrdiff_t col = std::ptrdiff_t(x * g.stride + j) - std::ptrdiff_t(g.padding);
                if (row < 0 || col < 0 || row >= std::ptrdiff_t(g.height) || col >= std::ptrdiff_t(g.width))
                  continue;
                d_in[r * in_size + (c * g.height + std::size_t(row)) * g.width + std::size_t(col)] +=
                    d * weights[((o * g.channels + c) * k + i) * k + j];
              }
        }
}

template <class T>
void conv2d_backward_params(const T* in, const T* d_out, T* d_weights, T* d_bias, std::size_t rows,
                            const ConvGeometry& g) {
  const std::size_t in_size = g.channels * g.height * g.width, k = g.kernel;
  for (std::size_t o = 0; o < g.out_channels; ++o) {
    for (std::size_t c = 0; c < g.channels; ++c)
      for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j) {
          T sum = 0;
          for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t y = 0; y < g.out_height(); ++y)
              for (std::size_t x = 0; x < g.out_width(); ++x)
                sum += d_out[((r * g.out_channels + o) * g.out_height() + y) * g.out_width() + x] *
                       padded_pixel(in + r * in_size, g, c, y, i, x, j);
          d_weights[((o * g.channels + c) * k + i) * k + j] = sum;
        }
    T sum = 0;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t p = 0; p < g.out_pixels(); ++p)
        sum += d_out[(r * g.out_channels + o) * g.out_pixels() + p];
    d_bias[o] = sum;
  }
}

template <class T>
void max_pool_forward(const T* in, T* out, T* argmax, std::size_t rows, const PoolGeometry& g) {
  const std::size_t in_size = g.channels * g.height * g.width;
  std::size_t n = 0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < g.channels; ++c)
      for (std::size_t y = 0; y < g.out_height(); ++y)
        for (std::size_t x = 0; x < g.out_width(); ++x, ++n) {
          std::size_t best = (c * g.height + y * g.stride) * g.width + x * g.stride;
          for (std::size_t i = 0; i < g.window; ++i)
            for (std::size_t j = 0; j < g.window; ++j) {
              const std::size_t at = (c * g.height + y * g.stride + i) * g.width + x * g.stride + j;
              if (in[r * in_size + at] > in[r * in_size + best]) best = at;
            }
          out[n] = in[r * in_size + best];
          argmax[n] = T(best);
        }
}

template <class T>
void max_pool_backward(const T* d_out, const T* argmax, T* d_in, std::size_t rows, const PoolGeometry& g) {
  const std::size_t in_size = g.channels * g.height * g.width, out_size = g.out_size();
  std::fill(d_in, d_in + rows * in_size, T(0));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t n = 0; n < out_size; ++n)
      d_in[r * in_size + std::size_t(argmax[r * out_size + n])] += d_out[r * out_size + n];
}

template <class T>
void activation_forward(const T* in, T* out, std::size_t count, Activation act) {
  for (std::size_t i = 0; i < count; ++i) out[i] = activate(in[i], act);
}

template <class T>
void activation_backward(const T* out, const T* d_out, T* d_in, std::size_t count, Activation act) {
  for (std::size_t i = 0; i < count; ++i) d_in[i] = d_out[i] * derivative_from_output(out[i], act);
}

template <class T>
void softmax(const T* logits, T* probs, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    T* p = probs + r * cols;
    const T max = *std::max_element(z, z + cols);
    T sum = 0;
    for (std::size_t c = 0; c < cols; ++c) sum += p[c] = std::exp(z[c] - max);
    for (std::size_t c = 0; c < cols; ++c) p[c] /= sum;
  }
}

// -log(softmax(z)[c]) computed as log(sum(exp(z - max))) - (z[c] - max): finite even when p underflows.
template <class T>
T cross_entropy_of_row(const T* z, const T* target, std::size_t cols) {
  const T max = *std::max_element(z, z + cols);
  T sum = 0;
  for (std::size_t c = 0; c < cols; ++c) sum += std::exp(z[c] - max);
  const T log_sum = std::log(sum);
  T loss = 0;
  for (std::size_t c = 0; c < cols; ++c)
    if (target[c] != T(0)) loss += target[c] * (log_sum - (z[c] - max));
  return loss;
}

template <class T>
T softmax_cross_entropy(const T* logits, const T* targets, T* probs, T* d_logits, std::size_t rows,
                        std::size_t cols) {
  softmax(logits, probs, rows, cols);
  T loss = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    loss += cross_entropy_of_row(logits + r * cols, targets + r * cols, cols);
    if (d_logits)
      for (std::size_t c = 0; c < cols; ++c)
        d_logits[r * cols + c] = (probs[r * cols + c] - targets[r * cols + c]) / T(rows);
  }
  return loss / T(rows);
}

template <class T>
T softmax_cross_entropy(const T* logits, const std::uint32_t* labels, T* probs, T* d_logits, std::size_t rows,
                        std::size_t cols) {
  softmax(logits, probs, rows, cols);
  T loss = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    const T max = *std::max_element(z, z + cols);
    T sum = 0;
    for (std::size_t c = 0; c < cols; ++c) sum += std::exp(z[c] - max);
    loss += std::log(sum) - (z[labels[r]] - max);
    if (d_logits)
      for (std::size_t c = 0; c < cols; ++c)
        d_logits[r * cols + c] = (probs[r * cols + c] - (c == labels[r] ? T(1) : T(0))) / T(rows);
  }
  return loss / T(rows);
}

template <class T>
T mean_squared_error(const T* y, const T* targets, T* d_y, std::size_t rows, std::size_t cols) {
  T loss = 0;
  for (std::size_t i = 0; i < rows * cols; ++i) {
    const T diff = y[i] - targets[i];
    loss += diff * diff;
    if (d_y) d_y[i] = diff / T(rows);
  }
  return T(0.5) * loss / T(rows);
}

template <class T>
std::size_t find_non_finite(const T* x, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i])) return i;
  return count;
}

template <class T>
T sum_of_squares(const T* x, std::size_t count) {
  T sum = 0;
  for (std::size_t i = 0; i < count; ++i) sum += x[i] * x[i];
  return sum;
}

template <class T>
void scale(T* x, T factor, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) x[i] *= factor;
}

template <class T>
void sgd_update(T* params, const T* grads, T learning_rate, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) params[i] -= learning_rate * grads[i];
}

template <class T>
void momentum_update(T* params, const T* grads, T* velocity, T learning_rate, T momentum, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    velocity[i] = momentum * velocity[i] - learning_rate * grads[i];
    params[i] += velocity[i];
  }
}

template <class T>
void adam_update(T* params, const T* grads, T* first_moment, T* second_moment, T learning_rate, T beta1,
                 T beta2, T epsilon, T correction1, T correction2, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    first_moment[i] = beta1 * first_moment[i] + (T(1) - beta1) * grads[i];
    second_moment[i] = beta2 * second_moment[i] + (T(1) - beta2) * grads[i] * grads[i];
    params[i] -= learning_rate * (first_moment[i] / correction1) /
                 (std::sqrt(second_moment[i] / correction2) + epsilon);
  }
}

}  // namespace typenet::kernels::reference
