// Per-target helpers shared by the Highway kernels: tail loads and the activations.
// Included once per target from inside a foreach_target.h translation unit (Highway's -inl.h pattern).
#if defined(TYPENET_KERNELS_SIMD_COMMON_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TYPENET_KERNELS_SIMD_COMMON_INL_H_
#undef TYPENET_KERNELS_SIMD_COMMON_INL_H_
#else
#define TYPENET_KERNELS_SIMD_COMMON_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads the first n (< Lanes) elements of p, zero elsewhere, without touching memory past p + n.
// AVX2 and AVX-512 have fault-suppressing masked loads; Highway 1.0.3's MaskedLoad on SSE4/SSSE3 is a
// full aligned load, so those targets (and the emulated ones) go through a small stack buffer.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE hn::VFromD<D> LoadPartial(D d, const T* HWY_RESTRICT p, std::size_t n) {
#if HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN T buffer[hn::MaxLanes(d)] = {};
  // n < Lanes always; the min lets g++ see that for one-lane targets (else -Warray-bounds).
  std::memcpy(buffer, p, std::min(n, hn::MaxLanes(d)) * sizeof(T));
  return hn::Load(d, buffer);
#endif
}

// Stores the first n (< Lanes) lanes of v to p.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void StorePartial(D d, hn::VFromD<D> v, T* HWY_RESTRICT p, std::size_t n) {
#if HWY_TARGET <= HWY_AVX2
  hn::BlendedStore(v, hn::FirstN(d, n), d, p);
#else
  HWY_ALIGN T buffer[hn::MaxLanes(d)];
  hn::Store(v, d, buffer);
  std::memcpy(p, buffer, std::min(n, hn::MaxLanes(d)) * sizeof(T));
#endif
}

// A full vector at p, or only its first `width` lanes (the tail), never touching memory past them.
template <class D, class V = hn::VFromD<D>, class T = hn::TFromD<D>>
HWY_INLINE V LoadWidth(D d, const T* p, std::size_t width) {
  return width == hn::Lanes(d) ? hn::LoadU(d, p) : LoadPartial(d, p, width);
}
template <class D, class V = hn::VFromD<D>, class T = hn::TFromD<D>>
HWY_INLINE void StoreWidth(D d, V v, T* p, std::size_t width) {
  if (width == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else {
    StorePartial(d, v, p, width);
  }
}

// Calls f(index, width) for every full vector of [0, count) and then the tail (width = its valid lanes).
template <class D, class F>
HWY_INLINE void ForEachVector(D d, std::size_t count, const F& f) {
  const std::size_t L = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + L <= count; i += L) f(i, L);
  if (i < count) f(i, count - i);
}

#if HWY_TARGET <= HWY_AVX2
// to[j * to_stride + i] = from[i * from_stride + j] for an 8 x 8 block of floats in 256-bit vectors (AVX2 and
// AVX-512 alike): interleave 32-bit pairs, then 64-bit pairs, then swap 128-bit halves.
HWY_INLINE void Transpose8x8(const float* HWY_RESTRICT from, size_t from_stride, float* HWY_RESTRICT to,
                             size_t to_stride) {
  const hn::FixedTag<float, 8> d;
  using V = hn::VFromD<decltype(d)>;
  const hn::Repartition<double, decltype(d)> dd;
  V t[8];
  for (size_t i = 0; i < 8; i += 2) {
    const V a = hn::LoadU(d, from + i * from_stride), b = hn::LoadU(d, from + (i + 1) * from_stride);
    t[i] = hn::InterleaveLower(d, a, b);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[i + 1] = hn::InterleaveUpper(d, a, b);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  V u[8];
  for (size_t h = 0; h < 8; h += 4) {  // rows 0-3, then 4-7
    for (size_t j = 0; j < 2; ++j) {
      const auto lo = hn::BitCast(dd, t[h + j]), hi = hn::BitCast(dd, t[h + j + 2]);
      u[h + 2 * j] = hn::BitCast(d, hn::InterleaveLower(dd, lo, hi));  // column 2j (| 2j + 4), rows h..h+3
      u[h + 2 * j + 1] = hn::BitCast(d, hn::InterleaveUpper(dd, lo, hi));  // column 2j + 1 (| 2j + 5)
    }
  }
  for (size_t j = 0; j < 4; ++j) {
    hn::StoreU(hn::ConcatLowerLower(d, u[4 + j], u[j]), d, to + j * to_stride);
    hn::StoreU(hn::ConcatUpperUpper(d, u[4 + j], u[j]), d, to + (j + 4) * to_stride);
  }
}
#endif

// e^x for x <= 0 (or NaN, which it returns). float: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two
// parts, so r is exact to float precision even for n near -126), e^r from its degree-7 Taylor polynomial
// (truncation r^8/8! < 5.2e-9, a twentieth of a float ulp) and 2^n written into the exponent bits. Below
// -87.5 (where e^x is subnormal, under 1.2e-38) the result is 0. n comes from the 1.5 * 2^23 rounding trick:
// x log2(e) + 1.5 * 2^23 rounds to an integer whose low mantissa bits are n, so one FMA replaces Round and a
// float-to-int conversion. About 20 operations, against hn::Exp's ~26 (which also serves positive x).
// double keeps hn::Exp, with NaN passed through (NaN in, NaN out, for the finite check).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V ExpNonPositive(D d, V x) {
  using T = hn::TFromD<D>;
  if constexpr (sizeof(T) != 4) {
    // NaN must not reach hn::Exp: on EMU128 it converts to an integer there (undefined behaviour).
    const auto is_nan = hn::IsNaN(x);
    return hn::IfThenElse(is_nan, x, hn::Exp(d, hn::IfThenZeroElse(is_nan, x)));
  } else {
    const hn::RebindToUnsigned<D> du;
    const V magic = hn::Set(d, 12582912.0f);  // 1.5 * 2^23
    const V shifted = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
    const V n = hn::Sub(shifted, magic);
    V r = hn::MulAdd(n, hn::Set(d, -0.693145751953125f), x);  // ln2's high part: n * it is exact
    r = hn::MulAdd(n, hn::Set(d, -1.428606765330187045e-6f), r);
    // Estrin's scheme: three FMA levels deep instead of Horner's seven, so the out-of-order window holds
    // enough independent vectors to keep the FMA pipes busy.
    const V r2 = hn::Mul(r, r);
    const V r4 = hn::Mul(r2, r2);
    // The leading 1 is added last, to the small rest, so that rounding happens once at the scale of 1.
    const V p23 = hn::MulAdd(r, hn::Set(d, 1.0f / 6), hn::Set(d, 0.5f));
    const V p45 = hn::MulAdd(r, hn::Set(d, 1.0f / 120), hn::Set(d, 1.0f / 24));
    const V p67 = hn::MulAdd(r, hn::Set(d, 1.0f / 5040), hn::Set(d, 1.0f / 720));
    const V p123 = hn::MulAdd(r2, p23, r);
    const V p4567 = hn::MulAdd(r2, p67, p45);
    const V p = hn::Add(hn::MulAdd(r4, p4567, p123), hn::Set(d, 1.0f));
    // Exponent field n + 127 = bits(shifted) - bits(magic) + 127, in unsigned arithmetic: for x outside
    // [-87.5, 0] (masked below) it wraps harmlessly instead of overflowing.
    const auto bits = hn::Add(hn::BitCast(du, shifted), hn::Set(du, 127u - 0x4B400000u));
    const V scale = hn::BitCast(d, hn::ShiftLeft<23>(bits));
    // Compared on x: NaN compares false and stays NaN (p is NaN).
    return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -87.5f)), hn::Mul(p, scale));
  }
}

