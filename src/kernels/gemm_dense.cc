// The three GEMM forms of a dense layer, with their epilogues fused into the register tiles:
//   forward          Y  = act(X W + b)                  (M = rows,  N = cols,  K = inner)
//   backward_input   dX = (dY W^T) (.) act'(X)          (M = rows,  N = inner, K = cols)
//   backward_params  dW = X^T dY, db = colsum(dY)       (M = inner, N = cols,  K = rows), optionally fused
//   SGD
// All three run on one broadcast-form (outer-product) micro-kernel, as in Eigen's GEBP: C rows in registers
// as MR x NR vector accumulators; per k step NR vectors of B are loaded and each of the MR A elements is
// broadcast once. Highway runtime dispatch happens once per kernel call.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
// Found through the public include directory (include/../src/kernels), which every typenet TU has.
#define HWY_TARGET_INCLUDE "../src/kernels/gemm_dense.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/aligned_allocator.h>
#include <hwy/highway.h>

#include "dispatch_probe.hpp"
#include "simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

// Architectural vector registers of the target: AVX-512 has 32, SSE4/AVX2 16.
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kRegisters = 32;
#else
constexpr size_t kRegisters = 16;
#endif

// Register block for wide C (two or more vectors per row).
// 32 registers: 6 x 4 = 24 accumulators + 4 B vectors + 1 broadcast = 29 live. 4 vectors are 64 floats, which
// divide the 256- and 128-wide layers exactly; per k step 24 FMAs against 4 vector loads and 6 broadcasts,
// so the (single 512-bit) FMA port of Zen 4 is the bound, not the two load ports.
// 16 registers: 6 x 2 = 12 accumulators + 2 B + 1 broadcast = 15 (Eigen's AVX2 GEBP block has 12 too); two
// 8-float vectors divide 256, 128 and 784 exactly, where a 3-vector panel would leave a thin last panel.
constexpr size_t kMR = kRegisters == 32 ? 6 : 6;
constexpr size_t kNR = kRegisters == 32 ? 4 : 2;
// C one vector wide (the 10-wide output layer): one B vector per k, so taller tiles; 12 (8) independent
// accumulators cover the FMA latency (4 cycles) x throughput (2 per cycle for 256-bit) product.
constexpr size_t kMRNarrow = kRegisters == 32 ? 12 : 8;
// A single row of C (batch 1, a matrix-vector product bound by streaming B): 8 vectors of one B row per k
// step give 8 independent accumulator chains and a sequential 512-byte (float, AVX-512) run of B per row.
constexpr size_t kNRWide = 8;

// Where A's element (i, k) lives: row-major A (X in the forward pass, dY in backward_input) or A^T stored
// row-major (X^T in the weight gradient, whose A rows are X's columns).
enum class ALayout { kRowMajor, kTransposed };

template <class T>
struct GemmOperands {
  const T* a;
  size_t a_stride;  // row stride of the stored matrix (inner for X, cols for dY)
  const T* b;       // B row-major, K x N
  size_t ldb;
  size_t m, n, k;
};

// One MR x NR-vector tile of C at (i0, c0). kPartial: the last vector holds only `tail` valid columns.
template <size_t MR, size_t NR, bool kPartial, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_NOINLINE void Tile(D d, const GemmOperands<T>& g, size_t i0, size_t c0, size_t tail,
                       const Epilogue& epi) {
  using V = hn::VFromD<D>;
  const size_t L = hn::Lanes(d);
  auto width = [&](size_t j) {
    return (kPartial && j == NR - 1) ? tail : L;
  };

  // Trip counts are template constants; 16 covers every MR and NR used here, so all loops fully unroll.
  V acc[MR][NR];
  HWY_UNROLL(16)
  for (size_t j = 0; j < NR; ++j) {
    const V init = epi.Init(d, c0 + j * L, width(j));
    HWY_UNROLL(16)
    for (size_t i = 0; i < MR; ++i) acc[i][j] = init;
  }

  const T* HWY_RESTRICT b_row = g.b + c0;
  if constexpr (kLayout == ALayout::kRowMajor) {
    const T* HWY_RESTRICT a_rows[MR];
    for (size_t i = 0; i < MR; ++i) a_rows[i] = g.a + (i0 + i) * g.a_stride;
    for (size_t k = 0; k < g.k; ++k, b_row += g.ldb) {
      V b[NR];
      HWY_UNROLL(16)
      for (size_t j = 0; j < NR; ++j)
        b[j] = (kPartial && j == NR - 1) ? LoadPartial(d, b_row + j * L, tail) : hn::LoadU(d, b_row + j * L);
      HWY_UNROLL(16)
      for (size_t i = 0; i < MR; ++i) {
        const V a = hn::Set(d, a_rows[i][k]);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(a, b[j], acc[i][j]);
      }
    }
  } else {
    const T* HWY_RESTRICT a_col = g.a + i0;
    for (size_t k = 0; k < g.k; ++k, b_row += g.ldb, a_col += g.a_stride) {
      V b[NR];
      HWY_UNROLL(16)
      for (size_t j = 0; j < NR; ++j)
        b[j] = (kPartial && j == NR - 1) ? LoadPartial(d, b_row + j * L, tail) : hn::LoadU(d, b_row + j * L);
      HWY_UNROLL(16)
      for (size_t i = 0; i < MR; ++i) {
        const V a = hn::Set(d, a_col[i]);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(a, b[j], acc[i][j]);
      }
    }
  }

  HWY_UNROLL(16)
  for (size_t i = 0; i < MR; ++i) {
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) epi.Store(d, i0 + i, c0 + j * L, acc[i][j], width(j));
  }
}

