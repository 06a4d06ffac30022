// Convolution and max-pooling kernels for float: one scalar type per translation unit.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv_f32.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                   // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/conv-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_CONV_ENTRY_POINTS(float, F32)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(Conv2dForwardF32);
HWY_EXPORT(Conv2dBackwardInputF32);
HWY_EXPORT(Conv2dBackwardParamsF32);
HWY_EXPORT(MaxPoolForwardF32);
HWY_EXPORT(MaxPoolBackwardF32);

template <>
void conv2d_forward<float>(const float* in, const float* weights, const float* bias, float* out,
                           std::size_t rows, const ConvGeometry& geometry, Activation act, float* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dForwardF32)(in, weights, bias, out, rows, geometry, act, scratch);
}
template <>
void conv2d_backward_input<float>(const float* d_out, const float* weights, float* d_in, std::size_t rows,
                                  const ConvGeometry& geometry, float* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardInputF32)(d_out, weights, d_in, rows, geometry, scratch);
}
template <>
void conv2d_backward_params<float>(const float* in, const float* d_out, float* d_weights, float* d_bias,
                                   std::size_t rows, const ConvGeometry& geometry, float* scratch) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardParamsF32)(in, d_out, d_weights, d_bias, rows, geometry, scratch);
}
template <>
void max_pool_forward<float>(const float* in, float* out, float* argmax, std::size_t rows,
                             const PoolGeometry& geometry) {
  HWY_DYNAMIC_DISPATCH(MaxPoolForwardF32)(in, out, argmax, rows, geometry);
}
template <>
void max_pool_backward<float>(const float* d_out, const float* argmax, float* d_in, std::size_t rows,
                              const PoolGeometry& geometry) {
  HWY_DYNAMIC_DISPATCH(MaxPoolBackwardF32)(d_out, argmax, d_in, rows, geometry);
}

}  // namespace typenet::kernels
#endif  // HWY_ONCE
