// The dense-layer GEMMs for double: one scalar type per translation unit, so the two build in parallel.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_dense_f64.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                         // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/gemm_dense-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_GEMM_ENTRY_POINTS(double, F64)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(DenseForwardF64);
HWY_EXPORT(DenseBackwardInputF64);
HWY_EXPORT(DenseBackwardParamsF64);
HWY_EXPORT(DenseBackwardParamsSgdF64);
HWY_EXPORT(DenseBackwardInputSgdF64);
HWY_EXPORT(DenseSgdThenForwardF64);

template <>
void dense_forward<double>(const double* in, const double* w, const double* b, double* out, std::size_t rows,
                           std::size_t inner, std::size_t cols, Activation act, ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseForwardF64)(in, w, b, out, rows, inner, cols, act, pool);
}
template <>
void dense_forward<double>(const double* in, const double* w, const double* b, double* out, std::size_t rows,
                           std::size_t inner, std::size_t cols, Activation act) {
  HWY_DYNAMIC_DISPATCH(DenseForwardF64)(in, w, b, out, rows, inner, cols, act, nullptr);
}
template <>
void dense_backward_input<double>(const double* d_out, const double* w, const double* in, double* d_in,
                                  std::size_t rows, std::size_t inner, std::size_t cols, Activation in_act,
                                  ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputF64)(d_out, w, in, d_in, rows, inner, cols, in_act, pool);
}
template <>
void dense_backward_input<double>(const double* d_out, const double* w, const double* in, double* d_in,
                                  std::size_t rows, std::size_t inner, std::size_t cols, Activation in_act) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputF64)(d_out, w, in, d_in, rows, inner, cols, in_act, nullptr);
}
template <>
void dense_backward_params<double>(const double* in, const double* d_out, double* dw, double* db,
                                   std::size_t rows, std::size_t inner, std::size_t cols, ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsF64)(in, d_out, dw, db, rows, inner, cols, pool);
}
template <>
void dense_backward_params<double>(const double* in, const double* d_out, double* dw, double* db,
                                   std::size_t rows, std::size_t inner, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsF64)(in, d_out, dw, db, rows, inner, cols, nullptr);
}
template <>
void dense_backward_params_sgd<double>(const double* in, const double* d_out, double* w, double* b, double lr,
                                       std::size_t rows, std::size_t inner, std::size_t cols,
                                       ThreadPool* pool) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsSgdF64)(in, d_out, w, b, lr, rows, inner, cols, pool);
}
template <>
void dense_backward_params_sgd<double>(const double* in, const double* d_out, double* w, double* b, double lr,
                                       std::size_t rows, std::size_t inner, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardParamsSgdF64)(in, d_out, w, b, lr, rows, inner, cols, nullptr);
}

template <>
void dense_backward_input_then_sgd<double>(const double* d_out, double* w, double* b, const double* in,
                                           double* d_in, double lr, std::size_t inner, std::size_t cols,
                                           Activation in_act) {
  HWY_DYNAMIC_DISPATCH(DenseBackwardInputSgdF64)(d_out, w, b, in, d_in, lr, inner, cols, in_act);
}
template <>
void dense_sgd_then_forward<double>(const double* in, const double* d_out, double* w, double* b, double lr,
                                    const double* next_in, double* next_out, std::size_t inner,
                                    std::size_t cols, Activation act) {
  HWY_DYNAMIC_DISPATCH(DenseSgdThenForwardF64)(in, d_out, w, b, lr, next_in, next_out, inner, cols, act);
}

}  // namespace typenet::kernels
#endif  // HWY_ONCE
