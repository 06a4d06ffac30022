// The three GEMM forms of a dense layer, with their epilogues fused into the register tiles:
//   forward          Y  = act(X W + b)                  (M = rows,  N = cols,  K = inner)
//   backward_input   dX = (dY W^T) (.) act'(X)          (M = rows,  N = inner, K = cols)
//   backward_params  dW = X^T dY, db = colsum(dY)       (M = inner, N = cols,  K = rows), optionally with
//                    the SGD update fused
// All three run on one broadcast-form (outer-product) micro-kernel, as in Eigen's GEBP: C rows in registers
// as MR x NR vector accumulators; per k step NR vectors of B are loaded and each of the MR A elements is
// broadcast once. Highway runtime dispatch happens once per kernel call.
//
// Included once per target by gemm_dense_f32.cc / gemm_dense_f64.cc (one scalar type per translation
// unit, so the two build in parallel). To keep compile time down, each (epilogue, layout) instantiates few
// tiles: B is read in full vectors (packed, or padded with zeros where its width is not a multiple of the
// vector) except in the forward product, whose in-place weights may end in a masked vector, and the last
// MR < rows of a panel are recomputed by one overlapping full tile that stores only the rows not stored yet.
#if defined(TYPENET_KERNELS_GEMM_DENSE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_GEMM_DENSE_INL_H_
#undef TYPENET_KERNELS_GEMM_DENSE_INL_H_
#else
#define TYPENET_KERNELS_GEMM_DENSE_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <hwy/aligned_allocator.h>
#include <hwy/highway.h>

#include "kernels/dispatch_probe.hpp"
#include "kernels/scratch_probe.hpp"
#include "kernels/simd_common-inl.h"
#include "kernels/single_row-inl.h"
#include "typenet/kernels/kernels.hpp"
#include "typenet/kernels/thread_pool.hpp"

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

// Register block for wide C (two or more vectors per row): MR rows x kNR vectors.
// 32 registers (AVX-512): 8 x 2 = 16 accumulators + 2 B vectors + 1 broadcast. 8 rows divide batches 32, 128
// and 256 exactly (no tail tile), 2 vectors of 16 floats divide the 256- and 128-wide layers. Measured on Zen
// 5 against 6 x 4 (24 accumulators): batch-32 step 4% faster, batch 128 and 256 the same.
// 16 registers: 6 x 2 = 12 accumulators + 2 B + 1 broadcast = 15 (Eigen's AVX2 GEBP block has 12 too); two
// 8-float vectors divide 256, 128 and 784 exactly, where a 3-vector panel would leave a thin last panel.
// 12 (16) accumulators cover the FMA latency (4 cycles) x throughput (2 per cycle) product of 8 with slack.
constexpr size_t kMR = kRegisters == 32 ? 8 : 6;
constexpr size_t kNR = 2;
// Rows of the tile that takes the last few rows of a panel (see RowTiles).
constexpr size_t kMRTail = 4;
// C one vector wide (the 10-wide output layer): one B vector per k, so taller tiles; 12 (8) independent
// accumulators cover the FMA latency x throughput product.
constexpr size_t kMRNarrow = kRegisters == 32 ? 12 : 8;
// A single row of C (batch 1, a matrix-vector product bound by streaming B): 8 (AVX2) or 16 (AVX-512)
// vectors of one B row per k step give as many independent accumulator chains and a sequential run of B
// (1 KB per row on AVX-512: a 256-wide layer in one pass over its rows, not two interleaved ones).
constexpr size_t kNRWide = kRegisters == 32 ? 16 : 8;

// Where A's element (i, k) lives: row-major A (X in the forward pass, dY in backward_input) or A^T stored
// row-major (X^T in the weight gradient, whose A rows are X's columns).
enum class ALayout { kRowMajor, kTransposed };

// How B (K x N) is read. In place: row-major, rows ldb apart, full vectors readable up to N rounded up (zero
// padding or kMasked). The two kPack layouts are copied by each thread, once per call, into kPacked column
// panels of kNR vectors (see PackAndRun): with the thread's first vector v_begin, the panel at vector v0
// starts at b + (v0 - v_begin) L K and holds K rows of its vectors (zero past N), so the tiles read B as one
// forward stream, where rows of B 1 KB apart (256 floats) would crowd into a few L1 sets.
enum class BLayout {
  kInPlace,
  kPackRows,        // b row-major, rows ldb apart (W in the forward product, dY in the weight gradient)
  kPackTransposed,  // B = S^T for b = S row-major (N x K): W^T in dX = dY W^T
  kPacked,
};

// Where the column sums of B go when they are taken while B is packed (the bias gradient: dY's column
// sums, in the weight gradient's own pass over dY). Stored, or applied as an SGD step.
template <class T>
struct ColumnSumsOut {
  T* to = nullptr;  // none
  T learning_rate = 0;
  bool sgd = false;  // to -= learning_rate * sums; otherwise to = sums

  template <class D, class V = hn::VFromD<D>>
  HWY_INLINE void Write(D d, size_t column, V sum, size_t width) const {
    if (sgd) sum = hn::NegMulAdd(hn::Set(d, learning_rate), sum, LoadWidth(d, to + column, width));
    StoreWidth(d, sum, to + column, width);
  }
};

