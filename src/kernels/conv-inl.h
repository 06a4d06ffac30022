// Convolution and max-pooling kernels on NCHW rows (kernels.hpp: images). A convolution runs per sample as
// im2col and a product:
//   patches[(c K + i) K + j][y OW + x] = in[c][y s - p + i][x s - p + j]   (zero in the padding)
//   forward          out = act(W . patches + b)          W is OC x CKK, patches CKK x OH*OW
//   backward input   d_patches = W^T . d_out, then added back into d_in (col2im)
//   backward params  dW += d_out . patches^T, db += row sums of d_out
// The products have a short side (OC or CKK) and a long one (the output pixels, contiguous in memory), so
// they vectorise over the pixels: forward and backward input as broadcast-and-multiply (outer product)
// tiles, the weight gradient as dot products along the pixels.
// Included once per target by conv_f32.cc / conv_f64.cc (one scalar type per translation unit).
#if defined(TYPENET_KERNELS_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_CONV_INL_H_
#undef TYPENET_KERNELS_CONV_INL_H_
#else
#define TYPENET_KERNELS_CONV_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <hwy/highway.h>

#include "kernels/dispatch_probe.hpp"
#include "kernels/simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

// Register tiles: accumulators + operands fit the register file (32 vectors on AVX-512, 16 elsewhere).
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kOuterRows = 6, kOuterVectors = 4;  // 24 accumulators + 4 B vectors + 1 broadcast
constexpr size_t kDotRows = 4, kDotCols = 4;         // 16 accumulators + 4 + 1 operands
#else
constexpr size_t kOuterRows = 3, kOuterVectors = 3;  // 9 + 3 + 1
constexpr size_t kDotRows = 3, kDotCols = 3;         // 9 + 3 + 1
#endif

// The range [first, last) of output columns x whose input column x s - p + j lies inside [0, width).
struct ValidRange {
  size_t first, last;
};
HWY_INLINE ValidRange InsideColumns(size_t out_width, size_t width, size_t stride, size_t padding, size_t j) {
  const std::ptrdiff_t shift = std::ptrdiff_t(j) - std::ptrdiff_t(padding);  // input x = out x * s + shift
  const std::ptrdiff_t s = std::ptrdiff_t(stride);
  std::ptrdiff_t first = shift >= 0 ? 0 : (-shift + s - 1) / s;
  std::ptrdiff_t last = (std::ptrdiff_t(width) - shift + s - 1) / s;  // first x with input x >= width
  first = std::min<std::ptrdiff_t>(first, std::ptrdiff_t(out_width));
  last = std::clamp<std::ptrdiff_t>(last, first, std::ptrdiff_t(out_width));
  return {size_t(first), size_t(last)};
}

// Calls f(patch_row, y, input_row_or_null, range, shift) for every patch row and output row y: the input row
// it reads (null in the padding) and the output columns that fall inside the image.
template <class F>
HWY_INLINE void ForEachPatchRow(const ConvGeometry& g, const F& f) {
  const size_t oh = g.out_height(), ow = g.out_width(), k = g.kernel;
  for (size_t c = 0; c < g.channels; ++c)
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j) {
        const size_t patch_row = (c * k + i) * k + j;
        const ValidRange inside = InsideColumns(ow, g.width, g.stride, g.padding, j);
        const std::ptrdiff_t shift = std::ptrdiff_t(j) - std::ptrdiff_t(g.padding);
        for (size_t y = 0; y < oh; ++y) {
          const std::ptrdiff_t row = std::ptrdiff_t(y * g.stride + i) - std::ptrdiff_t(g.padding);
          const bool in_image = row >= 0 && row < std::ptrdiff_t(g.height);
          f(patch_row, y, in_image ? (c * g.height + size_t(row)) * g.width : ~size_t{0}, inside, shift);
        }
      }
}

template <class T>
HWY_INLINE void Im2Col(const T* HWY_RESTRICT in, const ConvGeometry& g, T* HWY_RESTRICT patches) {
  const size_t ow = g.out_width(), pixels = g.out_pixels(), s = g.stride;
  ForEachPatchRow(g, [&](size_t patch_row, size_t y, size_t row_at, ValidRange inside, std::ptrdiff_t shift) {
    T* dst = patches + patch_row * pixels + y * ow;
    if (row_at == ~size_t{0}) {
      std::fill(dst, dst + ow, T(0));
      return;
    }
    const T* src = in + row_at;
    std::fill(dst, dst + inside.first, T(0));
    if (s == 1) {
      std::memcpy(dst + inside.first, src + std::ptrdiff_t(inside.first) + shift,
                  (inside.last - inside.first) * sizeof(T));
    } else {
      for (size_t x = inside.first; x < inside.last; ++x) dst[x] = src[std::ptrdiff_t(x * s) + shift];
    }
    std::fill(dst + inside.last, dst + ow, T(0));
  });
}

