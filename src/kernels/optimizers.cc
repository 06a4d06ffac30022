// Parameter updates: scale, SGD, momentum, Adam. Each is one streaming pass over its arrays.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/optimizers.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                     // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/dispatch_probe.hpp"
#include "kernels/simd_common-inl.h"
#include "typenet/kernels/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using std::size_t;

template <class T>
HWY_INLINE void Scale(T* x, T factor, size_t count) {
  const hn::ScalableTag<T> d;
  const auto f = hn::Set(d, factor);
  ForEachVector(d, count,
                [&](size_t i, size_t w) { StoreWidth(d, hn::Mul(LoadWidth(d, x + i, w), f), x + i, w); });
}

template <class T>
HWY_INLINE void SgdUpdate(T* params, const T* grads, T learning_rate, size_t count) {
  const hn::ScalableTag<T> d;
  const auto lr = hn::Set(d, learning_rate);
  ForEachVector(d, count, [&](size_t i, size_t w) {
    StoreWidth(d, hn::NegMulAdd(lr, LoadWidth(d, grads + i, w), LoadWidth(d, params + i, w)), params + i, w);
  });
}

template <class T>
HWY_INLINE void MomentumUpdate(T* params, const T* grads, T* velocity, T learning_rate, T momentum,
                               size_t count) {
  const hn::ScalableTag<T> d;
  const auto lr = hn::Set(d, learning_rate);
  const auto mu = hn::Set(d, momentum);
  ForEachVector(d, count, [&](size_t i, size_t w) {
    const auto v = hn::MulSub(mu, LoadWidth(d, velocity + i, w), hn::Mul(lr, LoadWidth(d, grads + i, w)));
    StoreWidth(d, v, velocity + i, w);
    StoreWidth(d, hn::Add(LoadWidth(d, params + i, w), v), params + i, w);
  });
}

template <class T>
HWY_INLINE void AdamUpdate(T* params, const T* grads, T* first_moment, T* second_moment, T learning_rate,
                           T beta1, T beta2, T epsilon, T correction1, T correction2, size_t count) {
  const hn::ScalableTag<T> d;
  const auto b1 = hn::Set(d, beta1);
  const auto b2 = hn::Set(d, beta2);
  const auto one_minus_b1 = hn::Set(d, T(1) - beta1);
  const auto one_minus_b2 = hn::Set(d, T(1) - beta2);
  const auto lr = hn::Set(d, learning_rate);
  const auto eps = hn::Set(d, epsilon);
  const auto c1 = hn::Set(d, correction1);
  const auto c2 = hn::Set(d, correction2);
  ForEachVector(d, count, [&](size_t i, size_t w) {
    const auto g = LoadWidth(d, grads + i, w);
    const auto m = hn::MulAdd(b1, LoadWidth(d, first_moment + i, w), hn::Mul(one_minus_b1, g));
    const auto v = hn::MulAdd(b2, LoadWidth(d, second_moment + i, w), hn::Mul(hn::Mul(one_minus_b2, g), g));
    StoreWidth(d, m, first_moment + i, w);
    StoreWidth(d, v, second_moment + i, w);
    const auto step = hn::Div(hn::Mul(lr, hn::Div(m, c1)), hn::Add(hn::Sqrt(hn::Div(v, c2)), eps));
    StoreWidth(d, hn::Sub(LoadWidth(d, params + i, w), step), params + i, w);
  });
}

#define TYPENET_OPTIMIZER_ENTRY_POINTS(T, SUFFIX)                                                        \
  void Scale##SUFFIX(T* x, T factor, size_t count) {                                                     \
    detail::note_target(HWY_TARGET);                                                                     \
    Scale(x, factor, count);                                                                             \
  }                                                                                                      \
  void SgdUpdate##SUFFIX(T* p, const T* g, T lr, size_t count) {                                         \
    detail::note_target(HWY_TARGET);                                                                     \
    SgdUpdate(p, g, lr, count);                                                                          \
  }                                                                                                      \
  void MomentumUpdate##SUFFIX(T* p, const T* g, T* v, T lr, T mu, size_t count) {                        \
    detail::note_target(HWY_TARGET);                                                                     \
    MomentumUpdate(p, g, v, lr, mu, count);                                                              \
  }                                                                                                      \
  void AdamUpdate##SUFFIX(T* p, const T* g, T* m, T* v, T lr, T b1, T b2, T eps, T c1, T c2, size_t n) { \
    detail::note_target(HWY_TARGET);                                                                     \
    AdamUpdate(p, g, m, v, lr, b1, b2, eps, c1, c2, n);                                                  \
  }

TYPENET_OPTIMIZER_ENTRY_POINTS(float, F32)
TYPENET_OPTIMIZER_ENTRY_POINTS(double, F64)
#undef TYPENET_OPTIMIZER_ENTRY_POINTS

}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(ScaleF32);
HWY_EXPORT(ScaleF64);
HWY_EXPORT(SgdUpdateF32);
HWY_EXPORT(SgdUpdateF64);
HWY_EXPORT(MomentumUpdateF32);
HWY_EXPORT(MomentumUpdateF64);
HWY_EXPORT(AdamUpdateF32);
HWY_EXPORT(AdamUpdateF64);

#define TYPENET_OPTIMIZER_SEAM(T, SUFFIX)                                                                  \
  template <>                                                                                              \
  void scale<T>(T * x, T factor, std::size_t count) {                                                      \
    HWY_DYNAMIC_DISPATCH(Scale##SUFFIX)(x, factor, count);                                                 \
  }                                                                                                        \
  template <>                                                                                              \
  void sgd_update<T>(T * params, const T* grads, T learning_rate, std::size_t count) {                     \
    HWY_DYNAMIC_DISPATCH(SgdUpdate##SUFFIX)(params, grads, learning_rate, count);                          \
  }                                                                                                        \
  template <>                                                                                              \
  void momentum_update<T>(T * params, const T* grads, T* velocity, T learning_rate, T momentum,            \
                          std::size_t count) {                                                             \
    HWY_DYNAMIC_DISPATCH(MomentumUpdate##SUFFIX)(params, grads, velocity, learning_rate, momentum, count); \
  }                                                                                                        \
  template <>                                                                                              \
  void adam_update<T>(T * params, const T* grads, T* first_moment, T* second_moment, T learning_rate,      \
                      T beta1, T beta2, T epsilon, T correction1, T correction2, std::size_t count) {      \
    HWY_DYNAMIC_DISPATCH(AdamUpdate##SUFFIX)                                                               \
    (params, grads, first_moment, second_moment, learning_rate, beta1, beta2, epsilon, correction1,        \
     correction2, count);                                                                                  \
  }

TYPENET_OPTIMIZER_SEAM(float, F32)
TYPENET_OPTIMIZER_SEAM(double, F64)
#undef TYPENET_OPTIMIZER_SEAM

}  // namespace typenet::kernels
#endif  // HWY_ONCE
