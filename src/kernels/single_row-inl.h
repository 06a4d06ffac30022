// A dense layer's backward pass and plain SGD step at batch 1, where dW = x^T dy is a rank-1 update and every
// kernel is bound by moving W through the cache, not by arithmetic. So each pass over W does all it can:
//   BackwardInputSingleRow   d_in = (dy W^T) (.) act'(in); with SgdRowUpdate, each row of W is also updated
//                            (W -= (lr in_j) dy) once its dot product has read it: one pass, not two
//   SgdThenForwardSingleRow  W -= (lr x_k) dy, b -= lr dy; optionally, in the same pass, y' = act(x' W + b)
//                            for the next input x', every updated row feeding the forward accumulators while
//                            it is in registers
// The update takes one FMA per weight with the row's step lr x_k broadcast, where the GEMM form lr (x_k dy)
// takes two: at two FMA pipes and one 64-byte L2 line per cycle the second FMA made the update of W1
// compute-bound (AVX-512 harness, W1 784 x 256: 5.4 -> 4.5 us). Every path uses the same arithmetic, so
// fused and separate passes give the same bits. A row whose input is 0 is not rewritten, and one whose next
// input is 0 is not read for the forward pass (the single-row GEMM tile skips it the same way), so sparse
// inputs -- Fashion-MNIST's pixels, ReLU outputs -- move less of W.
//
// Included once per target from gemm_dense-inl.h.
#if defined(TYPENET_KERNELS_SINGLE_ROW_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_SINGLE_ROW_INL_H_
#undef TYPENET_KERNELS_SINGLE_ROW_INL_H_
#else
#define TYPENET_KERNELS_SINGLE_ROW_INL_H_
#endif

#include <cstddef>

#include <hwy/highway.h>

#include "kernels/simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

// The SGD step of one vector of a weight row: w - step * dy, with step = lr * (the row's input).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V SgdStep(V step, V dy, V w) {
  return hn::NegMulAdd(step, dy, w);
}

// b -= lr * dy (the column sums of a single row of dy are the row).
template <class T>
HWY_INLINE void SgdBiasSingleRow(const T* d_out, T* bias, T lr, size_t cols) {
  const hn::ScalableTag<T> d;
  ForEachVector(d, cols, [&](size_t c, size_t width) {
    StoreWidth(d,
               hn::NegMulAdd(hn::Set(d, lr), LoadWidth(d, d_out + c, width), LoadWidth(d, bias + c, width)),
               bias + c, width);
  });
}

// What BackwardInputSingleRow does with each vector of W it has read: nothing, or the SGD step.
template <class T>
struct NoRowUpdate {
  template <class D, class V>
  HWY_INLINE void operator()(D, size_t, size_t, V, V, size_t) const {}
};
template <class T>
struct SgdRowUpdate {
  T* weights;  // the W BackwardInputSingleRow reads
  const T* in;
  T learning_rate;
  size_t cols;
  template <class D, class V>
  HWY_INLINE void operator()(D d, size_t row, size_t c, V dy, V w, size_t width) const {
    if (in[row] == T(0)) return;  // the row stays as it is, as in SgdPanel
    StoreWidth(d, SgdStep<D>(hn::Set(d, learning_rate * in[row]), dy, w), weights + row * cols + c, width);
  }
};