// d_in += the patches' gradients, each added back where its pixel came from (d_in zeroed by the caller).
template <class T>
HWY_INLINE void Col2ImAdd(const T* HWY_RESTRICT d_patches, const ConvGeometry& g, T* HWY_RESTRICT d_in) {
  const size_t ow = g.out_width(), pixels = g.out_pixels(), s = g.stride;
  ForEachPatchRow(g, [&](size_t patch_row, size_t y, size_t row_at, ValidRange inside, std::ptrdiff_t shift) {
    if (row_at == ~size_t{0}) return;
    const T* src = d_patches + patch_row * pixels + y * ow;
    T* dst = d_in + row_at;
    for (size_t x = inside.first; x < inside.last; ++x) dst[std::ptrdiff_t(x * s) + shift] += src[x];
  });
}

// One MR x NV-vector tile of C = A . B (+ bias per row, then act), C and B row-major with `n` columns, A's
// element (r, k) at a[r * a_row + k * a_col] (so A may be a transpose). kMasked: the last vector is partial
// (`width` lanes).
template <size_t MR, size_t NV, bool kMasked, class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterTile(D d, const T* HWY_RESTRICT a, size_t a_row, size_t a_col, const T* HWY_RESTRICT b,
                          size_t n, size_t depth, const T* HWY_RESTRICT bias, Activation act,
                          T* HWY_RESTRICT c, size_t width) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  V acc[MR][NV];
  HWY_UNROLL(1)
  for (size_t r = 0; r < MR; ++r) {
    const V init = bias ? hn::Set(d, bias[r]) : hn::Zero(d);
    for (size_t v = 0; v < NV; ++v) acc[r][v] = init;
  }
  for (size_t k = 0; k < depth; ++k) {
    const T* row = b + k * n;
    V bv[NV];
    for (size_t v = 0; v < NV; ++v)
      bv[v] = (kMasked && v + 1 == NV) ? LoadPartial(d, row + v * L, width) : hn::LoadU(d, row + v * L);
    for (size_t r = 0; r < MR; ++r) {
      const V ar = hn::Set(d, a[r * a_row + k * a_col]);
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v) {
      const V out = Activate(d, acc[r][v], act);
      if (kMasked && v + 1 == NV)
        StorePartial(d, out, c + r * n + v * L, width);
      else
        hn::StoreU(out, d, c + r * n + v * L);
    }
}

// MR rows of C, across all n columns.
template <size_t MR, class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterRows(D d, const T* a, size_t a_row, size_t a_col, const T* b, size_t n, size_t depth,
                          const T* bias, Activation act, T* c) {
  const size_t L = hn::Lanes(d);
  const size_t vectors = (n + L - 1) / L, tail = n - (vectors - 1) * L;
  const bool partial = tail != L;
  size_t v = 0;
  for (; v + kOuterVectors < vectors || (v + kOuterVectors == vectors && !partial); v += kOuterVectors)
    OuterTile<MR, kOuterVectors, false>(d, a, a_row, a_col, b + v * L, n, depth, bias, act, c + v * L, L);
  for (; v + 1 < vectors || (v + 1 == vectors && !partial); ++v)
    OuterTile<MR, 1, false>(d, a, a_row, a_col, b + v * L, n, depth, bias, act, c + v * L, L);
  if (v < vectors)
    OuterTile<MR, 1, true>(d, a, a_row, a_col, b + v * L, n, depth, bias, act, c + v * L, tail);
}

// rows (<= R) rows of C: the tile height is a template argument, so the remainder rows get their own.
template <size_t R, class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterRowsUpTo(size_t rows, D d, const T* a, size_t a_row, size_t a_col, const T* b, size_t n,
                              size_t depth, const T* bias, Activation act, T* c) {
  if constexpr (R > 1) {
    if (rows < R) return OuterRowsUpTo<R - 1>(rows, d, a, a_row, a_col, b, n, depth, bias, act, c);
  }
  OuterRows<R>(d, a, a_row, a_col, b, n, depth, bias, act, c);
}