// Runs the tile with mr (<= MR) rows: instantiates one tile per row count so every tile is fully unrolled.
template <size_t MR, size_t NR, bool kPartial, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_INLINE void TileRows(D d, size_t mr, const GemmOperands<T>& g, size_t i0, size_t c0, size_t tail,
                         const Epilogue& epi) {
  if constexpr (MR > 1) {
    if (mr < MR) return TileRows<MR - 1, NR, kPartial, kLayout>(d, mr, g, i0, c0, tail, epi);
  }
  Tile<MR, NR, kPartial, kLayout>(d, g, i0, c0, tail, epi);
}

// One column panel (NR vectors from c0) over all M rows, in row tiles of MR; the panel of B (K x NR vectors)
// is reused by every row tile, so it stays in L2 (784 x 64 floats = 200 KB at most) while A streams.
template <size_t MR, size_t NR, bool kPartial, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_INLINE void Panel(D d, const GemmOperands<T>& g, size_t c0, size_t tail, const Epilogue& epi,
                      size_t i_begin, size_t i_end) {
  size_t i0 = i_begin;
  for (; i0 + MR <= i_end; i0 += MR) Tile<MR, NR, kPartial, kLayout>(d, g, i0, c0, tail, epi);
  if constexpr (MR > 1) {
    if (i0 < i_end) TileRows<MR - 1, NR, kPartial, kLayout>(d, i_end - i0, g, i0, c0, tail, epi);
  }
}

// Runs a panel nv (<= NR) vectors wide.
template <size_t MR, size_t NR, ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void PanelColumns(D d, size_t nv, const GemmOperands<T>& g, size_t c0, size_t tail,
                             const Epilogue& epi, size_t i_begin, size_t i_end) {
  if constexpr (NR > 1) {
    if (nv < NR) return PanelColumns<MR, NR - 1, kLayout>(d, nv, g, c0, tail, epi, i_begin, i_end);
  }
  if (tail != 0) {
    Panel<MR, NR, true, kLayout>(d, g, c0, tail, epi, i_begin, i_end);
  } else {
    Panel<MR, NR, false, kLayout>(d, g, c0, tail, epi, i_begin, i_end);
  }
}

// B small enough to stay in L2 next to the streamed A and C (half of Zen 4's 1 MiB): then row blocks go
// outermost, so C (the weights, for the gradient forms) is written once, sequentially, row block by row
// block.
constexpr size_t kBResidentBytes = 256 * 1024;
// Rows per block in that order: 8 register tiles, so A's block (48 x K) stays in L1/L2 across all panels.
constexpr size_t kRowBlockTiles = 8;

