// Convolution and max-pooling kernels on NCHW rows (kernels.hpp: images). A convolution runs per sample as
// a product whose depth runs over the patch (c, i, j) and whose columns are output pixels:
//   forward          out = act(W . patches + b)          W is OC x CKK, patches CKK x pixels
//   backward input   d_in = the patches' gradients W^T . d_out, added back where they came from
//   backward params  dW += d_out . patches^T, db += row sums of d_out
// With stride 1 the patches are never written out (implicit im2col): in the image padded to Hp x Wp, patch
// row (c, i, j) over the pixels y * Wp + x is the padded image itself, shifted by (c Hp + i) Wp + j. The
// products run over that "wide" grid of OH x Wp columns (the last Wp - OW of each row are thrown away, or
// zero where they are an input), and the input gradient adds each patch row's gradient back at its shift.
// Other strides write the patches out (im2col) and add their gradients back (col2im).
// The products have a short side (OC, C or CKK) and a long one (the pixels, contiguous in memory), so they
// vectorise over the pixels: forward and backward input as broadcast-and-multiply (outer product) tiles,
// the weight gradient as dot products along the pixels.
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

// The rows of a product's B operand, in depth order k = (c K + i) K + j: row k starts at
// b + c * channel_stride + i * row_stride + j. The im2col patches are {CKK, 1, n, 0}: row k at b + k n.
struct ShiftedRows {
  size_t channels, kernel, channel_stride, row_stride;
  size_t depth() const { return channels * kernel * kernel; }
  size_t offset(size_t k) const {
    const size_t kk = kernel * kernel;
    return (k / kk) * channel_stride + (k / kernel % kernel) * row_stride + k % kernel;
  }
};

// One MR x NV-vector tile of C = A . B (+ bias per row, then act), C row-major with `n` columns, B's rows
// as `rows` says, A's element (r, k) at a[r * a_row + k * a_col] (so A may be a transpose). kMasked: the
// last vector is partial (`width` lanes).
template <size_t MR, size_t NV, bool kMasked, class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterTile(D d, const T* HWY_RESTRICT a, size_t a_row, size_t a_col, const T* HWY_RESTRICT b,
                          const ShiftedRows& rows, size_t n, const T* HWY_RESTRICT bias, Activation act,
                          T* HWY_RESTRICT c, size_t width) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  V acc[MR][NV];
  for (size_t r = 0; r < MR; ++r) {
    const V init = bias ? hn::Set(d, bias[r]) : hn::Zero(d);
    for (size_t v = 0; v < NV; ++v) acc[r][v] = init;
  }
  size_t k = 0;
  for (size_t ch = 0; ch < rows.channels; ++ch)
    for (size_t i = 0; i < rows.kernel; ++i) {
      const T* line = b + ch * rows.channel_stride + i * rows.row_stride;
      for (size_t j = 0; j < rows.kernel; ++j, ++k) {
        const T* row = line + j;
        V bv[NV];
        for (size_t v = 0; v < NV; ++v)
          bv[v] = (kMasked && v + 1 == NV) ? LoadPartial(d, row + v * L, width) : hn::LoadU(d, row + v * L);
        for (size_t r = 0; r < MR; ++r) {
          const V ar = hn::Set(d, a[r * a_row + k * a_col]);
          for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
        }
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
HWY_INLINE void OuterRows(D d, const T* a, size_t a_row, size_t a_col, const T* b, const ShiftedRows& rows,
                          size_t n, const T* bias, Activation act, T* c) {
  const size_t L = hn::Lanes(d);
  const size_t vectors = (n + L - 1) / L, tail = n - (vectors - 1) * L;
  const bool partial = tail != L;
  size_t v = 0;
  for (; v + kOuterVectors < vectors || (v + kOuterVectors == vectors && !partial); v += kOuterVectors)
    OuterTile<MR, kOuterVectors, false>(d, a, a_row, a_col, b + v * L, rows, n, bias, act, c + v * L, L);
  for (; v + 1 < vectors || (v + 1 == vectors && !partial); ++v)
    OuterTile<MR, 1, false>(d, a, a_row, a_col, b + v * L, rows, n, bias, act, c + v * L, L);
  if (v < vectors) OuterTile<MR, 1, true>(d, a, a_row, a_col, b + v * L, rows, n, bias, act, c + v * L, tail);
}

// rows (<= R) rows of C: the tile height is a template argument, so the remainder rows get their own.
template <size_t R, class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterRowsUpTo(size_t m, D d, const T* a, size_t a_row, size_t a_col, const T* b,
                              const ShiftedRows& rows, size_t n, const T* bias, Activation act, T* c) {
  if constexpr (R > 1) {
    if (m < R) return OuterRowsUpTo<R - 1>(m, d, a, a_row, a_col, b, rows, n, bias, act, c);
  }
  OuterRows<R>(d, a, a_row, a_col, b, rows, n, bias, act, c);
}

// C[m x n] = act(A[m x depth] . B[depth x n] + bias) (bias may be null).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void OuterProduct(D d, const T* a, size_t a_row, size_t a_col, const T* b, const ShiftedRows& rows,
                             size_t m, size_t n, const T* bias, Activation act, T* c) {
  for (size_t r = 0; r < m; r += kOuterRows)
    OuterRowsUpTo<kOuterRows>(std::min(kOuterRows, m - r), d, a + r * a_row, a_row, a_col, b, rows, n,
                              bias ? bias + r : nullptr, act, c + r * n);
}

// out[r][j] += dot(x row r, B row j) over `length` for an MR x NR block: x rows `length` apart, B rows
// given by their starts, out rows `out_stride` apart.
template <size_t MR, size_t NR, class D, class T = hn::TFromD<D>>
HWY_INLINE void DotTile(D d, const T* HWY_RESTRICT x, const T* const* y, size_t length, T* HWY_RESTRICT out,
                        size_t out_stride) {
  using V = hn::VFromD<D>;
  V acc[MR][NR];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < NR; ++j) acc[r][j] = hn::Zero(d);
  ForEachVector(d, length, [&](size_t p, size_t w) HWY_ATTR {
    V yv[NR];
    for (size_t j = 0; j < NR; ++j) yv[j] = LoadWidth(d, y[j] + p, w);
    for (size_t r = 0; r < MR; ++r) {
      const V xv = LoadWidth(d, x + r * length + p, w);
      for (size_t j = 0; j < NR; ++j) acc[r][j] = hn::MulAdd(xv, yv[j], acc[r][j]);
    }
  });
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < NR; ++j) out[r * out_stride + j] += HorizontalSum(d, acc[r][j]);
}

