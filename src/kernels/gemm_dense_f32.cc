// The dense-layer GEMMs for float: one scalar type per translation unit, so the two build in parallel.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_dense_f32.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                         // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/gemm_dense-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_GEMM_ENTRY_POINTS(float, F32)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(DenseForwardF32);
HWY_EXPORT(DenseBackwardInputF32);
HWY_EXPORT(DenseBackwardParamsF32);
HWY_EXPORT(DenseBackwardParamsSgdF32);
HWY_EXPORT(DenseBackwardInputSgdF32);
HWY_EXPORT(DenseSgdThenForwardF32);

template <>
void dense_forward<float>(const float* in, const float* w, const float* b, float* out, std::size_t rows,
                          std::size_t inner, std::size_t cols, Activation act, ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseForwardF32)(in, w, b, out, rows, inner, cols, act, pool);
}
template <>
void dense_forward<float>(const float* in, const float* w, const float* b, float* out, std::size_t rows,
                          std::size_t inner, std::size_t cols, Activation act) {
  HWY_DYNAMIC_DISPATCH(DenseForwardF32)(in, w, b, out, rows, inner, cols, act, nullptr);
}
template <>
void dense_backward_input<float>(const float* d_out, const float* w, const float* in, float* d_in,
                                 std::size_t rows, std::size_t inner, std::size_t cols, Activation in_act,
                                 ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputF32)(d_out, w, in, d_in, rows, inner, cols, in_act, pool);
}
template <>
void dense_backward_input<float>(const float* d_out, const float* w, const float* in, float* d_in,
                                 std::size_t rows, std::size_t inner, std::size_t cols, Activation in_act) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputF32)(d_out, w, in, d_in, rows, inner, cols, in_act, nullptr);
}
template <>
void dense_backward_params<float>(const float* in, const float* d_out, float* dw, float* db, std::size_t rows,
                                  std::size_t inner, std::size_t cols, ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsF32)(in, d_out, dw, db, rows, inner, cols, pool);
}
template <>
void dense_backward_params<float>(const float* in, const float* d_out, float* dw, float* db, std::size_t rows,
                                  std::size_t inner, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsF32)(in, d_out, dw, db, rows, inner, cols, nullptr);
}
template <>
void dense_backward_params_sgd<float>(const float* in, const float* d_out, float* w, float* b, float lr,
                                      std::size_t rows, std::size_t inner, std::size_t cols,
                                      ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsSgdF32)(in, d_out, w, b, lr, rows, inner, cols, pool);
}
template <>
void dense_backward_params_sgd<float>(const float* in, const float* d_out, float* w, float* b, float lr,
                                      std::size_t rows, std::size_t inner, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsSgdF32)(in, d_out, w, b, lr, rows, inner, cols, nullptr);
}

template <>
void dense_backward_input_then_sgd<float>(const float* d_out, float* w, float* b, const float* in,
                                          float* d_in, float lr, std::size_t inner, std::size_t cols,
                                          Activation in_act) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputSgdF32)(d_out, w, b, in, d_in, lr, inner, cols, in_act);
}
template <>
void dense_sgd_then_forward<float>(const float* in, const float* d_out, float* w, float* b, float lr,
                                   const float* next_in, float* next_out, std::size_t inner, std::size_t cols,
                                   Activation act) {
  HWY_DYNAMIC_DISPATCH(DenseSgdThenForwardF32)(in, d_out, w, b, lr, next_in, next_out, inner, cols, act);
}

namespace detail {
std::int64_t compiled_targets() {
  return HWY_TARGETS;
}
}  // namespace detail

}  // namespace typenet::kernels
#endif  // HWY_ONCE