template <class T>
struct GemmOperands {
  const T* a;
  size_t a_stride;  // row stride of the stored matrix (inner for X, cols for dY)
  const T* b;
  size_t ldb;
  size_t m, n, k;
  BLayout b_layout = BLayout::kInPlace;
  ColumnSumsOut<T> column_sums = {};  // kPackRows only
};

// A reusable per-thread buffer (per target, type and use), so the hot path does not allocate after the
// first call. Each thread writes only its own.
enum class ScratchUse { kPaddedB, kPanel, kColumnSums };
template <class T, ScratchUse kUse>
T* Scratch(size_t count) {
  thread_local hwy::AlignedFreeUniquePtr<T[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < count) {
    buffer = hwy::AllocateAligned<T>(count);
    capacity = count;
    detail::scratch_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return buffer.get();
}

// Copies the columns [c0, c0 + panel_width) of B = S^T (kPackTransposed) to panel, zero past N: K rows
// panel_width apart.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void PackTransposedPanel(D d, const GemmOperands<T>& g, size_t c0, size_t panel_width,
                                    T* HWY_RESTRICT panel) {
  (void)d;  // only names the target's type
  const size_t valid = std::min(panel_width, g.n - c0);
  // Transposed in blocks of kBlock rows of B, so the strided writes stay within L1 (16 KB of panel rows).
  constexpr size_t kBlock = 64;
  for (size_t r0 = 0; r0 < g.k; r0 += kBlock) {
    const size_t r1 = std::min(g.k, r0 + kBlock);
    size_t c = 0;
#if HWY_TARGET <= HWY_AVX2
    if constexpr (sizeof(T) == 4) {
      // 8 x 8 blocks in registers: 8 loads, 24 shuffles and 8 stores per 64 elements.
      for (; c + 8 <= valid; c += 8) {
        size_t r = r0;
        for (; r + 8 <= r1; r += 8)
          Transpose8x8(g.b + (c0 + c) * g.k + r, g.k, panel + r * panel_width + c, panel_width);
        for (; r < r1; ++r)
          for (size_t j = 0; j < 8; ++j) panel[r * panel_width + c + j] = g.b[(c0 + c + j) * g.k + r];
      }
    }
#endif
    for (; c < valid; ++c) {
      const T* HWY_RESTRICT column = g.b + (c0 + c) * g.k;  // row c0 + c of S
      for (size_t r = r0; r < r1; ++r) panel[r * panel_width + c] = column[r];
    }
  }
  if (valid != panel_width) {
    for (size_t r = 0; r < g.k; ++r)
      std::fill(panel + r * panel_width + valid, panel + (r + 1) * panel_width, T(0));
  }
}

// The kPacked panels of vectors [v_begin, v_end) (v_begin a multiple of kNR), from packed on.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void PackPanels(D d, const GemmOperands<T>& g, size_t v_begin, size_t v_end, T* packed) {
  const size_t L = hn::Lanes(d);
  if (g.b_layout == BLayout::kPackTransposed) {
    for (size_t v0 = v_begin; v0 < v_end; v0 += kNR)
      PackTransposedPanel(d, g, v0 * L, std::min(kNR, v_end - v0) * L, packed + (v0 - v_begin) * L * g.k);
    return;
  }
  // Row-major B row by row: each row is read once, front to back, and its vectors go to every panel's row
  // r. (A panel at a time reads 64 bytes of every 1 KB row, a stride the prefetchers do not follow: that
  // copy cost as much as the tiles saved.) Column sums, when asked for, are added up on the way, row after
  // row from zero (the order of ColumnSums).
  T* HWY_RESTRICT sums = nullptr;
  if (g.column_sums.to) {
    sums = Scratch<T, ScratchUse::kColumnSums>((v_end - v_begin) * L);
    for (size_t c = 0; c < (v_end - v_begin) * L; c += L) hn::Store(hn::Zero(d), d, sums + c);
  }
  for (size_t r = 0; r < g.k; ++r) {
    const T* HWY_RESTRICT row = g.b + r * g.ldb;
    for (size_t v0 = v_begin; v0 < v_end; v0 += kNR) {
      const size_t panel_width = std::min(kNR, v_end - v0) * L;
      T* HWY_RESTRICT to = packed + (v0 - v_begin) * L * g.k + r * panel_width;
      for (size_t c = 0; c < panel_width; c += L) {
        const size_t column = v0 * L + c;
        const auto v = column + L <= g.n ? hn::LoadU(d, row + column)
                       : column < g.n    ? LoadPartial(d, row + column, g.n - column)
                                         : hn::Zero(d);
        hn::Store(v, d, to + c);
        if (sums) {
          T* sum = sums + (column - v_begin * L);
          hn::Store(hn::Add(hn::Load(d, sum), v), d, sum);
        }
      }
    }
  }
  if (!sums) return;
  for (size_t column = v_begin * L; column < std::min(v_end * L, g.n); column += L)
    g.column_sums.Write(d, column, hn::Load(d, sums + (column - v_begin * L)), std::min(L, g.n - column));
}

