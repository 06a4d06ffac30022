// Elementwise kernels and the row-wise losses: activations, softmax, softmax cross-entropy, MSE, sum of
// squares. Exp only ever sees non-positive arguments (sigmoid through e^-|z|, softmax through z - max), so
// Highway's Exp (valid for float up to about +104) is exact to float precision over the whole range.
// Included once per target by elementwise_f32.cc / elementwise_f64.cc (one scalar type per translation unit).
#if defined(TYPENET_KERNELS_ELEMENTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_ELEMENTWISE_INL_H_
#undef TYPENET_KERNELS_ELEMENTWISE_INL_H_
#else
#define TYPENET_KERNELS_ELEMENTWISE_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "kernels/dispatch_probe.hpp"
#include "kernels/simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

template <class T>
HWY_INLINE void ActivationForward(const T* in, T* out, size_t count, Activation act) {
  const hn::ScalableTag<T> d;
  // The switch is outside the loop so each loop body is a single activation.
  switch (act) {
    case Activation::sigmoid:
      return ForEachVector(d, count, [&](size_t i, size_t w) {
        StoreWidth(d, Sigmoid(d, LoadWidth(d, in + i, w)), out + i, w);
      });
    case Activation::relu:
      return ForEachVector(d, count, [&](size_t i, size_t w) {
        StoreWidth(d, Activate(d, LoadWidth(d, in + i, w), Activation::relu), out + i, w);
      });
    case Activation::tanh:
      return ForEachVector(d, count, [&](size_t i, size_t w) {
        StoreWidth(d, Activate(d, LoadWidth(d, in + i, w), Activation::tanh), out + i, w);
      });
    case Activation::leaky_relu:
      return ForEachVector(d, count, [&](size_t i, size_t w) {
        StoreWidth(d, Activate(d, LoadWidth(d, in + i, w), Activation::leaky_relu), out + i, w);
      });
    case Activation::identity:
      break;
  }
  ForEachVector(d, count, [&](size_t i, size_t w) { StoreWidth(d, LoadWidth(d, in + i, w), out + i, w); });
}

template <class T>
HWY_INLINE void ActivationBackward(const T* out, const T* d_out, T* d_in, size_t count, Activation act) {
  const hn::ScalableTag<T> d;
  // One loop per activation, as in ActivationForward: a switch per vector kept this streaming loop at half
  // the speed of Eigen's.
  auto run = [&](auto act_constant) {
    ForEachVector(d, count, [&](size_t i, size_t w) {
      const auto derivative =
          DerivativeFromOutput(d, LoadWidth(d, out + i, w), decltype(act_constant)::value);
      StoreWidth(d, hn::Mul(LoadWidth(d, d_out + i, w), derivative), d_in + i, w);
    });
  };
  switch (act) {
    case Activation::sigmoid:
      return run(std::integral_constant<Activation, Activation::sigmoid>());
    case Activation::relu:
      return run(std::integral_constant<Activation, Activation::relu>());
    case Activation::tanh:
      return run(std::integral_constant<Activation, Activation::tanh>());
    case Activation::leaky_relu:
      return run(std::integral_constant<Activation, Activation::leaky_relu>());
    case Activation::identity:
      break;
  }
  run(std::integral_constant<Activation, Activation::identity>());
}

// Softmax of one row with its maximum subtracted. Writes probs and returns log(sum(exp(z - max))) and max,
// from which the cross-entropy of any target is log_sum - (z[c] - max): finite even where probs underflow.
template <class T>
struct RowLogSum {
  T max;
  T log_sum;
};

template <class D, class T = hn::TFromD<D>>
HWY_INLINE RowLogSum<T> SoftmaxRow(D d, const T* z, T* p, size_t cols) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  const V lowest = hn::Set(d, -std::numeric_limits<T>::infinity());
  if (cols <= L) {  // the 10-wide output layer: one vector, all in registers
    const auto valid = hn::FirstN(d, cols);
    const V logits = hn::IfThenElse(valid, LoadWidth(d, z, cols), lowest);
    const V max = hn::MaxOfLanes(d, logits);
    const V e = hn::IfThenElseZero(valid, ExpNonPositive(d, hn::Sub(logits, max)));
    const V sum = hn::SumOfLanes(d, e);
    StoreWidth(d, hn::Div(e, sum), p, cols);
    return {hn::GetLane(max), std::log(hn::GetLane(sum))};
  }
  V max = lowest;
  ForEachVector(d, cols, [&](size_t c, size_t w) {
    max = hn::Max(max, hn::IfThenElse(hn::FirstN(d, w), LoadWidth(d, z + c, w), lowest));
  });
  max = hn::MaxOfLanes(d, max);
  V sum = hn::Zero(d);
  ForEachVector(d, cols, [&](size_t c, size_t w) {
    const V e = hn::IfThenElseZero(hn::FirstN(d, w), ExpNonPositive(d, hn::Sub(LoadWidth(d, z + c, w), max)));
    sum = hn::Add(sum, e);
    StoreWidth(d, e, p + c, w);
  });
  sum = hn::SumOfLanes(d, sum);
  ForEachVector(d, cols,
                [&](size_t c, size_t w) { StoreWidth(d, hn::Div(LoadWidth(d, p + c, w), sum), p + c, w); });
  return {hn::GetLane(max), std::log(hn::GetLane(sum))};
}

