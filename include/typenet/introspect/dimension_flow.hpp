// typenet::dimension_flow<Net, Batch>(): the table of seed 000 §4.3.7 (every gradient of the backward pass,
// its shape and how it is computed), generated from the network's type. The shapes come from
// GradientShapes, the types the backward pass works on, so the table cannot drift from the code.
//
//   typenet::print_dimension_flow<Net, 32>(std::cout);
//   grad_z3 (output)     (32, 10)                  p - y
//   grad_W3              (128, 10)                 a2^T @ grad_z3
//   ...
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/core/matrix.hpp"
#include "typenet/introspect/text.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/parameters.hpp"

namespace typenet {

// The gradient types of stage K (the K-th layer with parameters, counted from 0) for a batch of Batch rows.
// Named 1-based as in the seed's math: for K = 2, z is grad_z3, weights grad_W3, bias grad_b3, input grad_a2
// (dL/dx when K = 0). The layer itself stands at position Stage::position of the network.
template <class Net, std::size_t Batch, std::size_t K>
struct GradientShapes {
  using T = typename Net::scalar_type;
  using Stage = typename Net::template stage<K>;
  using z = Matrix<T, Batch, Stage::output_width>;
  using weights = Matrix<T, Stage::input_width, Stage::output_width>;  // a Dense layer's
  using bias = RowVector<T, Stage::output_width>;
  using input = Matrix<T, Batch, Stage::input_width>;
};

namespace detail {

// A Dense layer's parameter gradients have its parameters' own types.
template <class Net, std::size_t Batch, std::size_t K>
constexpr bool dense_gradient_types_match() {
  using Shapes = GradientShapes<Net, Batch, K>;
  using P = std::remove_cvref_t<decltype(std::declval<Net&>().template layer<Shapes::Stage::position>())>;
  return std::is_same_v<typename Shapes::weights, decltype(P::weights)> &&
         std::is_same_v<typename Shapes::bias, decltype(P::bias)>;
}

// True when each layer's grad_a (the gradient it sends back) has the type of the previous layer's grad_z:
// the chain of seed 000 §4.3.7 closes. Network types already guarantee it; this states it in the table's
// terms.
template <class Net, std::size_t Batch, std::size_t... K>
constexpr bool gradient_shapes_chain(std::index_sequence<K...>) {
  return (std::is_same_v<typename GradientShapes<Net, Batch, K + 1>::input,
                         typename GradientShapes<Net, Batch, K>::z> &&
          ...);
}

// "(32, 6, 28, 28)": a batch of samples of Shape S.
template <class S>
std::string batch_shape_text(std::size_t batch) {
  std::string text = concat({"(", std::to_string(batch)});
  for (std::size_t d : S::dims) text += concat({", ", std::to_string(d)});  // concat: see text.hpp
  text += ')';
  return text;
}

// How a layer computes a parameter's gradient and its input's, in the seed's notation where it says
// (layers/contract.hpp: gradient_text, input_gradient_text), else in words.
// The table's name of a parameter's gradient: grad_W3, grad_b3, grad_gamma2 (BatchNorm's scale).
inline const char* gradient_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::weights:
      return "grad_W";
    case TensorKind::scale:
      return "grad_gamma";
    case TensorKind::shift:
      return "grad_beta";
    default:
      return "grad_b";
  }
}

template <class L>
std::string gradient_text(TensorKind kind, const std::string& input, const std::string& z) {
  if constexpr (requires { L::gradient_text(kind, input, z); })
    return L::gradient_text(kind, input, z);
  else
    return concat({"d", z, "/d", to_string(kind), " of ", L::name()});
}
template <class L>
std::string input_gradient_text(const std::string& z, const std::string& n) {
  if constexpr (requires { L::input_gradient_text(z, n); })
    return L::input_gradient_text(z, n);
  else
    return concat({"backward of ", L::name(), " (", z, ")"});
}

inline std::string shape_text(std::size_t rows, std::size_t cols) {
  return concat({"(", std::to_string(rows), ", ", std::to_string(cols), ")"});
}
inline std::string shape_text(std::size_t length) {
  return concat({"(", std::to_string(length), ",)"});
}

// "grad_a * act'" written through the activation's output a, as the kernels compute it.
inline std::string activation_backward_text(const std::string& gradient, const std::string& a,
                                            kernels::Activation act) {
  switch (act) {
    case kernels::Activation::sigmoid:
      return concat({gradient, " * ", a, " * (1-", a, ")"});
    case kernels::Activation::relu:
      return concat({gradient, " * (", a, " > 0)"});
    case kernels::Activation::tanh:
      return concat({gradient, " * (1-", a, "^2)"});
    case kernels::Activation::leaky_relu:
      return concat({gradient, " * (", a, " > 0 ? 1 : 0.01)"});
    case kernels::Activation::identity:
      break;
  }
  return gradient;
}

}  // namespace detail

