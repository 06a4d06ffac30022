// Convolution and max-pooling kernels for double: one scalar type per translation unit.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv_f64.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                   // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/conv-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_CONV_ENTRY_POINTS(double, F64)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(Conv2dForwardF64);
HWY_EXPORT(Conv2dBackwardInputF64);
HWY_EXPORT(Conv2dBackwardParamsF64);
HWY_EXPORT(MaxPoolForwardF64);
HWY_EXPORT(MaxPoolBackwardF64);

template <>
void conv2d_forward<double>(const double* in, const double* weights, const double* bias, double* out,
                            std::size_t rows, const ConvGeometry& geometry, Activation act, double* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dForwardF64)(in, weights, bias, out, rows, geometry, act, scratch);
}
template <>
void conv2d_backward_input<double>(const double* d_out, const double* weights, double* d_in, std::size_t rows,
                                   const ConvGeometry& geometry, double* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardInputF64)(d_out, weights, d_in, rows, geometry, scratch);
}
template <>
void conv2d_backward_params<double>(const double* in, const double* d_out, double* d_weights, double* d_bias,
                                    std::size_t rows, const ConvGeometry& geometry, double* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardParamsF64)(in, d_out, d_weights, d_bias, rows, geometry, scratch);
}
template <>
void max_pool_forward<double>(const double* in, double* out, double* argmax, std::size_t rows,
                              const PoolGeometry& geometry) {
  HWY_DYNAMIC_DISPATCH(MaxPoolForwardF64)(in, out, argmax, rows, geometry);
}
template <>
void max_pool_backward<double>(const double* d_out, const double* argmax, double* d_in, std::size_t rows,
                               const PoolGeometry& geometry) {
  HWY_DYNAMIC_DISPATCH(MaxPoolBackwardF64)(d_out, argmax, d_in, rows, geometry);
}

}  // namespace typenet::kernels
#endif  // HWY_ONCE