template <class T>
HWY_INLINE void Softmax(const T* logits, T* probs, size_t rows, size_t cols) {
  const hn::ScalableTag<T> d;
  for (size_t r = 0; r < rows; ++r) SoftmaxRow(d, logits + r * cols, probs + r * cols, cols);
}

// d_logits = (probs - target) / rows for one row; target(c, width) gives the target vector at c.
template <class D, class Target, class T = hn::TFromD<D>>
HWY_INLINE void GradientRow(D d, const T* p, const Target& target, T* d_logits, size_t cols, T rows) {
  const auto divisor = hn::Set(d, rows);
  ForEachVector(d, cols, [&](size_t c, size_t w) {
    StoreWidth(d, hn::Div(hn::Sub(LoadWidth(d, p + c, w), target(c, w)), divisor), d_logits + c, w);
  });
}

// Softmax cross-entropy with labels, for narrow rows (the 10-class output layer): a block of one row per
// lane at a time. Row by row, each row is a chain of latencies that barely overlap (a horizontal max, exp,
// a horizontal sum, a division, a log); here the rows of a block are independent lanes, the columns are
// gathered one vector each, and max, exp, sum, the loss (with a vector log) and the gradient are all
// vertical. The results go back to row-major through a small transposing buffer. Returns the summed loss of
// the first rows_done rows (whole blocks); inv_rows scales the gradient. kCols != 0 fixes the width at
// compile time, which unrolls the column loops (twice as fast as a runtime width, measured at 128 x 10).
constexpr size_t kBlockedMaxCols = 16;

// to (lanes rows x cols, row-major) = the transpose of from (cols rows x lanes): the blocked softmax's
// results back in row order. Whole 8 x 8 blocks go through registers (the element-by-element copy was 40% of
// the 128 x 10 softmax-CE gradient); the columns left over one by one.
template <class T>
HWY_INLINE void ColumnsToRows(const T* HWY_RESTRICT from, size_t lanes, size_t cols, T* HWY_RESTRICT to) {
  size_t c0 = 0;
#if HWY_TARGET <= HWY_AVX2
  if constexpr (sizeof(T) == 4) {
    if (lanes % 8 == 0) {
      for (; c0 + 8 <= cols; c0 += 8)
        for (size_t l0 = 0; l0 < lanes; l0 += 8)
          Transpose8x8(from + c0 * lanes + l0, lanes, to + l0 * cols + c0, cols);
    }
  }
#endif
  for (size_t l = 0; l < lanes; ++l)
    for (size_t c = c0; c < cols; ++c) to[l * cols + c] = from[c * lanes + l];
}