// C[m x n] = act(A[m x depth] . B[depth x n] + bias) (bias may be null).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterProduct(D d, const T* a, size_t a_row, size_t a_col, const T* b, size_t m, size_t n,
                             size_t depth, const T* bias, Activation act, T* c) {
  for (size_t r = 0; r < m; r += kOuterRows)
    OuterRowsUpTo<kOuterRows>(std::min(kOuterRows, m - r), d, a + r * a_row, a_row, a_col, b, n, depth,
                              bias ? bias + r : nullptr, act, c + r * n);
}

// out[r][j] += dot(x row r, y row j) over `length` for an MR x NR block (x, y rows of `length`, out rows of
// `out_stride`).
template <size_t MR, size_t NR, class D, class T = hn::TFromD<D>>
HWY_INLINE void DotTile(D d, const T* HWY_RESTRICT x, const T* HWY_RESTRICT y, size_t length,
                        T* HWY_RESTRICT out, size_t out_stride) {
  using V = hn::VFromD<D>;
  V acc[MR][NR];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < NR; ++j) acc[r][j] = hn::Zero(d);
  ForEachVector(d, length, [&](size_t p, size_t w) HWY_ATTR {
    V yv[NR];
    for (size_t j = 0; j < NR; ++j) yv[j] = LoadWidth(d, y + j * length + p, w);
    for (size_t r = 0; r < MR; ++r) {
      const V xv = LoadWidth(d, x + r * length + p, w);
      for (size_t j = 0; j < NR; ++j) acc[r][j] = hn::MulAdd(xv, yv[j], acc[r][j]);
    }
  });
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < NR; ++j) out[r * out_stride + j] += HorizontalSum(d, acc[r][j]);
}

template <size_t MR, size_t NR, class D, class T = hn::TFromD<D>>
HWY_INLINE void DotTileUpTo(size_t rows, size_t cols, D d, const T* x, const T* y, size_t length, T* out,
                            size_t out_stride) {
  if constexpr (MR > 1) {
    if (rows < MR) return DotTileUpTo<MR - 1, NR>(rows, cols, d, x, y, length, out, out_stride);
  }
  if constexpr (NR > 1) {
    if (cols < NR) return DotTileUpTo<MR, NR - 1>(rows, cols, d, x, y, length, out, out_stride);
  }
  DotTile<MR, NR>(d, x, y, length, out, out_stride);
}

// out[m x n] += X[m x length] . Y[n x length]^T.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void DotProducts(D d, const T* x, size_t m, const T* y, size_t n, size_t length, T* out) {
  for (size_t r = 0; r < m; r += kDotRows)
    for (size_t j = 0; j < n; j += kDotCols)
      DotTileUpTo<kDotRows, kDotCols>(std::min(kDotRows, m - r), std::min(kDotCols, n - j), d, x + r * length,
                                      y + j * length, length, out + r * n + j, n);
}

// A 1 x 1 convolution of stride 1 without padding reads the image itself as its patches.
HWY_INLINE bool PatchesAreInput(const ConvGeometry& g) {
  return g.kernel == 1 && g.stride == 1 && g.padding == 0;
}

template <class T>
HWY_INLINE void Conv2dForward(const T* in, const T* weights, const T* bias, T* out, size_t rows,
                              const ConvGeometry& g, Activation act, T* scratch) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, out_size = g.out_channels * g.out_pixels();
  for (size_t r = 0; r < rows; ++r) {
    const T* patches = in + r * in_size;
    if (!PatchesAreInput(g)) {
      Im2Col(in + r * in_size, g, scratch);
      patches = scratch;
    }
    OuterProduct(d, weights, g.patch_size(), 1, patches, g.out_channels, g.out_pixels(), g.patch_size(), bias,
                 act, out + r * out_size);
  }
}

template <class T>
HWY_INLINE void Conv2dBackwardInput(const T* d_out, const T* weights, T* d_in, size_t rows,
                                    const ConvGeometry& g, T* scratch) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, out_size = g.out_channels * g.out_pixels();
  for (size_t r = 0; r < rows; ++r) {
    // W^T: element (patch row q, filter o) at weights[o * CKK + q].
    if (PatchesAreInput(g)) {
      OuterProduct(d, weights, 1, g.patch_size(), d_out + r * out_size, g.patch_size(), g.out_pixels(),
                   g.out_channels, static_cast<const T*>(nullptr), Activation::identity, d_in + r * in_size);
      continue;
    }
    OuterProduct(d, weights, 1, g.patch_size(), d_out + r * out_size, g.patch_size(), g.out_pixels(),
                 g.out_channels, static_cast<const T*>(nullptr), Activation::identity, scratch);
    std::fill(d_in + r * in_size, d_in + (r + 1) * in_size, T(0));
    Col2ImAdd(scratch, g, d_in + r * in_size);
  }
}

