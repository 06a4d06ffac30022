// Dense<In, Out>: the affine layer Y = X.W + b of seed 004 (W is In x Out, b is 1 x Out).
// Its backward pass is dX = dY.W^T, dW = X^T.dY, db = column sums of dY; the activation that follows a
// Dense layer in the network is fused into these kernels (see network/stage.hpp). Each function takes an
// optional thread pool (null: one thread) for its product.
#pragma once

#include <cstddef>

#include "typenet/core/matrix.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/layer_traits.hpp"

namespace typenet {

template <std::size_t In, std::size_t Out>
struct Dense {
  static constexpr std::size_t input_width = In;
  static constexpr std::size_t output_width = Out;

  template <class T>
  struct Parameters {
    Matrix<T, In, Out> weights;
    RowVector<T, Out> bias;
  };

  // out = act(in.W + b)
  template <class T, std::size_t Rows>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, In> in, MatrixView<T, Rows, Out> out,
                      kernels::Activation act, kernels::ThreadPool* pool = nullptr) {
    kernels::dense_forward(in.data(), p.weights.data(), p.bias.data(), out.data(), in.row_count(), In, Out,
                           act, pool);
  }

  // d_in = (d_out.W^T) (.) act'(in): the gradient reaching the previous layer's pre-activation.
  template <class T, std::size_t Rows>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, Out> d_out,
                             MatrixView<const T, Rows, In> in, MatrixView<T, Rows, In> d_in,
                             kernels::Activation in_act, kernels::ThreadPool* pool = nullptr) {
    kernels::dense_backward_input(d_out.data(), p.weights.data(), in.data(), d_in.data(), d_out.row_count(),
                                  In, Out, in_act, pool);
  }

  // grads = (in^T.d_out, column sums of d_out)
  template <class T, std::size_t Rows>
  static void backward_params(MatrixView<const T, Rows, In> in, MatrixView<const T, Rows, Out> d_out,
                              Parameters<T>& grads, kernels::ThreadPool* pool = nullptr) {
    kernels::dense_backward_params(in.data(), d_out.data(), grads.weights.data(), grads.bias.data(),
                                   in.row_count(), In, Out, pool);
  }

  // params -= lr * (in^T.d_out, column sums of d_out), without writing the gradient to memory.
  template <class T, std::size_t Rows>
  static void backward_params_sgd(MatrixView<const T, Rows, In> in, MatrixView<const T, Rows, Out> d_out,
                                  Parameters<T>& params, T learning_rate,
                                  kernels::ThreadPool* pool = nullptr) {
    kernels::dense_backward_params_sgd(in.data(), d_out.data(), params.weights.data(), params.bias.data(),
                                       learning_rate, in.row_count(), In, Out, pool);
  }

  // Batch 1: backward_input and backward_params_sgd in one pass over W (each row's part of d_in is taken
  // before the row is updated); the same results as the two calls.
  template <class T>
  static void backward_input_then_sgd(Parameters<T>& params, MatrixView<const T, 1, Out> d_out,
                                      MatrixView<const T, 1, In> in, MatrixView<T, 1, In> d_in,
                                      kernels::Activation in_act, T learning_rate) {
    kernels::dense_backward_input_then_sgd(d_out.data(), params.weights.data(), params.bias.data(), in.data(),
                                           d_in.data(), learning_rate, In, Out, in_act);
  }

  // Batch 1: backward_params_sgd, then next_out = act(next_in.W + b) with the updated parameters, in the
  // same pass over W (each updated row feeds the forward while it is in registers).
  template <class T>
  static void sgd_then_forward(MatrixView<const T, 1, In> in, MatrixView<const T, 1, Out> d_out,
                               Parameters<T>& params, T learning_rate, MatrixView<const T, 1, In> next_in,
                               MatrixView<T, 1, Out> next_out, kernels::Activation act) {
    kernels::dense_sgd_then_forward(in.data(), d_out.data(), params.weights.data(), params.bias.data(),
                                    learning_rate, next_in.data(), next_out.data(), In, Out, act);
  }
};

}  // namespace typenet