template <size_t MR, size_t NR, class D, class T = hn::TFromD<D>>
HWY_INLINE void DotTileUpTo(size_t m, size_t cols, D d, const T* x, const T* const* y, size_t length, T* out,
                            size_t out_stride) {
  if constexpr (MR > 1) {
    if (m < MR) return DotTileUpTo<MR - 1, NR>(m, cols, d, x, y, length, out, out_stride);
  }
  if constexpr (NR > 1) {
    if (cols < NR) return DotTileUpTo<MR, NR - 1>(m, cols, d, x, y, length, out, out_stride);
  }
  DotTile<MR, NR>(d, x, y, length, out, out_stride);
}

// out[m x depth] += X[m x length] . B^T, B's depth rows (of `length`) as `rows` says.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void DotProducts(D d, const T* x, size_t m, const T* b, const ShiftedRows& rows, size_t length,
                            T* out) {
  const size_t depth = rows.depth();
  for (size_t j = 0; j < depth; j += kDotCols) {
    const T* y[kDotCols];
    for (size_t q = 0; q < kDotCols; ++q) y[q] = b + rows.offset(std::min(j + q, depth - 1));
    for (size_t r = 0; r < m; r += kDotRows)
      DotTileUpTo<kDotRows, kDotCols>(std::min(kDotRows, m - r), std::min(kDotCols, depth - j), d,
                                      x + r * length, y, length, out + r * depth + j, depth);
  }
}

// ------------------------------------------------------------------- stride 1: implicit im2col

// count values from `from` to `to` (one image row). memcpy measured faster here than masked vector copies.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void CopyRow(D, const T* HWY_RESTRICT from, size_t count, T* HWY_RESTRICT to) {
  std::memcpy(to, from, count * sizeof(T));
}

