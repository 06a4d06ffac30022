// The kernel seam: the only functions layers and optimizers call to touch numbers.
//
// Every matrix is row-major and dense. Sizes are run-time arguments here, but every call site passes
// compile-time constants, so an implementation may choose tile sizes per shape. The definitions, for
// T = float and T = double, live in src/kernels/ (Google Highway, runtime dispatch over the CPU's SIMD
// targets); reference.hpp holds the plain scalar definitions every SIMD kernel is tested against.
#pragma once

#include <cstddef>
#include <cstdint>

namespace typenet::kernels {

class ThreadPool;  // thread_pool.hpp

// The activation fused into a dense layer's forward pass; its derivative is fused into the backward pass
// of the next layer, written through the activation's output a: sigmoid a(1-a), relu [a > 0], tanh 1 - a^2,
// leaky_relu 1 for a > 0 and leaky_relu_slope otherwise (the output has the sign of the input).
enum class Activation : std::uint8_t { identity, sigmoid, relu, tanh, leaky_relu };

// LeakyReLU's slope for negative inputs: PyTorch's default negative_slope.
inline constexpr double leaky_relu_slope = 0.01;

// The three dense-layer products come in two forms: one thread, or spread over `pool`'s threads when the
// product is large enough to gain (null pool, or a small product: one thread). Results are bitwise the
// same either way.

// out[rows x cols] = act(in[rows x inner] * weights[inner x cols] + bias[cols])
// With 1 to 3 rows a zero element of `in` skips its row of `weights`: it adds nothing for finite weights, and
// a NaN or infinite weight in a skipped row does not reach `out`. Sparse inputs (image backgrounds, ReLU
// outputs) then read less of W.
template <class T>
void dense_forward(const T* in, const T* weights, const T* bias, T* out, std::size_t rows, std::size_t inner,
                   std::size_t cols, Activation act);
template <class T>
void dense_forward(const T* in, const T* weights, const T* bias, T* out, std::size_t rows, std::size_t inner,
                   std::size_t cols, Activation act, ThreadPool* pool);

// d_in[rows x inner] = (d_out[rows x cols] * weights^T) (.) act'(in), where `in` is the output of the
// activation `in_act` that fed this layer (Activation::identity: no factor).
template <class T>
void dense_backward_input(const T* d_out, const T* weights, const T* in, T* d_in, std::size_t rows,
                          std::size_t inner, std::size_t cols, Activation in_act);
template <class T>
void dense_backward_input(const T* d_out, const T* weights, const T* in, T* d_in, std::size_t rows,
                          std::size_t inner, std::size_t cols, Activation in_act, ThreadPool* pool);

// d_weights[inner x cols] = in^T * d_out; d_bias[cols] = column sums of d_out.
template <class T>
void dense_backward_params(const T* in, const T* d_out, T* d_weights, T* d_bias, std::size_t rows,
                           std::size_t inner, std::size_t cols);
template <class T>
void dense_backward_params(const T* in, const T* d_out, T* d_weights, T* d_bias, std::size_t rows,
                           std::size_t inner, std::size_t cols, ThreadPool* pool);

// Plain SGD fused into the gradient pass, so dW never goes to memory:
// weights -= lr * in^T * d_out; bias -= lr * column sums of d_out. With one row, the weight rows of zero
// inputs are left as they are, not rewritten.
template <class T>
void dense_backward_params_sgd(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                               std::size_t rows, std::size_t inner, std::size_t cols);
template <class T>
void dense_backward_params_sgd(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                               std::size_t rows, std::size_t inner, std::size_t cols, ThreadPool* pool);

// One row (batch 1): dense_backward_input, then dense_backward_params_sgd, in one pass over the weights
// (each row's part of d_in is taken before the row is updated). The same results as the two calls.
template <class T>
void dense_backward_input_then_sgd(const T* d_out, T* weights, T* bias, const T* in, T* d_in, T learning_rate,
                                   std::size_t inner, std::size_t cols, Activation in_act);

// One row (batch 1): the SGD step above, then next_out = act(next_in * weights + bias) with the updated
// parameters, in the same pass over the weights (read and written once, where a separate forward would
// read them again). next_in has `inner` elements, next_out `cols`. The same values as the two calls; rows
// whose `in` and `next_in` elements are both zero are not touched.
template <class T>
void dense_sgd_then_forward(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                            const T* next_in, T* next_out, std::size_t inner, std::size_t cols,
                            Activation act);

// ------------------------------------------------------------------------------------ images (NCHW rows)
// One sample is one row of channels x height x width values; `rows` samples follow each other.

// A 2-D convolution: `out_channels` filters of channels x kernel x kernel, moved by `stride`, over the image
// padded with `padding` zeros on every side. out_height = (height + 2 padding - kernel) / stride + 1.
struct ConvGeometry {
  std::size_t channels, height, width;
  std::size_t out_channels, kernel, stride, padding;
  constexpr std::size_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  constexpr std::size_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  constexpr std::size_t patch_size() const { return channels * kernel * kernel; }  // one filter's weights
  constexpr std::size_t out_pixels() const { return out_height() * out_width(); }
  // The scratch each convolution kernel below needs: with stride 1, a padded image and a product on the
  // padded width; otherwise one sample's patches (im2col).
  constexpr std::size_t scratch_size() const {
    if (stride != 1) return patch_size() * out_pixels();
    const std::size_t padded = channels * (height + 2 * padding) * (width + 2 * padding) + kernel;
    const std::size_t wide = out_channels * out_pixels_wide();  // d_out or out on the padded width
    // Then the input gradient's patch rows, or the weight gradient transposed (summed over the batch).
    const std::size_t third =
        patch_size() * (out_pixels_wide() > out_channels ? out_pixels_wide() : out_channels);
    return padded + wide + third;
  }
  // Stride 1: the output pixels on a grid as wide as the padded input (the kernels' "wide" grid).
  constexpr std::size_t out_pixels_wide() const { return out_height() * (width + 2 * padding); }
};

// out[r][o][y][x] = act(bias[o] + sum over c, i, j of weights[o][c][i][j] * in[r][c][y*s - p + i][x*s - p + j])
// (zero outside the image); weights is out_channels x channels x kernel x kernel (PyTorch's layout).
template <class T>
void conv2d_forward(const T* in, const T* weights, const T* bias, T* out, std::size_t rows,
                    const ConvGeometry& geometry, Activation act, T* scratch);

// d_in = dL/d(in) from d_out = dL/d(out) (at the pre-activation): the transposed convolution.
template <class T>
void conv2d_backward_input(const T* d_out, const T* weights, T* d_in, std::size_t rows,
                           const ConvGeometry& geometry, T* scratch);

// d_weights = sum over rows of d_out (x) patches of in; d_bias[o] = sum of d_out over rows and pixels.
template <class T>
void conv2d_backward_params(const T* in, const T* d_out, T* d_weights, T* d_bias, std::size_t rows,
                            const ConvGeometry& geometry, T* scratch);

// Max pooling: windows of window x window moved by stride, no padding.
struct PoolGeometry {
  std::size_t channels, height, width;
  std::size_t window, stride;
  constexpr std::size_t out_height() const { return (height - window) / stride + 1; }
  constexpr std::size_t out_width() const { return (width - window) / stride + 1; }
  constexpr std::size_t out_size() const { return channels * out_height() * out_width(); }
};

// out = the maximum of each window (the first one on ties); argmax = where it stands in its sample's row
// (c * height * width + y * width + x), as a value of T (exact: rows stay below 2^24 values).
template <class T>
void max_pool_forward(const T* in, T* out, T* argmax, std::size_t rows, const PoolGeometry& geometry);

// d_in = d_out sent back to the argmax of each window (summed where windows overlap), zero elsewhere.
template <class T>
void max_pool_backward(const T* d_out, const T* argmax, T* d_in, std::size_t rows,
                       const PoolGeometry& geometry);

// ----------------------------------------------------------------------------------------- elementwise

// out = act(in), elementwise: for an activation layer that does not follow a Dense layer.
template <class T>
void activation_forward(const T* in, T* out, std::size_t count, Activation act);

// d_in = d_out (.) act'(out).
template <class T>
void activation_backward(const T* out, const T* d_out, T* d_in, std::size_t count, Activation act);

// Row-wise softmax with the row maximum subtracted: exact over the whole range of T. In place allowed
// (probs == logits): inference normalises the last layer's output where it stands.
template <class T>
void softmax(const T* logits, T* probs, std::size_t rows, std::size_t cols);

// probs = softmax(logits); d_logits = (probs - onehot(labels)) / rows; returns the mean cross-entropy.
// d_logits may be null (loss only). Every label must be < cols (the caller checks).
template <class T>
T softmax_cross_entropy(const T* logits, const std::uint32_t* labels, T* probs, T* d_logits, std::size_t rows,
                        std::size_t cols);

// The same with target rows (one-hot, or any distribution): d_logits = (probs - targets) / rows.
template <class T>
T softmax_cross_entropy(const T* logits, const T* targets, T* probs, T* d_logits, std::size_t rows,
                        std::size_t cols);

// L = 1/2 * sum((y - t)^2) / rows; d_y = (y - t) / rows (d_y may be null).
template <class T>
T mean_squared_error(const T* y, const T* targets, T* d_y, std::size_t rows, std::size_t cols);

// sum(x^2): gradient norms and clipping.
template <class T>
T sum_of_squares(const T* x, std::size_t count);

// The index of the first NaN or infinity in x, or count if there is none: the opt-in finite check.
template <class T>
std::size_t find_non_finite(const T* x, std::size_t count);

// x *= factor.
template <class T>
void scale(T* x, T factor, std::size_t count);

// params -= lr * grads.
template <class T>
void sgd_update(T* params, const T* grads, T learning_rate, std::size_t count);

// velocity = momentum * velocity - lr * grads; params += velocity.
template <class T>
void momentum_update(T* params, const T* grads, T* velocity, T learning_rate, T momentum, std::size_t count);

// Adam (Kingma & Ba, as in PyTorch): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// params -= lr * (m / correction1) / (sqrt(v / correction2) + epsilon), correction_i = 1 - b_i^step.
template <class T>
void adam_update(T* params, const T* grads, T* first_moment, T* second_moment, T learning_rate, T beta1,
                 T beta2, T epsilon, T correction1, T correction2, std::size_t count);

}  // namespace typenet::kernels