// C[M x N] = epilogue(A B): picks the register block from the shape.
template <ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void Gemm(D d, const GemmOperands<T>& g, const Epilogue& epi) {
  const size_t L = hn::Lanes(d);
  const size_t vectors = (g.n + L - 1) / L;
  const size_t tail = g.n % L;  // valid columns of the last vector, 0 if it is full
  if (g.m == 0 || vectors == 0) return;
  if (vectors == 1) return PanelColumns<kMRNarrow, 1, kLayout>(d, 1, g, 0, tail, epi, 0, g.m);
  const bool single_row = g.m == 1;
  const size_t nr = single_row ? kNRWide : kNR;
  auto panels = [&](size_t i_begin, size_t i_end) {
    for (size_t v0 = 0; v0 < vectors; v0 += nr) {
      const size_t nv = std::min(nr, vectors - v0);
      const size_t panel_tail = v0 + nv == vectors ? tail : 0;
      if (single_row) {
        PanelColumns<1, kNRWide, kLayout>(d, nv, g, v0 * L, panel_tail, epi, i_begin, i_end);
      } else {
        PanelColumns<kMR, kNR, kLayout>(d, nv, g, v0 * L, panel_tail, epi, i_begin, i_end);
      }
    }
  };
  if (g.k * g.n * sizeof(T) > kBResidentBytes) return panels(0, g.m);  // B panel-wise in L2, A streams
  for (size_t i0 = 0; i0 < g.m; i0 += kRowBlockTiles * kMR)
    panels(i0, std::min(g.m, i0 + kRowBlockTiles * kMR));
}

template <class D, class V = hn::VFromD<D>, class T = hn::TFromD<D>>
HWY_INLINE V LoadWidth(D d, const T* p, size_t width) {
  return width == hn::Lanes(d) ? hn::LoadU(d, p) : LoadPartial(d, p, width);
}
template <class D, class V = hn::VFromD<D>, class T = hn::TFromD<D>>
HWY_INLINE void StoreWidth(D d, V v, T* p, size_t width) {
  if (width == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else {
    StorePartial(d, v, p, width);
  }
}

// ------------------------------------------------------------------------------------------------ epilogues

template <class T>
struct ForwardEpilogue {  // out = act(acc), acc starting from the bias
  const T* bias;
  T* out;
  size_t ld;
  Activation act;
  template <class D>
  HWY_INLINE hn::VFromD<D> Init(D d, size_t c, size_t width) const {
    return LoadWidth(d, bias + c, width);
  }
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    StoreWidth(d, Activate(d, acc, act), out + i * ld + c, width);
  }
};

template <class T>
struct BackwardInputEpilogue {  // d_in = acc (.) act'(in)
  const T* in;
  T* d_in;
  size_t ld;
  Activation act;
  template <class D>
  HWY_INLINE hn::VFromD<D> Init(D d, size_t, size_t) const {
    return hn::Zero(d);
  }
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    const size_t at = i * ld + c;
    if (act != Activation::identity)
      acc = hn::Mul(acc, DerivativeFromOutput(d, LoadWidth(d, in + at, width), act));
    StoreWidth(d, acc, d_in + at, width);
  }
};

template <class T>
struct GradientEpilogue {  // d_weights = acc
  T* d_weights;
  size_t ld;
  template <class D>
  HWY_INLINE hn::VFromD<D> Init(D d, size_t, size_t) const {
    return hn::Zero(d);
  }
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    StoreWidth(d, acc, d_weights + i * ld + c, width);
  }
};

template <class T>
struct SgdEpilogue {  // weights -= lr * acc: the gradient never goes to memory
  T* weights;
  size_t ld;
  T learning_rate;
  template <class D>
  HWY_INLINE hn::VFromD<D> Init(D d, size_t, size_t) const {
    return hn::Zero(d);
  }
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    T* p = weights + i * ld + c;
    StoreWidth(d, hn::NegMulAdd(hn::Set(d, learning_rate), acc, LoadWidth(d, p, width)), p, width);
  }
};

// ------------------------------------------------------------------------------------------------ kernels

template <class T>
HWY_INLINE void DenseForward(const T* in, const T* weights, const T* bias, T* out, size_t rows, size_t inner,
                             size_t cols, Activation act) {
  const hn::ScalableTag<T> d;
  const GemmOperands<T> g{in, inner, weights, cols, rows, cols, inner};
  Gemm<ALayout::kRowMajor>(d, g, ForwardEpilogue<T>{bias, out, cols, act});
}

// A reusable per-thread buffer (per target and type) for W^T, so the hot path does not allocate.
template <class T>
T* Scratch(size_t count) {
  thread_local hwy::AlignedFreeUniquePtr<T[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < count) {
    buffer = hwy::AllocateAligned<T>(count);
    capacity = count;
  }
  return buffer.get();
}