// One MR x NR-vector tile of C at (i0, c0); rows below `skip` are computed but not stored (they belong to the
// previous tile, see RowTiles). The last vector stores `last_width` columns. kMasked: the last B vector is
// loaded with a mask (narrow B that was not padded).
// B's rows for this tile's columns start at b_panel, b_stride apart.
template <size_t MR, size_t NR, bool kMasked, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_NOINLINE void Tile(D d, const GemmOperands<T>& g, const T* b_panel, size_t b_stride, size_t i0,
                       size_t skip, size_t c0, size_t last_width, const Epilogue& epilogue) {
  using V = hn::VFromD<D>;
  // A local copy: C's stores could alias the referenced struct, which would reload every field per vector.
  const Epilogue epi = epilogue;
  const size_t L = hn::Lanes(d);
  auto width = [&](size_t j) {
    return j == NR - 1 ? last_width : L;
  };

  // Trip counts are template constants; 16 covers every MR and NR used here, so all loops fully unroll.
  V acc[MR][NR];
  HWY_UNROLL(16)
  for (size_t j = 0; j < NR; ++j) {
    const V init = epi.Init(d, c0 + j * L, width(j));
    HWY_UNROLL(16)
    for (size_t i = 0; i < MR; ++i) acc[i][j] = init;
  }

  const T* HWY_RESTRICT b_row = b_panel;
  auto load_b = [&](V* b) {
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j)
      b[j] =
          (kMasked && j == NR - 1) ? LoadPartial(d, b_row + j * L, last_width) : hn::LoadU(d, b_row + j * L);
  };
  if constexpr (kLayout == ALayout::kRowMajor && MR == 1) {
    // One row (batch 1 to 3): a zero element of A skips its row of B, which adds exactly nothing for finite B
    // (A + 0 B = A). Inputs are often sparse: half of Fashion-MNIST's pixels are 0, as are ReLU outputs
    // that are not positive. With a dense A the branch is never taken.
    const T* HWY_RESTRICT a_row = g.a + i0 * g.a_stride;
    for (size_t k = 0; k < g.k; ++k, b_row += b_stride) {
      if (a_row[k] == T(0)) continue;
      V b[NR];
      load_b(b);
      const V a = hn::Set(d, a_row[k]);
      HWY_UNROLL(16)
      for (size_t j = 0; j < NR; ++j) acc[0][j] = hn::MulAdd(a, b[j], acc[0][j]);
    }
  } else if constexpr (kLayout == ALayout::kRowMajor) {
    const T* HWY_RESTRICT a_rows[MR];
    for (size_t i = 0; i < MR; ++i) a_rows[i] = g.a + (i0 + i) * g.a_stride;
    for (size_t k = 0; k < g.k; ++k, b_row += b_stride) {
      V b[NR];
      load_b(b);
      HWY_UNROLL(16)
      for (size_t i = 0; i < MR; ++i) {
        const V a = hn::Set(d, a_rows[i][k]);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(a, b[j], acc[i][j]);
      }
    }
  } else {
    const T* HWY_RESTRICT a_col = g.a + i0;
    for (size_t k = 0; k < g.k; ++k, b_row += b_stride, a_col += g.a_stride) {
      V b[NR];
      load_b(b);
      HWY_UNROLL(16)
      for (size_t i = 0; i < MR; ++i) {
        const V a = hn::Set(d, a_col[i]);
        HWY_UNROLL(16)
        for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(a, b[j], acc[i][j]);
      }
    }
  }

  auto store_row = [&](size_t i) HWY_ATTR {
    HWY_UNROLL(16)
    for (size_t j = 0; j < NR; ++j) epi.Store(d, i0 + i, c0 + j * L, acc[i][j], width(j));
  };
  if constexpr (Epilogue::kReadsOutput) {
    // The SGD update reads C before writing it: even rows first. With rows of one masked vector (the
    // 10-wide layer, 40 bytes apart) a row's load right after the masked store of the row before waited for
    // that store on Zen 5 (128 x 10 at batch 32: 1.10 -> 0.83 us); rows two apart do not share 64 bytes.
    HWY_UNROLL(16)
    for (size_t i = 0; i < MR; i += 2) {
      if (i >= skip) store_row(i);
    }
    HWY_UNROLL(16)
    for (size_t i = 1; i < MR; i += 2) {
      if (i >= skip) store_row(i);
    }
  } else {
    HWY_UNROLL(16)
    for (size_t i = 0; i < MR; ++i) {
      if (i >= skip) store_row(i);
    }
  }
}