template <size_t kCols, class D, class T = hn::TFromD<D>>
HWY_INLINE T SoftmaxCrossEntropyLabelsBlocked(D d, const T* logits, const std::uint32_t* labels, T* probs,
                                              T* d_logits, size_t rows, size_t cols_runtime, T inv_rows,
                                              size_t& rows_done) {
  const size_t cols = kCols ? kCols : cols_runtime;
  using V = hn::VFromD<D>;
  const hn::RebindToSigned<D> di;
  using Index = hn::TFromD<decltype(di)>;
  constexpr size_t kMaxLanes = hn::MaxLanes(D());
  const size_t L = hn::Lanes(d);
  HWY_ALIGN Index offsets[kMaxLanes];
  for (size_t l = 0; l < L; ++l) offsets[l] = static_cast<Index>(l * cols);
  const auto row_offsets = hn::Load(di, offsets);
  const V one = hn::Set(d, T(1));
  const V scale = hn::Set(d, inv_rows);
  V loss = hn::Zero(d);
  HWY_ALIGN T label_lanes[kMaxLanes];
  HWY_ALIGN T p_columns[kBlockedMaxCols * kMaxLanes];
  HWY_ALIGN T g_columns[kBlockedMaxCols * kMaxLanes];
  size_t r0 = 0;
  for (; r0 + L <= rows; r0 += L) {
    V e[kBlockedMaxCols];
    V max = hn::Set(d, -std::numeric_limits<T>::infinity());
    for (size_t c = 0; c < cols; ++c) {
      e[c] = hn::GatherIndex(d, logits + r0 * cols + c, row_offsets);
      max = hn::Max(max, e[c]);
    }
    for (size_t l = 0; l < L; ++l) label_lanes[l] = T(labels[r0 + l]);
    const V label = hn::Load(d, label_lanes);
    V sum = hn::Zero(d);
    V z_label = hn::Zero(d);
    for (size_t c = 0; c < cols; ++c) {
      z_label = hn::IfThenElse(hn::Eq(label, hn::Set(d, T(c))), e[c], z_label);
      e[c] = ExpNonPositive(d, hn::Sub(e[c], max));
      sum = hn::Add(sum, e[c]);
    }
    loss = hn::Add(loss, hn::Sub(hn::Log(d, sum), hn::Sub(z_label, max)));
    const V inv_sum = hn::Div(one, sum);
    for (size_t c = 0; c < cols; ++c) {
      const V p = hn::Mul(e[c], inv_sum);
      hn::Store(p, d, p_columns + c * L);
      const V target = hn::IfThenElseZero(hn::Eq(label, hn::Set(d, T(c))), one);
      hn::Store(hn::Mul(hn::Sub(p, target), scale), d, g_columns + c * L);
    }
    // After all of the block's logits were read: probs may alias them.
    ColumnsToRows(p_columns, L, cols, probs + r0 * cols);
    if (d_logits) ColumnsToRows(g_columns, L, cols, d_logits + r0 * cols);
  }
  rows_done = r0;
  return HorizontalSum(d, loss);
}

// Rows of at most two vectors (the 10-class output layer on AVX2 and AVX-512) that do not fill a block: the
// row stays in registers from its load to its probabilities and gradient, instead of the five passes over
// memory of SoftmaxRow and GradientRow; one division per row (1 / sum) and a multiplication by inv_rows
// replace the per-vector ones. Returns the summed loss.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE T SoftmaxCrossEntropyLabelsSmall(D d, const T* logits, const std::uint32_t* labels, T* probs,
                                            T* d_logits, size_t rows, size_t cols, T inv_rows_scalar) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  const size_t w0 = std::min(cols, L), w1 = cols - w0;  // valid lanes of the two vectors
  const auto valid0 = hn::FirstN(d, w0);
  const auto valid1 = hn::FirstN(d, w1);
  const V lowest = hn::Set(d, -std::numeric_limits<T>::infinity());
  const V one = hn::Set(d, T(1));
  const V inv_rows = hn::Set(d, inv_rows_scalar);
  const V iota0 = hn::Iota(d, T(0));
  const V iota1 = hn::Iota(d, T(L));
  T loss = 0;
  for (size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    const size_t label = labels[r];
    const T z_label = z[label];  // read before the row's probs are written (they may alias the logits)
    const V z0 = hn::IfThenElse(valid0, LoadWidth(d, z, w0), lowest);
    const V z1 = w1 != 0 ? hn::IfThenElse(valid1, LoadWidth(d, z + L, w1), lowest) : lowest;
    const V max = hn::MaxOfLanes(d, hn::Max(z0, z1));
    const V e0 = hn::IfThenElseZero(valid0, ExpNonPositive(d, hn::Sub(z0, max)));
    const V e1 = hn::IfThenElseZero(valid1, ExpNonPositive(d, hn::Sub(z1, max)));
    const V sum = hn::SumOfLanes(d, hn::Add(e0, e1));
    const V inv_sum = hn::Div(one, sum);
    const V p0 = hn::Mul(e0, inv_sum), p1 = hn::Mul(e1, inv_sum);
    T* p = probs + r * cols;
    StoreWidth(d, p0, p, w0);
    if (w1 != 0) StoreWidth(d, p1, p + L, w1);
    loss += std::log(hn::GetLane(sum)) - (z_label - hn::GetLane(max));
    if (d_logits) {
      const V target = hn::Set(d, T(label));
      T* g = d_logits + r * cols;
      StoreWidth(d, hn::Mul(hn::Sub(p0, hn::IfThenElseZero(hn::Eq(iota0, target), one)), inv_rows), g, w0);
      if (w1 != 0)
        StoreWidth(d, hn::Mul(hn::Sub(p1, hn::IfThenElseZero(hn::Eq(iota1, target), one)), inv_rows), g + L,
                   w1);
    }
  }
  return loss;
}