// "(128, 10)", or "(10,)" for a row vector (a bias): a parameter tensor's shape.
template <class M>
std::string tensor_shape_text() {
  return M::rows == 1 ? detail::shape_text(M::cols) : detail::shape_text(M::rows, M::cols);
}

// A row names its gradient in the seed's math (W3: the third layer with parameters); `layer` is the position
// of that layer in the network, counted as everywhere else.
struct DimensionFlowRow {
  std::string gradient;     // "grad_W3"
  std::string shape;        // "(128, 10)", "(10,)" for a bias
  std::string computation;  // "a2^T @ grad_z3"
  std::size_t layer = 0;    // 4
};

template <class Net, std::size_t Batch>
std::vector<DimensionFlowRow> dimension_flow() {
  static_assert(Batch > 0, "typenet::dimension_flow: the batch size must be positive");
  static_assert(detail::gradient_shapes_chain<Net, Batch>(std::make_index_sequence<Net::stage_count - 1>{}),
                "typenet: the gradient shapes of the backward pass do not chain");
  constexpr std::size_t L_count = Net::stage_count;
  std::vector<DimensionFlowRow> rows;
  detail::for_each_index<L_count, true>([&](auto k) {
    constexpr std::size_t K = decltype(k)::value;
    using Shapes = GradientShapes<Net, Batch, K>;
    using Stage = typename Shapes::Stage;
    const std::string n = std::to_string(K + 1);
    const std::string z = detail::concat({"grad_z", n});
    const std::string input = K == 0 ? std::string("x") : detail::concat({"a", std::to_string(K)});
    std::string computation;
    if constexpr (K + 1 == L_count) {
      // Seed 003: softmax + CE and identity + MSE both send back output minus target.
      const std::string loss = Net::loss_type::outputs_probabilities ? "p - y" : "y - t";
      computation = Stage::activation == kernels::Activation::identity
                        ? loss
                        : detail::activation_backward_text(detail::concat({"(", loss, ")"}),
                                                           detail::concat({"a", n}), Stage::activation);
    } else {
      computation = detail::activation_backward_text(detail::concat({"grad_a", n}), detail::concat({"a", n}),
                                                     Stage::activation);
    }
    constexpr std::size_t p = Stage::position;
    using L = typename Stage::layer;
    rows.push_back({K + 1 == L_count ? z + " (output)" : z,
                    detail::batch_shape_text<typename Stage::output_shape>(Batch), computation, p});
    using P = typename Net::Parameters::template layer_parameters<p>;
    std::apply(
        [&](auto... tensor) {
          (rows.push_back({detail::concat({detail::gradient_name(tensor.kind), n}),
                           tensor_shape_text<detail::member_matrix_t<P, decltype(tensor)>>(),
                           detail::gradient_text<L>(tensor.kind, input, z), p}),
           ...);
        },
        P::tensors());
    if constexpr (K > 0)
      rows.push_back({detail::concat({"grad_a", std::to_string(K)}),
                      detail::batch_shape_text<typename Stage::input_shape>(Batch),
                      detail::input_gradient_text<L>(z, n), p});
  });
  return rows;
}

// The table as seed 000 §4.3.7 prints it: 80-column rules, columns of 20, 25 and 30 characters.
inline std::string format_dimension_flow(const std::vector<DimensionFlowRow>& rows, std::size_t batch) {
  const std::string rule(80, '='), thin(80, '-');
  std::string text = detail::concat({"\n", rule, "\nBackward Propagation Dimension Flow\n", rule, "\n"});
  text += detail::concat({"Batch Size: ", std::to_string(batch), "\n\n"});
  auto line = [](const std::string& a, const std::string& b, const std::string& c) {
    return detail::concat(
        {detail::pad_right(a, 20), " ", detail::pad_right(b, 25), " ", detail::pad_right(c, 30), "\n"});
  };
  text += line("Gradient", "Shape", "Computation");
  text += thin;
  text += "\n";
  for (const DimensionFlowRow& row : rows) text += line(row.gradient, row.shape, row.computation);
  return text + rule + "\n";
}

template <class Net, std::size_t Batch>
void print_dimension_flow(std::ostream& out) {
  out << format_dimension_flow(dimension_flow<Net, Batch>(), Batch);
}

}  // namespace typenet