// Rows [i_begin, i_end) of one column panel in tiles of MR. The last partial tile is a tile ending at i_end
// (overlapping rows already stored are skipped): every element gets the same arithmetic (init, FMAs in k
// order, epilogue) whatever tile computes it, so results do not depend on where a thread's row range starts.
// Fewer than MR rows in all: one row at a time.
template <size_t MR, size_t NR, bool kMasked, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_INLINE void RowTiles(D d, const GemmOperands<T>& g, const T* b_panel, size_t b_stride, size_t c0,
                         size_t last_width, const Epilogue& epi, size_t i_begin, size_t i_end) {
  size_t i0 = i_begin;
  for (; i0 + MR <= i_end; i0 += MR)
    Tile<MR, NR, kMasked, kLayout>(d, g, b_panel, b_stride, i0, 0, c0, last_width, epi);
  if (i0 == i_end) return;
  if constexpr (MR > kMRTail) {
    // Fewer than MR rows in all, but more than kMRTail (batch 5 to 7, or 5 to 11 rows of the one-vector
    // tiles): kMRTail tiles rather than one row at a time (a single row has only NR accumulator chains).
    for (; i_end - i0 > kMRTail && i_end < MR; i0 += kMRTail)
      Tile<kMRTail, NR, kMasked, kLayout>(d, g, b_panel, b_stride, i0, 0, c0, last_width, epi);
    // Up to 4 rows left (batch 32 and 128 leave 2): one 4-row tile ending at i_end wastes at most 3 rows,
    // against up to MR - 1 of a full overlapping one.
    if (i_end - i0 <= kMRTail && i_end >= kMRTail) {
      return Tile<kMRTail, NR, kMasked, kLayout>(d, g, b_panel, b_stride, i_end - kMRTail,
                                                 kMRTail - (i_end - i0), c0, last_width, epi);
    }
  }
  if (i_end >= MR) {
    return Tile<MR, NR, kMasked, kLayout>(d, g, b_panel, b_stride, i_end - MR, MR - (i_end - i0), c0,
                                          last_width, epi);
  }
  if constexpr (MR > 1) {
    for (; i0 < i_end; ++i0)
      Tile<1, NR, kMasked, kLayout>(d, g, b_panel, b_stride, i0, 0, c0, last_width, epi);
  }
}

// Runs a panel nv (<= NR) vectors wide.
template <size_t MR, size_t NR, bool kMasked, ALayout kLayout, class D, class Epilogue,
          class T = hn::TFromD<D>>
HWY_INLINE void PanelColumns(D d, size_t nv, const GemmOperands<T>& g, const T* b_panel, size_t b_stride,
                             size_t c0, size_t last_width, const Epilogue& epi, size_t i_begin,
                             size_t i_end) {
  if constexpr (NR > 1) {
    if (nv < NR) {
      return PanelColumns<MR, NR - 1, kMasked, kLayout>(d, nv, g, b_panel, b_stride, c0, last_width, epi,
                                                        i_begin, i_end);
    }
  }
  RowTiles<MR, NR, kMasked, kLayout>(d, g, b_panel, b_stride, c0, last_width, epi, i_begin, i_end);
}

// B small enough to stay in L2 next to the streamed A and C (a quarter of a 1 MiB L2): then row blocks go
// outermost, so C (the weights, for the gradient forms) is written once, sequentially, row block by row
// block. Larger B goes panel by panel (K x NR vectors: 784 x 16 floats = 50 KB on AVX2, 100 KB on
// AVX-512, resident in L2 while every row tile of A streams past it).
constexpr size_t kBResidentBytes = 256 * 1024;
// With a larger B, at most this much of A per row block, so that it stays in half of a 1 MiB L2 next to the
// B panel (K x NR vectors, 50-100 KB) and the C tiles: 167 rows of X at K = 784, so batch 128 is one block
// and batch 256 two of 128 rows (A is re-read once per panel, B once per block).
constexpr size_t kABlockBytes = 512 * 1024;
// Rows per block in that order: 8 register tiles, so A's block (48 or 64 x K, at most 64 KB for K = 256)
// stays in L2 across all panels.
constexpr size_t kRowBlockTiles = 8;

// Products below this many FLOP stay on one thread: about 20 us of work on one core, well above the few
// microseconds a hand-off to a spinning worker costs (and every product of a batch-1 step is below it).
constexpr double kParallelFlops = 2e6;

// K at most this (the weight gradient at batch <= 4): C is streamed row by row instead of tiled. With so few
// FMAs per element, a register tile's setup and its epilogue bookkeeping cost more than the arithmetic; here
// each C vector is one load (SGD), K FMAs from an L1-resident B and one store. Every element still sees the
// tile's arithmetic (zero, then FMA over k in order, then the epilogue), so results are bitwise the same.
constexpr size_t kStreamMaxK = 4;

template <size_t K, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_NOINLINE void StreamRows(D d, const GemmOperands<T>& operands, const Epilogue& epilogue, size_t i_begin,
                             size_t i_end, size_t v_begin, size_t v_end) {
  using V = hn::VFromD<D>;
  // Local copies: C's stores could alias the referenced structs, which would reload every field per vector.
  const GemmOperands<T> g = operands;
  const Epilogue epi = epilogue;
  const size_t L = hn::Lanes(d);
  const size_t vectors = (g.n + L - 1) / L;
  const size_t last_width = g.n - (vectors - 1) * L;
  // Full vectors in the loop (the epilogue's width test folds away); a partial last vector after it.
  const size_t v_full = v_end == vectors && last_width != L ? v_end - 1 : v_end;
  auto element = [&](const V* a, size_t i, size_t c, size_t width) HWY_ATTR {
    V acc = epi.Init(d, c, width);
    HWY_UNROLL(4)
    for (size_t k = 0; k < K; ++k) acc = hn::MulAdd(a[k], LoadWidth(d, g.b + k * g.ldb + c, width), acc);
    epi.Store(d, i, c, acc, width);
  };
  for (size_t i = i_begin; i < i_end; ++i) {
    V a[K];
    HWY_UNROLL(4)
    for (size_t k = 0; k < K; ++k) a[k] = hn::Set(d, g.a[k * g.a_stride + i]);  // A^T layout: X[k][i]
    for (size_t v = v_begin; v < v_full; ++v) element(a, i, v * L, L);
    if (v_full != v_end) element(a, i, v_full * L, last_width);
  }
}

