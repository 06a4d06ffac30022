// Elementwise kernels and row-wise losses for double: one scalar type per translation unit.
#include "kernels/targets.h"  // first: decides the Highway targets

#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/elementwise_f64.cc"  // found through the private include directory src/
#include <hwy/foreach_target.h>                          // IWYU pragma: keep

#include <hwy/highway.h>

#include "kernels/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace typenet::kernels::HWY_NAMESPACE {
TYPENET_ELEMENTWISE_ENTRY_POINTS(double, F64)
}  // namespace typenet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace typenet::kernels {

HWY_EXPORT(ActivationForwardF64);
HWY_EXPORT(ActivationBackwardF64);
HWY_EXPORT(SoftmaxF64);
HWY_EXPORT(SoftmaxCrossEntropyLabelsF64);
HWY_EXPORT(SoftmaxCrossEntropyTargetsF64);
HWY_EXPORT(MeanSquaredErrorF64);
HWY_EXPORT(SumOfSquaresF64);
HWY_EXPORT(FindNonFiniteF64);

template <>
void activation_forward<double>(const double* in, double* out, std::size_t count, Activation act) {
  HWY_DYNAMIC_DISPATCH(ActivationForwardF64)(in, out, count, act);
}
template <>
void activation_backward<double>(const double* out, const double* d_out, double* d_in, std::size_t count,
                                 Activation act) {
  HWY_DYNAMIC_DISPATCH(ActivationBackwardF64)(out, d_out, d_in, count, act);
}
template <>
void softmax<double>(const double* logits, double* probs, std::size_t rows, std::size_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxF64)(logits, probs, rows, cols);
}
template <>
double softmax_cross_entropy<double>(const double* logits, const std::uint32_t* labels, double* probs,
                                     double* d_logits, std::size_t rows, std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyLabelsF64)(logits, labels, probs, d_logits, rows, cols);
}
template <>
double softmax_cross_entropy<double>(const double* logits, const double* targets, double* probs,
                                     double* d_logits, std::size_t rows, std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyTargetsF64)(logits, targets, probs, d_logits, rows, cols);
}
template <>
double mean_squared_error<double>(const double* y, const double* targets, double* d_y, std::size_t rows,
                                  std::size_t cols) {
  return HWY_DYNAMIC_DISPATCH(MeanSquaredErrorF64)(y, targets, d_y, rows, cols);
}
template <>
double sum_of_squares<double>(const double* x, std::size_t count) {
  return HWY_DYNAMIC_DISPATCH(SumOfSquaresF64)(x, count);
}

template <>
std::size_t find_non_finite<double>(const double* x, std::size_t count) {
  return HWY_DYNAMIC_DISPATCH(FindNonFiniteF64)(x, count);
}

}  // namespace typenet::kernels
#endif  // HWY_ONCE
