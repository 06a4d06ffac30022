// Per-channel statistics and transforms of a batch, for normalisation layers. A batch is `rows` samples of
// `channels` x `spatial` values each, row-major (NCHW: spatial = H*W; a vector of features: spatial = 1), and
// channel c's values are those at [r][c][s] for every row r and position s. The loops run row by row over
// contiguous memory, so the compiler vectorises them over the channels (spatial 1) or over the positions.
#pragma once

#include <cmath>
#include <cstddef>

namespace typenet::kernels {

// mean[c] and the biased variance var[c] (divided by n = rows * spatial, as the normalisation uses it), in
// two passes: the squares are taken about the mean, so no cancellation.
template <class T>
void channel_mean_variance(const T* x, std::size_t rows, std::size_t channels, std::size_t spatial, T* mean,
                           T* var) {
  for (std::size_t c = 0; c < channels; ++c) mean[c] = var[c] = T(0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const T* run = x + (r * channels + c) * spatial;
      T sum = 0;
      for (std::size_t s = 0; s < spatial; ++s) sum += run[s];
      mean[c] += sum;
    }
  const T n = T(rows * spatial);
  for (std::size_t c = 0; c < channels; ++c) mean[c] /= n;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const T* run = x + (r * channels + c) * spatial;
      T sum = 0;
      for (std::size_t s = 0; s < spatial; ++s) sum += (run[s] - mean[c]) * (run[s] - mean[c]);
      var[c] += sum;
    }
  for (std::size_t c = 0; c < channels; ++c) var[c] /= n;
}

// y = a[c] * x + b[c] on every value of channel c (in place allowed).
template <class T>
void channel_affine(const T* x, T* y, std::size_t rows, std::size_t channels, std::size_t spatial, const T* a,
                    const T* b) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const std::size_t at = (r * channels + c) * spatial;
      for (std::size_t s = 0; s < spatial; ++s) y[at + s] = a[c] * x[at + s] + b[c];
    }
}

// sum_dy[c] = sum of dy over channel c; sum_dy_xhat[c] = sum of dy * xhat, xhat = (x - mean[c]) * inv_std[c].
template <class T>
void channel_gradient_sums(const T* x, const T* dy, std::size_t rows, std::size_t channels,
                           std::size_t spatial, const T* mean, const T* inv_std, T* sum_dy, T* sum_dy_xhat) {
  for (std::size_t c = 0; c < channels; ++c) sum_dy[c] = sum_dy_xhat[c] = T(0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const std::size_t at = (r * channels + c) * spatial;
      T d = 0, dx = 0;
      for (std::size_t s = 0; s < spatial; ++s) {
        d += dy[at + s];
        dx += dy[at + s] * (x[at + s] - mean[c]);
      }
      sum_dy[c] += d;
      sum_dy_xhat[c] += dx * inv_std[c];
    }
}

// The input gradient of y = scale * xhat + shift with batch statistics (Ioffe and Szegedy 2015, §3):
//   dx = scale * inv_std / n * (n * dy - sum_dy - xhat * sum_dy_xhat)
template <class T>
void channel_normalise_backward(const T* x, const T* dy, T* dx, std::size_t rows, std::size_t channels,
                                std::size_t spatial, const T* mean, const T* inv_std, const T* scale,
                                const T* sum_dy, const T* sum_dy_xhat) {
  const T n = T(rows * spatial);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < channels; ++c) {
      const std::size_t at = (r * channels + c) * spatial;
      const T k = scale[c] * inv_std[c] / n;
      for (std::size_t s = 0; s < spatial; ++s) {
        const T xhat = (x[at + s] - mean[c]) * inv_std[c];
        dx[at + s] = k * (n * dy[at + s] - sum_dy[c] - xhat * sum_dy_xhat[c]);
      }
    }
}

}  // namespace typenet::kernels