template <class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void StreamRowsK(D d, const GemmOperands<T>& g, const Epilogue& epi, size_t i_begin, size_t i_end,
                            size_t v_begin, size_t v_end) {
  switch (g.k) {
    case 1:
      return StreamRows<1>(d, g, epi, i_begin, i_end, v_begin, v_end);
    case 2:
      return StreamRows<2>(d, g, epi, i_begin, i_end, v_begin, v_end);
    case 3:
      return StreamRows<3>(d, g, epi, i_begin, i_end, v_begin, v_end);
    default:
      return StreamRows<4>(d, g, epi, i_begin, i_end, v_begin, v_end);
  }
}

// One panel nv vectors wide: single-row tiles (batch 1) or kMR-row ones.
template <bool kMasked, ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void Panel(D d, bool single_row, size_t nv, const GemmOperands<T>& g, const T* b_panel,
                      size_t b_stride, size_t c0, size_t last_width, const Epilogue& epi, size_t i0,
                      size_t i1) {
  if (single_row) {
    return PanelColumns<1, kNRWide, kMasked, kLayout>(d, nv, g, b_panel, b_stride, c0, last_width, epi, i0,
                                                      i1);
  }
  PanelColumns<kMR, kNR, kMasked, kLayout>(d, nv, g, b_panel, b_stride, c0, last_width, epi, i0, i1);
}

// C rows [i_begin, i_end) x vectors [v_begin, v_end) of the product: what one thread computes.
template <ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void GemmBlock(D d, const GemmOperands<T>& g, const Epilogue& epi, size_t i_begin, size_t i_end,
                          size_t v_begin, size_t v_end) {
  const size_t L = hn::Lanes(d);
  const size_t vectors = (g.n + L - 1) / L;
  const size_t last_width = g.n - (vectors - 1) * L;  // valid columns of the last vector
  if (kLayout == ALayout::kTransposed && g.k <= kStreamMaxK)
    return StreamRowsK(d, g, epi, i_begin, i_end, v_begin, v_end);
  const bool packed = g.b_layout == BLayout::kPacked;
  if (vectors == 1) {
    // One vector per row: masked when B is in place and narrower than one vector.
    if (packed)
      return RowTiles<kMRNarrow, 1, false, kLayout>(d, g, g.b, L, 0, last_width, epi, i_begin, i_end);
    if (g.ldb < L)
      return RowTiles<kMRNarrow, 1, true, kLayout>(d, g, g.b, g.ldb, 0, last_width, epi, i_begin, i_end);
    return RowTiles<kMRNarrow, 1, false, kLayout>(d, g, g.b, g.ldb, 0, last_width, epi, i_begin, i_end);
  }
  // Fewer rows than the smallest tile (batch 1 to 3) and B in place: row by row, each through the wide
  // single-row panels (kNRWide accumulator chains; kMR-row code would run them one row, two chains, at a
  // time).
  const bool single_row = g.m < kMRTail && !packed;
  const size_t nr = single_row ? kNRWide : kNR;
  auto panels = [&](size_t i0, size_t i1) {
    for (size_t v0 = v_begin; v0 < v_end; v0 += nr) {
      const size_t nv = std::min(nr, v_end - v0);
      const size_t width = v0 + nv == vectors ? last_width : L;
      const T* b_panel = packed ? g.b + (v0 - v_begin) * L * g.k : g.b + v0 * L;
      const size_t b_stride = packed ? nv * L : g.ldb;
      if constexpr (Epilogue::kMaskedB) {
        if (!packed && width != L) {  // B in place: the partial last vector is loaded masked
          Panel<true, kLayout>(d, single_row, nv, g, b_panel, b_stride, v0 * L, width, epi, i0, i1);
          continue;
        }
      }
      Panel<false, kLayout>(d, single_row, nv, g, b_panel, b_stride, v0 * L, width, epi, i0, i1);
    }
  };
  size_t block_rows = kRowBlockTiles * kMR;
  if (g.k * g.n * sizeof(T) > kBResidentBytes) {
    // B panel-wise: every panel meets all rows of the block, so the block of A must stay in L2 (else A
    // streams from L3 once per panel: 16 times 800 KB for X at batch 256 in the first layer).
    const size_t max_rows = std::max(kMR, kABlockBytes / (g.k * sizeof(T)));
    const size_t blocks = (i_end - i_begin + max_rows - 1) / max_rows;
    // Equal blocks (in whole tiles): a thin last block would re-read all of B for a few rows.
    block_rows = ((i_end - i_begin + blocks - 1) / blocks + kMR - 1) / kMR * kMR;
  }
  for (size_t i0 = i_begin; i0 < i_end; i0 += block_rows) panels(i0, std::min(i_end, i0 + block_rows));
}

// Whether B is copied into kPacked panels before the tiles run (see BLayout).
template <class T>
bool NeedsPacking(const GemmOperands<T>& g) {
  return g.b_layout == BLayout::kPackRows || g.b_layout == BLayout::kPackTransposed;
}

