// Temporary: the kernel seam served by the scalar reference until the Highway kernels land.
#include "typenet/kernels/kernels.hpp"
#include "typenet/kernels/reference.hpp"

namespace typenet::kernels {

#define TYPENET_FORWARD_TO_REFERENCE(T)                                                                      \
  template <>                                                                                                \
  void dense_forward<T>(const T* in, const T* w, const T* b, T* out, std::size_t rows, std::size_t inner,   \
                        std::size_t cols, Activation act) {                                                  \
    reference::dense_forward(in, w, b, out, rows, inner, cols, act);                                         \
  }                                                                                                          \
  template <>                                                                                                \
  void dense_backward_input<T>(const T* d_out, const T* w, const T* in, T* d_in, std::size_t rows,          \
                               std::size_t inner, std::size_t cols, Activation in_act) {                     \
    reference::dense_backward_input(d_out, w, in, d_in, rows, inner, cols, in_act);                          \
  }                                                                                                          \
  template <>                                                                                                \
  void dense_backward_params<T>(const T* in, const T* d_out, T* dw, T* db, std::size_t rows,                \
                                std::size_t inner, std::size_t cols) {                                       \
    reference::dense_backward_params(in, d_out, dw, db, rows, inner, cols);                                  \
  }                                                                                                          \
  template <>                                                                                                \
  void dense_backward_params_sgd<T>(const T* in, const T* d_out, T* w, T* b, T lr, std::size_t rows,        \
                                    std::size_t inner, std::size_t cols) {                                   \
    reference::dense_backward_params_sgd(in, d_out, w, b, lr, rows, inner, cols);                            \
  }                                                                                                          \
  template <>                                                                                                \
  void activation_forward<T>(const T* in, T* out, std::size_t count, Activation act) {                      \
    reference::activation_forward(in, out, count, act);                                                      \
  }                                                                                                          \
  template <>                                                                                                \
  void activation_backward<T>(const T* out, const T* d_out, T* d_in, std::size_t count, Activation act) {   \
    reference::activation_backward(out, d_out, d_in, count, act);                                            \
  }                                                                                                          \
  template <>                                                                                                \
  void softmax<T>(const T* logits, T* probs, std::size_t rows, std::size_t cols) {                          \
    reference::softmax(logits, probs, rows, cols);                                                           \
  }                                                                                                          \
  template <>                                                                                                \
  T softmax_cross_entropy<T>(const T* logits, const std::uint32_t* labels, T* probs, T* d_logits,           \
                             std::size_t rows, std::size_t cols) {                                           \
    return reference::softmax_cross_entropy(logits, labels, probs, d_logits, rows, cols);                    \
  }                                                                                                          \
  template <>                                                                                                \
  T softmax_cross_entropy<T>(const T* logits, const T* targets, T* probs, T* d_logits, std::size_t rows,    \
                             std::size_t cols) {                                                             \
    return reference::softmax_cross_entropy(logits, targets, probs, d_logits, rows, cols);                   \
  }                                                                                                          \
  template <>                                                                                                \
  T mean_squared_error<T>(const T* y, const T* t, T* d_y, std::size_t rows, std::size_t cols) {             \
    return reference::mean_squared_error(y, t, d_y, rows, cols);                                             \
  }                                                                                                          \
  template <>                                                                                                \
  T sum_of_squares<T>(const T* x, std::size_t count) {                                                      \
    return reference::sum_of_squares(x, count);                                                              \
  }                                                                                                          \
  template <>                                                                                                \
  void scale<T>(T * x, T factor, std::size_t count) {                                                       \
    reference::scale(x, factor, count);                                                                      \
  }                                                                                                          \
  template <>                                                                                                \
  void sgd_update<T>(T * p, const T* g, T lr, std::size_t count) {                                         \
    reference::sgd_update(p, g, lr, count);                                                                  \
  }                                                                                                          \
  template <>                                                                                                \
  void momentum_update<T>(T * p, const T* g, T* v, T lr, T mu, std::size_t count) {                         \
    reference::momentum_update(p, g, v, lr, mu, count);                                                      \
  }                                                                                                          \
  template <>                                                                                                \
  void adam_update<T>(T * p, const T* g, T* m, T* v, T lr, T b1, T b2, T eps, T c1, T c2,                   \
                      std::size_t count) {                                                                   \
    reference::adam_update(p, g, m, v, lr, b1, b2, eps, c1, c2, count);                                      \
  }

TYPENET_FORWARD_TO_REFERENCE(float)
TYPENET_FORWARD_TO_REFERENCE(double)

}  // namespace typenet::kernels