// The image zero-padded by `pad` rows above and below and `pad_left`/`pad_right` columns: C x (H + 2 pad)
// x (pad_left + W + pad_right), then `kernel` zeros, which the widest shifted row reads past its end.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void PadImage(D d, const T* HWY_RESTRICT image, size_t channels, size_t height, size_t width,
                         size_t pad, size_t kernel, T* HWY_RESTRICT padded) {
  const size_t hp = height + 2 * pad, wp = width + 2 * pad;
  std::fill(padded, padded + channels * hp * wp + kernel, T(0));
  for (size_t c = 0; c < channels; ++c)
    for (size_t y = 0; y < height; ++y)
      CopyRow(d, image + (c * height + y) * width, width, padded + (c * hp + y + pad) * wp + pad);
}

// rows x `height` x `width` values onto a grid `wide_width` wide, zero in the columns past `width`.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void SpreadWide(D d, const T* HWY_RESTRICT from, size_t planes, size_t height, size_t width,
                           size_t wide_width, T* HWY_RESTRICT wide) {
  for (size_t q = 0; q < planes * height; ++q) {
    CopyRow(d, from + q * width, width, wide + q * wide_width);
    std::fill(wide + q * wide_width + width, wide + (q + 1) * wide_width, T(0));
  }
}

// The stride-1 scratch, as kernels.hpp sizes it:
// [padded input, with its slack][d_out or out on the wide grid][backward input: the patches' gradients]
struct Stride1Layout {
  size_t hp, wp;      // the padded input
  size_t first_size;  // the padded input with its slack
};
HWY_INLINE Stride1Layout Stride1(const ConvGeometry& g) {
  Stride1Layout l;
  l.hp = g.height + 2 * g.padding, l.wp = g.width + 2 * g.padding;
  l.first_size = g.channels * l.hp * l.wp + g.kernel;
  return l;
}

template <class D, class T = hn::TFromD<D>>
HWY_INLINE void ForwardStride1(D d, const T* in, const T* weights, const T* bias, T* out,
                               const ConvGeometry& g, Activation act, T* scratch) {
  const Stride1Layout l = Stride1(g);
  const size_t oh = g.out_height(), ow = g.out_width();
  T* padded = scratch;
  T* wide = scratch + l.first_size;
  PadImage(d, in, g.channels, g.height, g.width, g.padding, g.kernel, padded);
  OuterProduct(d, weights, g.patch_size(), 1, padded, ShiftedRows{g.channels, g.kernel, l.hp * l.wp, l.wp},
               g.out_channels, oh * l.wp, bias, act, wide);
  for (size_t o = 0; o < g.out_channels; ++o)
    for (size_t y = 0; y < oh; ++y) CopyRow(d, wide + (o * oh + y) * l.wp, ow, out + (o * oh + y) * ow);
}

// d_in: the patches' gradients W^T . d_out on the wide grid (d_out spread onto it with zeros in the columns
// thrown away, so those columns of the product are zero too), each patch row added back onto the padded
// input at its shift, then the padding cropped off.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void BackwardInputStride1(D d, const T* d_out, const T* weights, T* d_in, const ConvGeometry& g,
                                     T* scratch) {
  const Stride1Layout l = Stride1(g);
  const size_t oh = g.out_height(), ow = g.out_width(), wide_pixels = oh * l.wp, p = g.padding;
  T* padded = scratch;               // dL/d(padded input)
  T* wide = scratch + l.first_size;  // d_out on the wide grid
  T* d_patches = wide + g.out_channels * wide_pixels;
  SpreadWide(d, d_out, g.out_channels, oh, ow, l.wp, wide);
  OuterProduct(d, weights, 1, g.patch_size(), wide, ShiftedRows{g.out_channels, 1, wide_pixels, 0},
               g.patch_size(), wide_pixels, static_cast<const T*>(nullptr), Activation::identity, d_patches);
  std::fill(padded, padded + g.channels * l.hp * l.wp + g.kernel, T(0));
  const ShiftedRows rows{g.channels, g.kernel, l.hp * l.wp, l.wp};
  for (size_t k = 0; k < g.patch_size(); ++k) {
    T* to = padded + rows.offset(k);
    const T* from = d_patches + k * wide_pixels;
    ForEachVector(d, wide_pixels, [&](size_t i, size_t w) HWY_ATTR {
      StoreWidth(d, hn::Add(LoadWidth(d, to + i, w), LoadWidth(d, from + i, w)), to + i, w);
    });
  }
  for (size_t c = 0; c < g.channels; ++c)
    for (size_t y = 0; y < g.height; ++y)
      CopyRow(d, padded + (c * l.hp + y + p) * l.wp + p, g.width, d_in + (c * g.height + y) * g.width);
}