// Any width, a row at a time; total_rows scales the gradient. Returns the summed loss.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE T SoftmaxCrossEntropyLabelsRows(D d, const T* logits, const std::uint32_t* labels, T* probs,
                                           T* d_logits, size_t rows, size_t cols, T total_rows) {
  T loss = 0;
  for (size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    const size_t label = labels[r];
    const T z_label = z[label];  // read before the row's probs are written (they may alias the logits)
    const RowLogSum<T> s = SoftmaxRow(d, z, probs + r * cols, cols);
    loss += s.log_sum - (z_label - s.max);
    if (d_logits) {
      const auto one_hot = [&](size_t c, size_t) {
        return hn::IfThenElseZero(hn::Eq(hn::Iota(d, T(c)), hn::Set(d, T(label))), hn::Set(d, T(1)));
      };
      GradientRow(d, probs + r * cols, one_hot, d_logits + r * cols, cols, total_rows);
    }
  }
  return loss;
}

template <class T>
HWY_INLINE T SoftmaxCrossEntropyLabels(const T* logits, const std::uint32_t* labels, T* probs, T* d_logits,
                                       size_t rows, size_t cols) {
  const hn::ScalableTag<T> d;
  if (cols <= kBlockedMaxCols) {
    size_t done = 0;
    const T inv_rows = T(1) / T(rows);
    // 10 classes (the MNIST family) get the unrolled block.
    T loss = cols == 10 ? SoftmaxCrossEntropyLabelsBlocked<10>(d, logits, labels, probs, d_logits, rows, cols,
                                                               inv_rows, done)
                        : SoftmaxCrossEntropyLabelsBlocked<0>(d, logits, labels, probs, d_logits, rows, cols,
                                                              inv_rows, done);
    if (done != rows) {
      const size_t offset = done * cols;
      if (cols <= 2 * hn::Lanes(d)) {
        loss += SoftmaxCrossEntropyLabelsSmall(d, logits + offset, labels + done, probs + offset,
                                               d_logits ? d_logits + offset : nullptr, rows - done, cols,
                                               inv_rows);
      } else {
        loss +=
            SoftmaxCrossEntropyLabelsRows(d, logits + offset, labels + done, probs + offset,
                                          d_logits ? d_logits + offset : nullptr, rows - done, cols, T(rows));
      }
    }
    return loss / T(rows);
  }
  return SoftmaxCrossEntropyLabelsRows(d, logits, labels, probs, d_logits, rows, cols, T(rows)) / T(rows);
}

template <class T>
HWY_INLINE T SoftmaxCrossEntropyTargets(const T* logits, const T* targets, T* probs, T* d_logits, size_t rows,
                                        size_t cols) {
  const hn::ScalableTag<T> d;
  T loss = 0;
  for (size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    const T* t = targets + r * cols;
    const RowLogSum<T> s = SoftmaxRow(d, z, probs + r * cols, cols);
    // sum over target != 0 of t * (log_sum - (z - max)); zero targets are skipped as in the reference, so a
    // -inf logit with target 0 contributes nothing.
    auto row_loss = hn::Zero(d);
    const auto log_sum = hn::Set(d, s.log_sum);
    const auto max = hn::Set(d, s.max);
    ForEachVector(d, cols, [&](size_t c, size_t w) {
      const auto target = LoadWidth(d, t + c, w);
      const auto term = hn::Mul(target, hn::Sub(log_sum, hn::Sub(LoadWidth(d, z + c, w), max)));
      row_loss = hn::Add(row_loss, hn::IfThenElseZero(hn::Ne(target, hn::Zero(d)), term));
    });
    loss += HorizontalSum(d, row_loss);
    if (d_logits) {
      GradientRow(
          d, probs + r * cols, [&](size_t c, size_t w) { return LoadWidth(d, t + c, w); },
          d_logits + r * cols, cols, T(rows));
    }
  }
  return loss / T(rows);
}

template <class T>
HWY_INLINE T MeanSquaredError(const T* y, const T* targets, T* d_y, size_t rows, size_t cols) {
  const hn::ScalableTag<T> d;
  const auto divisor = hn::Set(d, T(rows));
  auto sum = hn::Zero(d);
  ForEachVector(d, rows * cols, [&](size_t i, size_t w) {
    const auto diff = hn::Sub(LoadWidth(d, y + i, w), LoadWidth(d, targets + i, w));
    sum = hn::MulAdd(diff, diff, sum);
    if (d_y) StoreWidth(d, hn::Div(diff, divisor), d_y + i, w);
  });
  return T(0.5) * HorizontalSum(d, sum) / T(rows);
}