// d_in[j] = dot(W row j, dY) (.) act'(in[j]) -- W rows are contiguous in the reduction index, so no
// transpose; 4 rows of W at a time give 4 independent accumulator chains (one chain would wait on the FMA
// latency at every vector). `update` sees every vector of W after it was read.
template <class T, class RowUpdate>
HWY_INLINE void BackwardInputSingleRow(const T* d_out, const T* weights, const T* in, T* d_in, size_t inner,
                                       size_t cols, Activation act, const RowUpdate& update) {
  const hn::ScalableTag<T> d;
  using V = hn::VFromD<decltype(d)>;
  constexpr size_t kRows = 4;
  const hn::CappedTag<T, 1> d1;
  auto finish = [&](size_t j, V sum) {
    const T dot = HorizontalSum(d, sum);
    d_in[j] = hn::GetLane(hn::Mul(hn::Set(d1, dot), DerivativeFromOutput(d1, hn::Set(d1, in[j]), act)));
  };
  size_t j = 0;
  for (; j + kRows <= inner; j += kRows) {
    V sum[kRows];
    for (size_t r = 0; r < kRows; ++r) sum[r] = hn::Zero(d);
    ForEachVector(d, cols, [&](size_t c, size_t width) {
      const V dy = LoadWidth(d, d_out + c, width);
      for (size_t r = 0; r < kRows; ++r) {
        const V w = LoadWidth(d, weights + (j + r) * cols + c, width);
        sum[r] = hn::MulAdd(dy, w, sum[r]);
        update(d, j + r, c, dy, w, width);
      }
    });
    for (size_t r = 0; r < kRows; ++r) finish(j + r, sum[r]);
  }
  for (; j < inner; ++j) {
    V sum = hn::Zero(d);
    ForEachVector(d, cols, [&](size_t c, size_t width) {
      const V dy = LoadWidth(d, d_out + c, width);
      const V w = LoadWidth(d, weights + j * cols + c, width);
      sum = hn::MulAdd(dy, w, sum);
      update(d, j, c, dy, w, width);
    });
    finish(j, sum);
  }
}

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
  const T* HWY_RESTRICT dy = d_out + c0;
  // A zero input leaves its row as it is (W - (lr 0) dy = W) and a zero next input adds nothing to the
  // forward sums, so such rows are skipped: half of Fashion-MNIST's pixels are 0, as are ReLU outputs that
  // are not positive. With dense inputs the branches are never taken.
  // Rows narrower than 64 bytes (the 10-wide layer: 40) are updated in `stride` interleaved passes, so that
  // no load follows the masked store of the row just before it: Zen 5 made each such load wait for the store
  // (a 128 x 10 update took 0.80 us, 128 x 16 0.08). The forward pass sums over k in order, so there it
  // takes a pass of its own over these few KB (784 x 10 at batch 1: 5.1 us fused, 1.5 in two passes).
  const size_t row_bytes = cols * sizeof(T);
  const size_t stride = !kMaskedLast || row_bytes >= 64 ? 1 : (64 + row_bytes - 1) / row_bytes;
  const bool fused = kForward && stride == 1;
  if (!fused) {  // the update alone, dy held in registers
    V dy_held[NR];
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) dy_held[j] = LoadWidth(d, dy + j * L, width(j));
    for (size_t first = 0; first < stride; ++first) {
      for (size_t k = first; k < inner; k += stride) {
        if (in[k] == T(0)) continue;
        T* HWY_RESTRICT row = weights + k * cols + c0;
        const V step = hn::Set(d, lr * in[k]);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j)
          StoreWidth(d, SgdStep<D>(step, dy_held[j], LoadWidth(d, row + j * L, width(j))), row + j * L,
                     width(j));
      }
    }
  }
  if constexpr (kForward) {
    // With the accumulators in the registers, dy is reloaded from L1 for every row the pass updates.
    V acc[NR];
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) acc[j] = LoadWidth(d, bias + c0 + j * L, width(j));
    const T* HWY_RESTRICT next_in = next.in;
    for (size_t k = 0; k < inner; ++k) {
      T* HWY_RESTRICT row = weights + k * cols + c0;
      const T x_next = next_in[k];
      if (fused && in[k] != T(0)) {
        const V step = hn::Set(d, lr * in[k]);
        if (x_next != T(0)) {
          const V xv = hn::Set(d, x_next);
          HWY_UNROLL(16)
          for (size_t j = 0; j < NR; ++j) {
            const V w =
                SgdStep<D>(step, LoadWidth(d, dy + j * L, width(j)), LoadWidth(d, row + j * L, width(j)));
            StoreWidth(d, w, row + j * L, width(j));
            acc[j] = hn::MulAdd(xv, w, acc[j]);
          }
        } else {
          HWY_UNROLL(16)
          for (size_t j = 0; j < NR; ++j)
            StoreWidth(
                d, SgdStep<D>(step, LoadWidth(d, dy + j * L, width(j)), LoadWidth(d, row + j * L, width(j))),
                row + j * L, width(j));
        }
      } else if (x_next != T(0)) {  // the row is as updated (or as it was): the forward half only
        const V xv = hn::Set(d, x_next);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j) acc[j] = hn::MulAdd(xv, LoadWidth(d, row + j * L, width(j)), acc[j]);
      }
    }
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
  SgdBiasSingleRow(d_out, bias, lr, cols);  // first: the forward accumulators start from the updated bias
  const size_t full_vectors = cols / hn::Lanes(d);
  if (next.to) {
    SgdPanels<kNRWide, true>(d, in, d_out, weights, bias, lr, next, inner, cols, 0, full_vectors);
  } else {
    SgdPanels<kNRWide, false>(d, in, d_out, weights, bias, lr, next, inner, cols, 0, full_vectors);
  }
}

// BackwardInputSingleRow and the SGD step of the same layer in one pass over W (each row's dot product
// reads the row before its update).
template <class T>
HWY_INLINE void BackwardInputThenSgdSingleRow(const T* d_out, T* weights, T* bias, const T* in, T* d_in, T lr,
                                              size_t inner, size_t cols, Activation act) {
  const hn::ScalableTag<T> d;
  if (cols < hn::Lanes(d)) {
    // One masked vector per row: updating a row right after reading the one before it would make the next
    // row's load wait for that store (see SgdPanel); two passes over these few KB cost less.
    BackwardInputSingleRow(d_out, weights, in, d_in, inner, cols, act, NoRowUpdate<T>{});
    return SgdThenForwardSingleRow<1>(in, d_out, weights, bias, lr, NextForward<T>{}, inner, cols);
  }
  SgdBiasSingleRow(d_out, bias, lr, cols);
  BackwardInputSingleRow(d_out, weights, in, d_in, inner, cols, act, SgdRowUpdate<T>{weights, in, lr, cols});
}

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