// The weight gradient as dot products along the pixels: one horizontal sum per weight and sample, which the
// form below avoids when the filters fill most of a vector.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void BackwardParamsStride1(D d, const T* in, const T* d_out, T* d_weights, const ConvGeometry& g,
                                      T* scratch) {
  const Stride1Layout l = Stride1(g);
  const size_t oh = g.out_height(), ow = g.out_width();
  T* padded = scratch;
  T* wide = scratch + l.first_size;  // d_out on the wide grid, zero in the columns thrown away
  PadImage(d, in, g.channels, g.height, g.width, g.padding, g.kernel, padded);
  SpreadWide(d, d_out, g.out_channels, oh, ow, l.wp, wide);
  DotProducts(d, wide, g.out_channels, padded, ShiftedRows{g.channels, g.kernel, l.hp * l.wp, l.wp},
              oh * l.wp, d_weights);
}

// The weight gradient transposed, vectorised over the filters: dW^T[k][o] += sum over pixels n of
// patch row k at n times d_out^T[n][o]. Per pixel, one load of d_out^T's row and one broadcast per patch
// row: no horizontal sums, and the accumulators stay in registers across the pixels. MR patch rows (given by
// their starts) x NV vectors of filters; kMasked: the last vector has `width` filters.
template <size_t MR, size_t NV, bool kMasked, class D, class T = hn::TFromD<D>>
HWY_INLINE void FilterVectorTile(D d, const T* HWY_RESTRICT patch_rows, size_t pixels,
                                 const T* HWY_RESTRICT d_out_t, size_t filters, T* HWY_RESTRICT d_weights_t,
                                 size_t width) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  V acc[MR][NV];
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v)
      acc[r][v] = (kMasked && v + 1 == NV) ? LoadPartial(d, d_weights_t + r * filters + v * L, width)
                                           : hn::LoadU(d, d_weights_t + r * filters + v * L);
  for (size_t n = 0; n < pixels; ++n) {
    V bv[NV];
    for (size_t v = 0; v < NV; ++v)
      bv[v] = (kMasked && v + 1 == NV) ? LoadPartial(d, d_out_t + n * filters + v * L, width)
                                       : hn::LoadU(d, d_out_t + n * filters + v * L);
    for (size_t r = 0; r < MR; ++r) {
      const V ar = hn::Set(d, patch_rows[n + r]);
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v) {
      if (kMasked && v + 1 == NV)
        StorePartial(d, acc[r][v], d_weights_t + r * filters + v * L, width);
      else
        hn::StoreU(acc[r][v], d, d_weights_t + r * filters + v * L);
    }
}

#if HWY_TARGET <= HWY_AVX3
constexpr size_t kFilterRows = 8;  // 16 accumulators (2 vectors of filters) + 2 + 1
#else
constexpr size_t kFilterRows = 4;                    // 8 + 2 + 1
#endif

template <size_t MR, class D, class T = hn::TFromD<D>>
HWY_INLINE void FilterVectorRows(size_t rows, D d, const T* patch_rows, size_t pixels, const T* d_out_t,
                                 size_t filters, T* d_weights_t) {
  if constexpr (MR > 1) {
    if (rows < MR)
      return FilterVectorRows<MR - 1>(rows, d, patch_rows, pixels, d_out_t, filters, d_weights_t);
  }
  const size_t L = hn::Lanes(d), vectors = (filters + L - 1) / L, tail = filters - (vectors - 1) * L;
  for (size_t v = 0; v < vectors; v += 2) {
    const bool last = v + 2 >= vectors, masked = last && tail != L;
    T* out = d_weights_t + v * L;
    if (v + 1 == vectors) {  // one vector left
      if (masked)
        FilterVectorTile<MR, 1, true>(d, patch_rows, pixels, d_out_t + v * L, filters, out, tail);
      else
        FilterVectorTile<MR, 1, false>(d, patch_rows, pixels, d_out_t + v * L, filters, out, L);
    } else if (masked) {
      FilterVectorTile<MR, 2, true>(d, patch_rows, pixels, d_out_t + v * L, filters, out, tail);
    } else {
      FilterVectorTile<MR, 2, false>(d, patch_rows, pixels, d_out_t + v * L, filters, out, L);
    }
  }
}

