// Plain SGD on a dense layer at batch 1, where dW = x^T dy is a rank-1 update and the step is bound by
// moving W through the cache, not by arithmetic:
//   SgdSingleRow             W -= (lr x_k) dy row by row, b -= lr dy
//   SgdThenForwardSingleRow  the same, and in the same pass y' = act(x' W + b) for the next input x', with
//                            every updated row of W fed to the forward accumulators while it is in registers
// Per weight one FMA with the row's step lr x_k broadcast, where the GEMM form lr (x_k dy) takes two: at two
// FMA pipes and one 64-byte L2 line per cycle the second FMA made the update of W1 compute-bound (AVX-512
// harness, W1 784 x 256: 5.4 -> 4.5 us).
//
// Included once per target from gemm_dense-inl.h.
#if defined(TYPENET_KERNELS_SINGLE_ROW_SGD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_SINGLE_ROW_SGD_INL_H_
#undef TYPENET_KERNELS_SINGLE_ROW_SGD_INL_H_
#else
#define TYPENET_KERNELS_SINGLE_ROW_SGD_INL_H_
#endif

#include <cstddef>

#include <hwy/highway.h>

#include "kernels/simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

// Where the forward half of SgdThenForwardSingleRow goes; `to` null: update only.
template <class T>
struct NextForward {
  const T* in = nullptr;
  T* to = nullptr;
  Activation act = Activation::identity;
};

// Columns [c0, c0 + NR L) of W (only `last_width` lanes of the last vector when kMaskedLast) for all rows k,
// with NR forward accumulators starting from the updated bias. NR vectors of one W row per k: a sequential
// run of W and NR independent chains.
template <size_t NR, bool kMaskedLast, bool kForward, class D, class T = hn::TFromD<D>>
HWY_NOINLINE void SgdPanel(D d, const T* HWY_RESTRICT in, const T* HWY_RESTRICT d_out,
                           T* HWY_RESTRICT weights, const T* HWY_RESTRICT bias, T lr,
                           const NextForward<T>& next, size_t inner, size_t cols, size_t c0,
                           size_t last_width) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  auto width = [&](size_t j) {
    return kMaskedLast && j == NR - 1 ? last_width : L;
  };
  V acc[NR];
  if constexpr (kForward) {
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) acc[j] = LoadWidth(d, bias + c0 + j * L, width(j));
  }
  const T* HWY_RESTRICT next_in = next.in;
  T* HWY_RESTRICT row = weights + c0;
  for (size_t k = 0; k < inner; ++k, row += cols) {
    const V step = hn::Set(d, lr * in[k]);
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) {
      const V w = hn::NegMulAdd(step, LoadWidth(d, d_out + c0 + j * L, width(j)),
                                LoadWidth(d, row + j * L, width(j)));
      StoreWidth(d, w, row + j * L, width(j));
      if constexpr (kForward) acc[j] = hn::MulAdd(hn::Set(d, next_in[k]), w, acc[j]);
    }
  }
  if constexpr (kForward) {
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j)
      StoreWidth(d, Activate(d, acc[j], next.act), next.to + c0 + j * L, width(j));
  }
}

// Vectors [v, vectors) in panels of NR, then NR / 2, ... down to single vectors; the partial last vector
// (cols not a multiple of the lanes) goes alone through a masked panel.
template <size_t NR, bool kForward, class D, class T = hn::TFromD<D>>
HWY_INLINE void SgdPanels(D d, const T* in, const T* d_out, T* weights, const T* bias, T lr,
                          const NextForward<T>& next, size_t inner, size_t cols, size_t v,
                          size_t full_vectors) {
  const size_t L = hn::Lanes(d);
  for (; v + NR <= full_vectors; v += NR)
    SgdPanel<NR, false, kForward>(d, in, d_out, weights, bias, lr, next, inner, cols, v * L, L);
  if constexpr (NR > 1) {
    SgdPanels<NR / 2, kForward>(d, in, d_out, weights, bias, lr, next, inner, cols, v, full_vectors);
  } else if (full_vectors * L < cols) {
    SgdPanel<1, true, kForward>(d, in, d_out, weights, bias, lr, next, inner, cols, full_vectors * L,
                                cols - full_vectors * L);
  }
}

// kNRWide: the single-row panel width of the GEMM (gemm_dense-inl.h), the same register budget.
template <size_t kNRWide, class T>
HWY_INLINE void SgdThenForwardSingleRow(const T* in, const T* d_out, T* weights, T* bias, T lr,
                                        const NextForward<T>& next, size_t inner, size_t cols) {
  const hn::ScalableTag<T> d;
  // The bias first: the forward accumulators start from the updated one.
  ForEachVector(d, cols, [&](size_t c, size_t width) {
    StoreWidth(d,
               hn::NegMulAdd(hn::Set(d, lr), LoadWidth(d, d_out + c, width), LoadWidth(d, bias + c, width)),
               bias + c, width);
  });
  const size_t full_vectors = cols / hn::Lanes(d);
  if (next.to) {
    SgdPanels<kNRWide, true>(d, in, d_out, weights, bias, lr, next, inner, cols, 0, full_vectors);
  } else {
    SgdPanels<kNRWide, false>(d, in, d_out, weights, bias, lr, next, inner, cols, 0, full_vectors);
  }
}

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