// Rows [i_begin, i_end) x vectors [v_begin, v_end) of C, packing (if asked) exactly the panels they use into
// the running thread's own buffer: each thread packs what it reads, so no packed panel crosses between the
// cores' caches (a shared copy packed half by each thread made the batch-256 step only 1.46x faster on
// two threads).
template <ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void PackAndRun(D d, const GemmOperands<T>& g, const Epilogue& epi, size_t i_begin, size_t i_end,
                           size_t v_begin, size_t v_end) {
  if (!NeedsPacking(g)) return GemmBlock<kLayout>(d, g, epi, i_begin, i_end, v_begin, v_end);
  const size_t L = hn::Lanes(d);
  GemmOperands<T> packed = g;
  packed.b_layout = BLayout::kPacked;
  if (g.b_layout == BLayout::kPackTransposed && (i_end - i_begin) * g.k * sizeof(T) <= kABlockBytes) {
    // W^T (dX) for rows of dY that fit one block of A (see GemmBlock), so every panel meets them all at
    // once: each panel is packed right before its tiles, into one buffer that stays in L1 (K x kNR vectors:
    // 16 KB for a 128-wide layer on AVX-512), where all of W^T packed first went out to L2 and came back. A
    // panel's rows of S are contiguous, so packing it alone still reads memory in order.
    T* panel = Scratch<T, ScratchUse::kPanel>(g.k * kNR * L);
    packed.b = panel;
    for (size_t v0 = v_begin; v0 < v_end; v0 += kNR) {
      const size_t v1 = std::min(v_end, v0 + kNR);
      PackPanels(d, g, v0, v1, panel);
      GemmBlock<kLayout>(d, packed, epi, i_begin, i_end, v0, v1);
    }
    return;
  }
  T* buffer = Scratch<T, ScratchUse::kPanel>(g.k * (v_end - v_begin) * L);
  PackPanels(d, g, v_begin, v_end, buffer);
  packed.b = buffer;
  GemmBlock<kLayout>(d, packed, epi, i_begin, i_end, v_begin, v_end);
}

template <ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
struct GemmJob {
  D d;
  const GemmOperands<T>* g;
  const Epilogue* epi;
  size_t parts;
  bool split_rows;
  size_t units;  // row tiles or column panels
  size_t unit;   // rows or vectors per unit

  static void Run(void* context, size_t part) {
    const GemmJob& job = *static_cast<const GemmJob*>(context);
    const GemmOperands<T>& g = *job.g;
    const size_t L = hn::Lanes(job.d);
    const size_t vectors = (g.n + L - 1) / L;
    // Contiguous, nearly equal unit ranges; boundaries fall on tile/panel edges, so the FMA order of every
    // element is the one-thread order and the result is bitwise the same.
    const size_t first = job.units * part / job.parts, last = job.units * (part + 1) / job.parts;
    if (job.split_rows) {
      // Every thread packs all of B; the first writes its column sums.
      GemmOperands<T> own = g;
      if (part != 0) own.column_sums.to = nullptr;
      PackAndRun<kLayout>(job.d, own, *job.epi, first * job.unit, std::min(g.m, last * job.unit), 0, vectors);
    } else {
      PackAndRun<kLayout>(job.d, g, *job.epi, 0, g.m, first * job.unit, std::min(vectors, last * job.unit));
    }
  }
};

// C[M x N] = epilogue(A B), on the pool's threads when the product is large enough.
template <ALayout kLayout, class D, class Epilogue, class T = hn::TFromD<D>>
HWY_INLINE void Gemm(D d, const GemmOperands<T>& g, const Epilogue& epi, ThreadPool* pool) {
  const size_t L = hn::Lanes(d);
  const size_t vectors = (g.n + L - 1) / L;
  if (g.m == 0 || vectors == 0) return;
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  const size_t threads = pool ? pool->size() : 1;
  const size_t row_tiles = g.m / kMR;
  const size_t panels = vectors / kNR;
  if (threads < 2 || flops < kParallelFlops || (row_tiles < 2 && panels < 2))
    return PackAndRun<kLayout>(d, g, epi, 0, g.m, 0, vectors);
  // Split the columns when every thread gets a panel: each thread then packs and reads only its part of B,
  // where a row split has every thread pack all of it (W1, 800 KB, twice). Measured, batch-256 step on two
  // threads: 617 -> 595 us (1.80x one thread). Rows otherwise.
  GemmJob<kLayout, D, Epilogue> job{d, &g, &epi, 0, panels < threads, 0, 0};
  if (job.split_rows) {
    job.units = (g.m + kMR - 1) / kMR;
    job.unit = kMR;
  } else {
    job.units = (vectors + kNR - 1) / kNR;
    job.unit = kNR;
  }
  job.parts = std::min(threads, job.units);
  pool->run(job.parts, &GemmJob<kLayout, D, Epilogue>::Run, &job);
}

// ------------------------------------------------------------------------------------------------ epilogues

template <class T>
struct ForwardEpilogue {  // out = act(acc), acc starting from the bias
  static constexpr bool kReadsOutput = false;
  // B (the weights) may be in place with a partial last vector (see DenseForward); the other forms always
  // read B packed or padded, so only this epilogue instantiates the masked tiles.
  static constexpr bool kMaskedB = true;
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

// The epilogues whose accumulators start from zero (all but the forward one, which starts from the bias).
struct ZeroInit {
  static constexpr bool kReadsOutput = false;
  static constexpr bool kMaskedB = false;
  template <class D>
  HWY_INLINE hn::VFromD<D> Init(D d, size_t, size_t) const {
    return hn::Zero(d);
  }
};

template <class T>
struct BackwardInputEpilogue : ZeroInit {  // d_in = acc (.) act'(in)
  const T* in;
  T* d_in;
  size_t ld;
  Activation act;
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    const size_t at = i * ld + c;
    if (act != Activation::identity)
      acc = hn::Mul(acc, DerivativeFromOutput(d, LoadWidth(d, in + at, width), act));
    StoreWidth(d, acc, d_in + at, width);
  }
};