// 1 / (1 + e^-z) with only e^-|z| evaluated (in (0, 1], so Exp stays inside its valid range for every z):
// z >= 0 gives 1 / (1 + e), z < 0 gives e / (1 + e), both exact to the precision of T.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V Sigmoid(D d, V z) {
  const V one = hn::Set(d, 1);
  const V e = ExpNonPositive(d, hn::Neg(hn::Abs(z)));
  const V numerator = hn::IfThenElse(hn::Ge(z, hn::Zero(d)), one, e);
  return hn::Div(numerator, hn::Add(one, e));
}

template <class D, class V = hn::VFromD<D>>
HWY_INLINE V Activate(D d, V z, Activation act) {
  switch (act) {
    case Activation::sigmoid:
      return Sigmoid(d, z);
    case Activation::relu:
      return hn::IfThenElseZero(hn::Gt(z, hn::Zero(d)), z);  // as z > 0 ? z : 0 (NaN and -0 give 0)
    case Activation::tanh:
      // Highway's: within 4 ulp over the whole range (expm1 keeps small z exact; |z| > 18.7 gives +-1).
      return hn::Tanh(d, z);
    case Activation::leaky_relu:
      return hn::IfThenElse(hn::Gt(z, hn::Zero(d)), z,
                            hn::Mul(z, hn::Set(d, hn::TFromD<D>(leaky_relu_slope))));  // NaN stays NaN
    case Activation::identity:
      break;
  }
  return z;
}

// act'(.) written through the activation's output a.
template <class D, class V = hn::VFromD<D>>
HWY_INLINE V DerivativeFromOutput(D d, V a, Activation act) {
  switch (act) {
    case Activation::sigmoid:
      return hn::Mul(a, hn::Sub(hn::Set(d, 1), a));
    case Activation::relu:
      return hn::IfThenElseZero(hn::Gt(a, hn::Zero(d)), hn::Set(d, 1));
    case Activation::tanh:
      // 1 - a^2 as (1 - a)(1 + a): no cancellation near |a| = 1, and the same roundings with or without FMA.
      return hn::Mul(hn::Sub(hn::Set(d, 1), a), hn::Add(hn::Set(d, 1), a));
    case Activation::leaky_relu:
      return hn::IfThenElse(hn::Gt(a, hn::Zero(d)), hn::Set(d, 1),
                            hn::Set(d, hn::TFromD<D>(leaky_relu_slope)));
    case Activation::identity:
      break;
  }
  return hn::Set(d, 1);
}

// Horizontal sum / max as a scalar (Highway 1.0.3 returns them broadcast).
template <class D, class V = hn::VFromD<D>>
HWY_INLINE hn::TFromD<D> HorizontalSum(D d, V v) {
  return hn::GetLane(hn::SumOfLanes(d, v));
}
template <class D, class V = hn::VFromD<D>>
HWY_INLINE hn::TFromD<D> HorizontalMax(D d, V v) {
  return hn::GetLane(hn::MaxOfLanes(d, v));
}

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