// W^T for the broadcast form, whose B must be contiguous along dX's columns. 16 x 16 blocks keep both the
// read rows and the written rows within L1 (16 x 16 x 8 bytes = 2 KB per side for double).
template <class T>
void Transpose(const T* HWY_RESTRICT w, T* HWY_RESTRICT wt, size_t inner, size_t cols) {
  constexpr size_t kBlock = 16;
  for (size_t j0 = 0; j0 < inner; j0 += kBlock) {
    const size_t j1 = std::min(inner, j0 + kBlock);
    for (size_t c0 = 0; c0 < cols; c0 += kBlock) {
      const size_t c1 = std::min(cols, c0 + kBlock);
      for (size_t c = c0; c < c1; ++c)
        for (size_t j = j0; j < j1; ++j) wt[c * inner + j] = w[j * cols + c];
    }
  }
}

// One row (batch 1): d_in[j] = dot(W row j, dY) -- W rows are contiguous in the reduction index, so no
// transpose; 4 rows of W at a time give 4 independent accumulators.
template <class T>
HWY_INLINE void BackwardInputSingleRow(const T* d_out, const T* weights, const T* in, T* d_in, size_t inner,
                                       size_t cols, Activation act) {
  const hn::ScalableTag<T> d;
  using V = hn::VFromD<decltype(d)>;
  const size_t L = hn::Lanes(d);
  const size_t full = cols - cols % L;
  const size_t tail = cols % L;
  auto dot = [&](const T* w) {
    V sum = hn::Zero(d);
    size_t c = 0;
    for (; c < full; c += L) sum = hn::MulAdd(hn::LoadU(d, d_out + c), hn::LoadU(d, w + c), sum);
    if (tail) sum = hn::MulAdd(LoadPartial(d, d_out + c, tail), LoadPartial(d, w + c, tail), sum);
    return HorizontalSum(d, sum);
  };
  const hn::CappedTag<T, 1> d1;
  for (size_t j = 0; j < inner; ++j) {
    const T sum = dot(weights + j * cols);
    d_in[j] = hn::GetLane(hn::Mul(hn::Set(d1, sum), DerivativeFromOutput(d1, hn::Set(d1, in[j]), act)));
  }
}

template <class T>
HWY_INLINE void DenseBackwardInput(const T* d_out, const T* weights, const T* in, T* d_in, size_t rows,
                                   size_t inner, size_t cols, Activation act) {
  if (rows == 1) return BackwardInputSingleRow(d_out, weights, in, d_in, inner, cols, act);
  T* wt = Scratch<T>(inner * cols);
  Transpose(weights, wt, inner, cols);
  const hn::ScalableTag<T> d;
  const GemmOperands<T> g{d_out, cols, wt, inner, rows, inner, cols};
  Gemm<ALayout::kRowMajor>(d, g, BackwardInputEpilogue<T>{in, d_in, inner, act});
}

// Column sums of d_out (rows x cols), vectorised along the row; d_out's panel is then hot for the GEMM.
template <class T>
HWY_INLINE void ColumnSums(const T* d_out, size_t rows, size_t cols, T* sums_or_bias, T learning_rate,
                           bool subtract) {
  const hn::ScalableTag<T> d;
  using V = hn::VFromD<decltype(d)>;
  const size_t L = hn::Lanes(d);
  for (size_t c = 0; c < cols; c += L) {
    const size_t width = std::min(L, cols - c);
    V sum = hn::Zero(d);
    for (size_t r = 0; r < rows; ++r) sum = hn::Add(sum, LoadWidth(d, d_out + r * cols + c, width));
    if (subtract) sum = hn::NegMulAdd(hn::Set(d, learning_rate), sum, LoadWidth(d, sums_or_bias + c, width));
    StoreWidth(d, sum, sums_or_bias + c, width);
  }
}

template <class T>
HWY_INLINE void DenseBackwardParams(const T* in, const T* d_out, T* d_weights, T* d_bias, size_t rows,
                                    size_t inner, size_t cols) {
  const hn::ScalableTag<T> d;
  ColumnSums(d_out, rows, cols, d_bias, T(0), false);
  const GemmOperands<T> g{in, inner, d_out, cols, inner, cols, rows};
  Gemm<ALayout::kTransposed>(d, g, GradientEpilogue<T>{d_weights, cols});
}