template <class T>
struct GradientEpilogue : ZeroInit {  // d_weights = acc
  T* d_weights;
  size_t ld;
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    StoreWidth(d, acc, d_weights + i * ld + c, width);
  }
};

template <class T>
struct SgdEpilogue : ZeroInit {  // weights -= lr * acc: the gradient never goes to memory
  static constexpr bool kReadsOutput = true;
  T* weights;
  size_t ld;
  T learning_rate;
  template <class D, class V>
  HWY_INLINE void Store(D d, size_t i, size_t c, V acc, size_t width) const {
    T* p = weights + i * ld + c;
    StoreWidth(d, hn::NegMulAdd(hn::Set(d, learning_rate), acc, LoadWidth(d, p, width)), p, width);
  }
};

// ------------------------------------------------------------------------------------------------ kernels

// B (k x n, row stride ld) as GEMM operands: used in place when whole vectors tile its rows (or it is
// narrower than one vector: masked loads); otherwise copied with rows padded by zeros to whole vectors.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE const T* PaddedB(D d, const T* b, size_t k, size_t n, size_t& ldb) {
  const size_t L = hn::Lanes(d);
  ldb = n;
  if (n % L == 0 || n < L) return b;
  ldb = (n + L - 1) / L * L;
  T* copy = Scratch<T, ScratchUse::kPaddedB>(k * ldb);
  // Vector copies: per-row std::copy and std::fill calls took longer than the 10-wide layer's product.
  for (size_t r = 0; r < k; ++r) {
    for (size_t c = 0; c < ldb; c += L)
      hn::Store(c + L <= n ? hn::LoadU(d, b + r * n + c) : LoadPartial(d, b + r * n + c, n - c), d,
                copy + r * ldb + c);
  }
  return copy;
}

// Rows at which the forward product packs B (the weights). Packing costs a read and a write of W every
// call and pays back once per row tile that reads the packed panels. Measured on the 784-256-128-10 step:
// at batch 32 (6 row tiles) packing was no faster (in a profile of the trainer the copy took 6.5% of the
// time and the tiles saved about as much: W1 comes from L3 either way); at batch 128 the packed forward
// GEMMs were about 20% faster (AVX2). On AVX-512 a panel row is two whole cache lines of W's row, and
// the in-place forward at batch 128 was 6% faster than the packed one (W3 bench, Zen 5); at batch 256
// packing was 1.6% faster (inference), so it starts there.
constexpr size_t kPackMinRows = kRegisters == 32 ? 256 : 64;

template <class T>
HWY_INLINE void DenseForward(const T* in, const T* weights, const T* bias, T* out, size_t rows, size_t inner,
                             size_t cols, Activation act, ThreadPool* pool) {
  const hn::ScalableTag<T> d;
  GemmOperands<T> g{in, inner, nullptr, 0, rows, cols, inner};
  if (rows >= kPackMinRows) {
    g.b = weights;
    g.ldb = cols;
    g.b_layout = BLayout::kPackRows;
  } else if (HWY_TARGET <= HWY_AVX2) {
    // Masked loads are native: W stays in place, the panel holding its partial last vector loads that
    // vector masked. A padded copy of W made the batch-1 forward of a 784 x 100 layer 3.6x slower.
    g.b = weights;
    g.ldb = cols;
  } else {
    g.b = PaddedB(d, weights, inner, cols, g.ldb);
  }
  Gemm<ALayout::kRowMajor>(d, g, ForwardEpilogue<T>{bias, out, cols, act}, pool);
}

template <class T>
HWY_INLINE void DenseBackwardInput(const T* d_out, const T* weights, const T* in, T* d_in, size_t rows,
                                   size_t inner, size_t cols, Activation act, ThreadPool* pool) {
  if (rows < kMRTail) {
    // Batch 1 to 3: dot products with W's rows, row by row. Packing W^T for so few rows cost more than the
    // product (784 x 256 at batch 2: 42.6 -> 14.3 us).
    for (size_t r = 0; r < rows; ++r)
      BackwardInputSingleRow(d_out + r * cols, weights, in + r * inner, d_in + r * inner, inner, cols, act,
                             NoRowUpdate<T>{});
    return;
  }
  const hn::ScalableTag<T> d;
  const GemmOperands<T> g{d_out, cols, weights, cols, rows, inner, cols, BLayout::kPackTransposed};
  Gemm<ALayout::kRowMajor>(d, g, BackwardInputEpilogue<T>{{}, in, d_in, inner, act}, pool);
}