template <class T>
HWY_INLINE T SumOfSquares(const T* x, size_t count) {
  const hn::ScalableTag<T> d;
  // Two accumulators halve the FMA latency chain.
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + 2 * L <= count; i += 2 * L) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + L);
    sum0 = hn::MulAdd(a, a, sum0);
    sum1 = hn::MulAdd(b, b, sum1);
  }
  ForEachVector(d, count - i, [&](size_t j, size_t w) {
    const auto a = LoadWidth(d, x + i + j, w);
    sum0 = hn::MulAdd(a, a, sum0);
  });
  return HorizontalSum(d, hn::Add(sum0, sum1));
}

// The index of the first NaN or Inf in x, or count: the opt-in finite check of every output, gradient and
// parameter of a step (a scalar std::isfinite loop took 100 us over the 784-256-128-10 net's parameters).
// Four vectors per test of the combined mask; the exact index is looked up only once one is found.
template <class T>
HWY_INLINE size_t FindNonFinite(const T* x, size_t count) {
  const hn::ScalableTag<T> d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * L <= count; i += 4 * L) {
    const auto finite = hn::And(
        hn::And(hn::IsFinite(hn::LoadU(d, x + i)), hn::IsFinite(hn::LoadU(d, x + i + L))),
        hn::And(hn::IsFinite(hn::LoadU(d, x + i + 2 * L)), hn::IsFinite(hn::LoadU(d, x + i + 3 * L))));
    if (!hn::AllTrue(d, finite)) break;
  }
  for (; i < count; i += L) {
    const size_t width = std::min(L, count - i);
    // Lanes past the end load as zero, which is finite.
    const auto not_finite = hn::Not(hn::IsFinite(LoadWidth(d, x + i, width)));
    if (!hn::AllFalse(d, not_finite)) return i + size_t(hn::FindFirstTrue(d, not_finite));
  }
  return count;
}

#define TYPENET_ELEMENTWISE_ENTRY_POINTS(T, SUFFIX)                                                        \
  void ActivationForward##SUFFIX(const T* in, T* out, size_t count, Activation act) {                      \
    detail::note_target(HWY_TARGET);                                                                       \
    ActivationForward(in, out, count, act);                                                                \
  }                                                                                                        \
  void ActivationBackward##SUFFIX(const T* out, const T* d_out, T* d_in, size_t count, Activation act) {   \
    detail::note_target(HWY_TARGET);                                                                       \
    ActivationBackward(out, d_out, d_in, count, act);                                                      \
  }                                                                                                        \
  void Softmax##SUFFIX(const T* logits, T* probs, size_t rows, size_t cols) {                              \
    detail::note_target(HWY_TARGET);                                                                       \
    Softmax(logits, probs, rows, cols);                                                                    \
  }                                                                                                        \
  T SoftmaxCrossEntropyLabels##SUFFIX(const T* logits, const std::uint32_t* labels, T* probs, T* d_logits, \
                                      size_t rows, size_t cols) {                                          \
    detail::note_target(HWY_TARGET);                                                                       \
    return SoftmaxCrossEntropyLabels(logits, labels, probs, d_logits, rows, cols);                         \
  }                                                                                                        \
  T SoftmaxCrossEntropyTargets##SUFFIX(const T* logits, const T* targets, T* probs, T* d_logits,           \
                                       size_t rows, size_t cols) {                                         \
    detail::note_target(HWY_TARGET);                                                                       \
    return SoftmaxCrossEntropyTargets(logits, targets, probs, d_logits, rows, cols);                       \
  }                                                                                                        \
  T MeanSquaredError##SUFFIX(const T* y, const T* targets, T* d_y, size_t rows, size_t cols) {             \
    detail::note_target(HWY_TARGET);                                                                       \
    return MeanSquaredError(y, targets, d_y, rows, cols);                                                  \
  }                                                                                                        \
  T SumOfSquares##SUFFIX(const T* x, size_t count) {                                                       \
    detail::note_target(HWY_TARGET);                                                                       \
    return SumOfSquares(x, count);                                                                         \
  }                                                                                                        \
  size_t FindNonFinite##SUFFIX(const T* x, size_t count) {                                                 \
    detail::note_target(HWY_TARGET);                                                                       \
    return FindNonFinite(x, count);                                                                        \
  }

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