// Is the transposed form worth it: do the filters fill at least half of the vectors they take?
template <class D>
HWY_INLINE bool FiltersFillVectors(D d, const ConvGeometry& g) {
  const size_t L = hn::Lanes(d), vectors = (g.out_channels + L - 1) / L;
  return L > 1 && 2 * g.out_channels >= vectors * L;
}

// d_weights_t (CKK x OC) += the sample's gradient, transposed.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void BackwardParamsByFilters(D d, const T* in, const T* d_out, T* d_weights_t,
                                        const ConvGeometry& g, T* scratch) {
  const Stride1Layout l = Stride1(g);
  const size_t oh = g.out_height(), ow = g.out_width(), oc = g.out_channels, pixels = oh * l.wp;
  T* padded = scratch;
  T* d_out_t = scratch + l.first_size;  // pixels x OC on the wide grid, zero in the columns thrown away
  PadImage(d, in, g.channels, g.height, g.width, g.padding, g.kernel, padded);
  for (size_t y = 0; y < oh; ++y) {
    for (size_t x = 0; x < ow; ++x)
      for (size_t o = 0; o < oc; ++o) d_out_t[(y * l.wp + x) * oc + o] = d_out[(o * oh + y) * ow + x];
    std::fill(d_out_t + (y * l.wp + ow) * oc, d_out_t + (y + 1) * l.wp * oc, T(0));
  }
  for (size_t c = 0; c < g.channels; ++c)
    for (size_t i = 0; i < g.kernel; ++i)
      for (size_t j = 0; j < g.kernel; j += kFilterRows) {
        const size_t k = (c * g.kernel + i) * g.kernel + j;
        FilterVectorRows<kFilterRows>(std::min(kFilterRows, g.kernel - j), d,
                                      padded + (c * l.hp + i) * l.wp + j, pixels, d_out_t, oc,
                                      d_weights_t + k * oc);
      }
}

// --------------------------------------------------------------------------------- the entry points

template <class T>
HWY_INLINE void Conv2dForward(const T* in, const T* weights, const T* bias, T* out, size_t rows,
                              const ConvGeometry& g, Activation act, T* scratch) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, out_size = g.out_channels * g.out_pixels();
  const ShiftedRows patches{g.patch_size(), 1, g.out_pixels(), 0};
  for (size_t r = 0; r < rows; ++r) {
    if (g.stride == 1) {
      ForwardStride1(d, in + r * in_size, weights, bias, out + r * out_size, g, act, scratch);
    } else {
      Im2Col(in + r * in_size, g, scratch);
      OuterProduct(d, weights, g.patch_size(), 1, scratch, patches, g.out_channels, g.out_pixels(), bias, act,
                   out + r * out_size);
    }
  }
}

