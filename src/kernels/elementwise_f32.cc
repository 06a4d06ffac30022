// Elementwise kernels and row-wise losses for float: one scalar type per translation unit.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/elementwise_f32.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                          // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_ELEMENTWISE_ENTRY_POINTS(float, F32)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(ActivationForwardF32);
HWY_EXPORT(ActivationBackwardF32);
HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(SoftmaxCrossEntropyLabelsF32);
HWY_EXPORT(SoftmaxCrossEntropyTargetsF32);
HWY_EXPORT(MeanSquaredErrorF32);
HWY_EXPORT(SumOfSquaresF32);
HWY_EXPORT(FindNonFiniteF32);

template <>
void activation_forward<float>(const float* in, float* out, std::size_t count, Activation act) {
  HWY_DYNAMIC_DISPATCH(ActivationForwardF32)(in, out, count, act);
}
template <>
void activation_backward<float>(const float* out, const float* d_out, float* d_in, std::size_t count,
                                Activation act) {
  HWY_DYNAMIC_DISPATCH(ActivationBackwardF32)(out, d_out, d_in, count, act);
}
template <>
void softmax<float>(const float* logits, float* probs, std::size_t rows, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxF32)(logits, probs, rows, cols);
}
template <>
float softmax_cross_entropy<float>(const float* logits, const std::uint32_t* labels, float* probs,
                                   float* d_logits, std::size_t rows, std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyLabelsF32)(logits, labels, probs, d_logits, rows, cols);
}
template <>
float softmax_cross_entropy<float>(const float* logits, const float* targets, float* probs, float* d_logits,
                                   std::size_t rows, std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyTargetsF32)(logits, targets, probs, d_logits, rows, cols);
}
template <>
float mean_squared_error<float>(const float* y, const float* targets, float* d_y, std::size_t rows,
                                std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(MeanSquaredErrorF32)(y, targets, d_y, rows, cols);
}
template <>
float sum_of_squares<float>(const float* x, std::size_t count) {
  return HWY_DYNAMIC_DISPATCH(SumOfSquaresF32)(x, count);
}

template <>
std::size_t find_non_finite<float>(const float* x, std::size_t count) {
  return HWY_DYNAMIC_DISPATCH(FindNonFiniteF32)(x, count);
}

}  // namespace typenet::kernels
#endif  // HWY_ONCE