template <class T>
HWY_INLINE void Conv2dBackwardParams(const T* in, const T* d_out, T* d_weights, T* d_bias, size_t rows,
                                     const ConvGeometry& g, T* scratch) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, pixels = g.out_pixels();
  const size_t out_size = g.out_channels * pixels;
  std::fill(d_weights, d_weights + g.out_channels * g.patch_size(), T(0));
  std::fill(d_bias, d_bias + g.out_channels, T(0));
  for (size_t r = 0; r < rows; ++r) {
    const T* patches = in + r * in_size;
    if (!PatchesAreInput(g)) {
      Im2Col(in + r * in_size, g, scratch);
      patches = scratch;
    }
    const T* grad = d_out + r * out_size;
    DotProducts(d, grad, g.out_channels, patches, g.patch_size(), pixels, d_weights);
    for (size_t o = 0; o < g.out_channels; ++o) {
      auto sum = hn::Zero(d);
      ForEachVector(d, pixels, [&](size_t p, size_t w) HWY_ATTR {
        sum = hn::Add(sum, LoadWidth(d, grad + o * pixels + p, w));
      });
      d_bias[o] += HorizontalSum(d, sum);
    }
  }
}

template <class T>
HWY_INLINE void MaxPoolForward(const T* in, T* out, T* argmax, size_t rows, const PoolGeometry& g) {
  detail::note_target(HWY_TARGET);
  const size_t in_size = g.channels * g.height * g.width, oh = g.out_height(), ow = g.out_width();
  for (size_t r = 0; r < rows; ++r) {
    const T* image = in + r * in_size;
    for (size_t c = 0; c < g.channels; ++c)
      for (size_t y = 0; y < oh; ++y)
        for (size_t x = 0; x < ow; ++x) {
          size_t best = (c * g.height + y * g.stride) * g.width + x * g.stride;
          for (size_t i = 0; i < g.window; ++i) {
            const size_t row = (c * g.height + y * g.stride + i) * g.width + x * g.stride;
            for (size_t j = 0; j < g.window; ++j)
              if (image[row + j] > image[best]) best = row + j;
          }
          *out++ = image[best];
          *argmax++ = T(best);
        }
  }
}

template <class T>
HWY_INLINE void MaxPoolBackward(const T* d_out, const T* argmax, T* d_in, size_t rows,
                                const PoolGeometry& g) {
  detail::note_target(HWY_TARGET);
  const size_t in_size = g.channels * g.height * g.width, out_size = g.out_size();
  for (size_t r = 0; r < rows; ++r) {
    T* image = d_in + r * in_size;
    std::fill(image, image + in_size, T(0));
    for (size_t n = 0; n < out_size; ++n) image[size_t(argmax[r * out_size + n])] += d_out[r * out_size + n];
  }
}

// Non-template entry points for HWY_EXPORT, one set per scalar type (NAME: F32 or F64).
#define TYPENET_CONV_ENTRY_POINTS(T, NAME)                                                                   \
  void Conv2dForward##NAME(const T* in, const T* w, const T* b, T* out, size_t rows, const ConvGeometry& g,  \
                           Activation act, T* scratch) {                                                     \
    Conv2dForward(in, w, b, out, rows, g, act, scratch);                                                     \
  }                                                                                                          \
  void Conv2dBackwardInput##NAME(const T* d_out, const T* w, T* d_in, size_t rows, const ConvGeometry& g,    \
                                 T* scratch) {                                                               \
    Conv2dBackwardInput(d_out, w, d_in, rows, g, scratch);                                                   \
  }                                                                                                          \
  void Conv2dBackwardParams##NAME(const T* in, const T* d_out, T* dw, T* db, size_t rows,                    \
                                  const ConvGeometry& g, T* scratch) {                                       \
    Conv2dBackwardParams(in, d_out, dw, db, rows, g, scratch);                                               \
  }                                                                                                          \
  void MaxPoolForward##NAME(const T* in, T* out, T* argmax, size_t rows, const PoolGeometry& g) {            \
    MaxPoolForward(in, out, argmax, rows, g);                                                                \
  }                                                                                                          \
  void MaxPoolBackward##NAME(const T* d_out, const T* argmax, T* d_in, size_t rows, const PoolGeometry& g) { \
    MaxPoolBackward(d_out, argmax, d_in, rows, g);                                                           \
  }

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