template <class T>
HWY_INLINE void Conv2dBackwardInput(const T* d_out, const T* weights, T* d_in, size_t rows,
                                    const ConvGeometry& g, T* scratch) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, out_size = g.out_channels * g.out_pixels();
  if (g.stride == 1) {
    for (size_t r = 0; r < rows; ++r)
      BackwardInputStride1(d, d_out + r * out_size, weights, d_in + r * in_size, g, scratch);
    return;
  }
  // W^T: element (patch row q, filter o) at weights[o * CKK + q].
  const ShiftedRows grad_rows{g.out_channels, 1, g.out_pixels(), 0};
  for (size_t r = 0; r < rows; ++r) {
    OuterProduct(d, weights, 1, g.patch_size(), d_out + r * out_size, grad_rows, g.patch_size(),
                 g.out_pixels(), static_cast<const T*>(nullptr), Activation::identity, scratch);
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
  const bool by_filters = g.stride == 1 && FiltersFillVectors(d, g);
  // The transposed gradient accumulates over the batch after the padded image and d_out^T.
  T* d_weights_t =
      by_filters ? scratch + Stride1(g).first_size + g.out_pixels_wide() * g.out_channels : nullptr;
  if (by_filters) std::fill(d_weights_t, d_weights_t + g.patch_size() * g.out_channels, T(0));
  for (size_t r = 0; r < rows; ++r) {
    const T* grad = d_out + r * out_size;
    if (by_filters) {
      BackwardParamsByFilters(d, in + r * in_size, grad, d_weights_t, g, scratch);
    } else if (g.stride == 1) {
      BackwardParamsStride1(d, in + r * in_size, grad, d_weights, g, scratch);
    } else {
      Im2Col(in + r * in_size, g, scratch);
      DotProducts(d, grad, g.out_channels, scratch, ShiftedRows{g.patch_size(), 1, pixels, 0}, pixels,
                  d_weights);
    }
    for (size_t o = 0; o < g.out_channels; ++o) {
      auto sum = hn::Zero(d);
      ForEachVector(d, pixels, [&](size_t p, size_t w) HWY_ATTR {
        sum = hn::Add(sum, LoadWidth(d, grad + o * pixels + p, w));
      });
      d_bias[o] += HorizontalSum(d, sum);
    }
  }
  if (by_filters)
    for (size_t k = 0; k < g.patch_size(); ++k)
      for (size_t o = 0; o < g.out_channels; ++o)
        d_weights[o * g.patch_size() + k] = d_weights_t[k * g.out_channels + o];
}

// 2 x 2 windows of stride 2, a vector of outputs at a time: the even and odd columns of two input rows are
// the four candidates, compared in the window's row-major order so the first maximum wins, as in the
// scalar loop. Returns how many outputs of the row it did (all of them, or none on one-lane targets).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE size_t MaxPool2x2Row(D d, const T* top, size_t top_at, size_t width, size_t ow, T* out,
                                T* argmax) {
#if HWY_TARGET == HWY_SCALAR  // one lane: nothing to gain, and no ConcatEven
  (void)d, (void)top, (void)top_at, (void)width, (void)ow, (void)out, (void)argmax;
  return 0;
#else
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  const V twice_lane = hn::Mul(hn::Iota(d, T(0)), hn::Set(d, T(2)));
  for (size_t x = 0; x < ow; x += L) {
    const size_t w = std::min(L, ow - x), n0 = std::min(2 * w, L), n1 = 2 * w - n0;  // outputs, inputs
    const T* a = top + 2 * x;
    const T* b = a + width;
    const V a0 = LoadWidth(d, a, n0), a1 = LoadWidth(d, a + L, n1);
    const V b0 = LoadWidth(d, b, n0), b1 = LoadWidth(d, b + L, n1);
    const V at = hn::Add(twice_lane, hn::Set(d, T(top_at + 2 * x)));
    V best = hn::ConcatEven(d, a1, a0);
    V where = at;
    auto take = [&](V candidate, T shift) HWY_ATTR {
      const auto larger = hn::Gt(candidate, best);
      best = hn::IfThenElse(larger, candidate, best);
      where = hn::IfThenElse(larger, hn::Add(at, hn::Set(d, shift)), where);
    };
    take(hn::ConcatOdd(d, a1, a0), T(1));
    take(hn::ConcatEven(d, b1, b0), T(width));
    take(hn::ConcatOdd(d, b1, b0), T(width + 1));
    StoreWidth(d, best, out + x, w);
    StoreWidth(d, where, argmax + x, w);
  }
  return ow;
#endif
}

template <class T>
HWY_INLINE void MaxPoolForward(const T* in, T* out, T* argmax, size_t rows, const PoolGeometry& g) {
  detail::note_target(HWY_TARGET);
  const hn::ScalableTag<T> d;
  const size_t in_size = g.channels * g.height * g.width, oh = g.out_height(), ow = g.out_width();
  const bool two_by_two = g.window == 2 && g.stride == 2;
  for (size_t r = 0; r < rows; ++r) {
    const T* image = in + r * in_size;
    for (size_t c = 0; c < g.channels; ++c)
      for (size_t y = 0; y < oh; ++y) {
        const size_t top_at = (c * g.height + 2 * y) * g.width;
        const size_t done =
            two_by_two ? MaxPool2x2Row(d, image + top_at, top_at, g.width, ow, out, argmax) : 0;
        out += done, argmax += done;
        for (size_t x = done; x < ow; ++x) {
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