template <class T>
HWY_INLINE void DenseBackwardParamsSgd(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                                       size_t rows, size_t inner, size_t cols) {
  const hn::ScalableTag<T> d;
  ColumnSums(d_out, rows, cols, bias, learning_rate, true);
  const GemmOperands<T> g{in, inner, d_out, cols, inner, cols, rows};
  Gemm<ALayout::kTransposed>(d, g, SgdEpilogue<T>{weights, cols, learning_rate});
}

// Non-template entry points for HWY_EXPORT (Highway 1.0.3 cannot export templates).
#define TYPENET_GEMM_ENTRY_POINTS(T, SUFFIX)                                                             \
  void DenseForward##SUFFIX(const T* in, const T* w, const T* b, T* out, size_t rows, size_t inner,      \
                            size_t cols, Activation act) {                                               \
    detail::note_target(HWY_TARGET);                                                                     \
    DenseForward(in, w, b, out, rows, inner, cols, act);                                                 \
  }                                                                                                      \
  void DenseBackwardInput##SUFFIX(const T* d_out, const T* w, const T* in, T* d_in, size_t rows,         \
                                  size_t inner, size_t cols, Activation act) {                           \
    detail::note_target(HWY_TARGET);                                                                     \
    DenseBackwardInput(d_out, w, in, d_in, rows, inner, cols, act);                                      \
  }                                                                                                      \
  void DenseBackwardParams##SUFFIX(const T* in, const T* d_out, T* dw, T* db, size_t rows, size_t inner, \
                                   size_t cols) {                                                        \
    detail::note_target(HWY_TARGET);                                                                     \
    DenseBackwardParams(in, d_out, dw, db, rows, inner, cols);                                           \
  }                                                                                                      \
  void DenseBackwardParamsSgd##SUFFIX(const T* in, const T* d_out, T* w, T* b, T lr, size_t rows,        \
                                      size_t inner, size_t cols) {                                       \
    detail::note_target(HWY_TARGET);                                                                     \
    DenseBackwardParamsSgd(in, d_out, w, b, lr, rows, inner, cols);                                      \
  }

TYPENET_GEMM_ENTRY_POINTS(float, F32)
TYPENET_GEMM_ENTRY_POINTS(double, F64)
#undef TYPENET_GEMM_ENTRY_POINTS

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(DenseForwardF32);
HWY_EXPORT(DenseForwardF64);
HWY_EXPORT(DenseBackwardInputF32);
HWY_EXPORT(DenseBackwardInputF64);
HWY_EXPORT(DenseBackwardParamsF32);
HWY_EXPORT(DenseBackwardParamsF64);
HWY_EXPORT(DenseBackwardParamsSgdF32);
HWY_EXPORT(DenseBackwardParamsSgdF64);

#define TYPENET_GEMM_SEAM(T, SUFFIX)                                                                      \
  template <>                                                                                             \
  void dense_forward<T>(const T* in, const T* w, const T* b, T* out, std::size_t rows, std::size_t inner, \
                        std::size_t cols, Activation act) {                                               \
    HWY_DYNAMIC_DISPATCH(DenseForward##SUFFIX)(in, w, b, out, rows, inner, cols, act);                    \
  }                                                                                                       \
  template <>                                                                                             \
  void dense_backward_input<T>(const T* d_out, const T* w, const T* in, T* d_in, std::size_t rows,        \
                               std::size_t inner, std::size_t cols, Activation in_act) {                  \
    HWY_DYNAMIC_DISPATCH(DenseBackwardInput##SUFFIX)(d_out, w, in, d_in, rows, inner, cols, in_act);      \
  }                                                                                                       \
  template <>                                                                                             \
  void dense_backward_params<T>(const T* in, const T* d_out, T* dw, T* db, std::size_t rows,              \
                                std::size_t inner, std::size_t cols) {                                    \
    HWY_DYNAMIC_DISPATCH(DenseBackwardParams##SUFFIX)(in, d_out, dw, db, rows, inner, cols);              \
  }                                                                                                       \
  template <>                                                                                             \
  void dense_backward_params_sgd<T>(const T* in, const T* d_out, T* w, T* b, T lr, std::size_t rows,      \
                                    std::size_t inner, std::size_t cols) {                                \
    HWY_DYNAMIC_DISPATCH(DenseBackwardParamsSgd##SUFFIX)(in, d_out, w, b, lr, rows, inner, cols);         \
  }

TYPENET_GEMM_SEAM(float, F32)
TYPENET_GEMM_SEAM(double, F64)
#undef TYPENET_GEMM_SEAM

}  // namespace typenet::kernels
#endif  // HWY_ONCE