// Column sums of d_out (rows x cols), vectorised along the row: the bias gradient when dY is not packed.
template <class T>
HWY_INLINE void ColumnSums(const T* d_out, size_t rows, size_t cols, const ColumnSumsOut<T>& out) {
  const hn::ScalableTag<T> d;
  using V = hn::VFromD<decltype(d)>;
  const size_t L = hn::Lanes(d);
  for (size_t c = 0; c < cols; c += L) {
    const size_t width = std::min(L, cols - c);
    V sum = hn::Zero(d);
    for (size_t r = 0; r < rows; ++r) sum = hn::Add(sum, LoadWidth(d, d_out + r * cols + c, width));
    out.Write(d, c, sum, width);
  }
}

// dW = X^T dY with the bias gradient (dY's column sums). A is X read transposed, B is dY (rows x cols).
// Small batches stream C row by row straight from dY (see StreamRows), after the sums over its few rows;
// otherwise dY is packed, since every one of dW's row tiles reads all of it, and the sums are taken while it
// is copied. Except one vector wide (the 10-wide layer): there each row's sum would wait for the previous
// one's store (7% slower), and a separate pass over 5 KB keeps the sum in a register.
template <class T, class Epilogue>
HWY_INLINE void WeightGradient(const T* in, const T* d_out, size_t rows, size_t inner, size_t cols,
                               const ColumnSumsOut<T>& bias, const Epilogue& epi, ThreadPool* pool) {
  const hn::ScalableTag<T> d;
  GemmOperands<T> g{in, inner, d_out, cols, inner, cols, rows};
  if (rows > kStreamMaxK) g.b_layout = BLayout::kPackRows;
  if (g.b_layout == BLayout::kPackRows && inner > 0 && cols > hn::Lanes(d)) {
    g.column_sums = bias;
  } else {
    ColumnSums(d_out, rows, cols, bias);
  }
  Gemm<ALayout::kTransposed>(d, g, epi, pool);
}

template <class T>
HWY_INLINE void DenseBackwardParams(const T* in, const T* d_out, T* d_weights, T* d_bias, size_t rows,
                                    size_t inner, size_t cols, ThreadPool* pool) {
  WeightGradient(in, d_out, rows, inner, cols, ColumnSumsOut<T>{d_bias},
                 GradientEpilogue<T>{{}, d_weights, cols}, pool);
}

template <class T>
HWY_INLINE void DenseBackwardParamsSgd(const T* in, const T* d_out, T* weights, T* bias, T learning_rate,
                                       size_t rows, size_t inner, size_t cols, ThreadPool* pool) {
  if (rows == 1)
    return SgdThenForwardSingleRow<kNRWide>(in, d_out, weights, bias, learning_rate, {}, inner, cols);
  WeightGradient(in, d_out, rows, inner, cols, ColumnSumsOut<T>{bias, learning_rate, true},
                 SgdEpilogue<T>{{}, weights, cols, learning_rate}, pool);
}

// Non-template entry points for HWY_EXPORT (Highway 1.0.3 cannot export templates).
#define TYPENET_GEMM_ENTRY_POINTS(T, SUFFIX)                                                               \
  void DenseForward##SUFFIX(const T* in, const T* w, const T* b, T* out, size_t rows, size_t inner,        \
                            size_t cols, Activation act, ThreadPool* pool) {                               \
    detail::note_target(HWY_TARGET);                                                                       \
    DenseForward(in, w, b, out, rows, inner, cols, act, pool);                                             \
  }                                                                                                        \
  void DenseBackwardInput##SUFFIX(const T* d_out, const T* w, const T* in, T* d_in, size_t rows,           \
                                  size_t inner, size_t cols, Activation act, ThreadPool* pool) {           \
    detail::note_target(HWY_TARGET);                                                                       \
    DenseBackwardInput(d_out, w, in, d_in, rows, inner, cols, act, pool);                                  \
  }                                                                                                        \
  void DenseBackwardParams##SUFFIX(const T* in, const T* d_out, T* dw, T* db, size_t rows, size_t inner,   \
                                   size_t cols, ThreadPool* pool) {                                        \
    detail::note_target(HWY_TARGET);                                                                       \
    DenseBackwardParams(in, d_out, dw, db, rows, inner, cols, pool);                                       \
  }                                                                                                        \
  void DenseBackwardParamsSgd##SUFFIX(const T* in, const T* d_out, T* w, T* b, T lr, size_t rows,          \
                                      size_t inner, size_t cols, ThreadPool* pool) {                       \
    detail::note_target(HWY_TARGET);                                                                       \
    DenseBackwardParamsSgd(in, d_out, w, b, lr, rows, inner, cols, pool);                                  \
  }                                                                                                        \
  void DenseBackwardInputSgd##SUFFIX(const T* d_out, T* w, T* b, const T* in, T* d_in, T lr, size_t inner, \
                                     size_t cols, Activation act) {                                        \
    detail::note_target(HWY_TARGET);                                                                       \
    BackwardInputThenSgdSingleRow(d_out, w, b, in, d_in, lr, inner, cols, act);                            \
  }                                                                                                        \
  void DenseSgdThenForward##SUFFIX(const T* in, const T* d_out, T* w, T* b, T lr, const T* next_in,        \
                                   T* next_out, size_t inner, size_t cols, Activation act) {               \
    detail::note_target(HWY_TARGET);                                                                       \
    SgdThenForwardSingleRow<kNRWide>(in, d_out, w, b, lr, NextForward<T>{next_in, next_out, act}, inner,   \
                                     cols);                                                                \
  }

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
