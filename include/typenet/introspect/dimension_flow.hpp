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
  using weights = Matrix<T, Stage::input_width, Stage::output_width>;
  using bias = RowVector<T, Stage::output_width>;
  using input = Matrix<T, Batch, Stage::input_width>;

  // A parameter's gradient has the parameter's own type.
  static_assert(
      std::is_same_v<weights, std::remove_cvref_t<
                                  decltype(std::declval<Net&>().template layer<Stage::position>().weights)>>);
  static_assert(
      std::is_same_v<
          bias, std::remove_cvref_t<decltype(std::declval<Net&>().template layer<Stage::position>().bias)>>);
};

namespace detail {

// True when each layer's grad_a (the gradient it sends back) has the type of the previous layer's grad_z:
// the chain of seed 000 §4.3.7 closes. Network types already guarantee it; this states it in the table's
// terms.
template <class Net, std::size_t Batch, std::size_t... K>
constexpr bool gradient_shapes_chain(std::index_sequence<K...>) {
  return (std::is_same_v<typename GradientShapes<Net, Batch, K + 1>::input,
                         typename GradientShapes<Net, Batch, K>::z> &&
          ...);
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
    case kernels::Activation::identity:
      break;
  }
  return gradient;
}

}  // namespace detail

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
  constexpr std::size_t L = Net::stage_count;
  std::vector<DimensionFlowRow> rows;
  detail::for_each_index<L, true>([&](auto k) {
    constexpr std::size_t K = decltype(k)::value;
    using Shapes = GradientShapes<Net, Batch, K>;
    using Stage = typename Shapes::Stage;
    const std::string n = std::to_string(K + 1);
    const std::string z = detail::concat({"grad_z", n});
    const std::string input = K == 0 ? std::string("x") : detail::concat({"a", std::to_string(K)});
    std::string computation;
    if constexpr (K + 1 == L) {
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
    rows.push_back(
        {K + 1 == L ? z + " (output)" : z, detail::shape_text(Batch, Stage::output_width), computation, p});
    rows.push_back({detail::concat({"grad_W", n}),
                    detail::shape_text(Stage::input_width, Stage::output_width),
                    detail::concat({input, "^T @ ", z}), p});
    rows.push_back({detail::concat({"grad_b", n}), detail::shape_text(Stage::output_width),
                    detail::concat({"sum(", z, ", axis=0)"}), p});
    if constexpr (K > 0)
      rows.push_back({detail::concat({"grad_a", std::to_string(K)}),
                      detail::shape_text(Batch, Stage::input_width), detail::concat({z, " @ W", n, "^T"}),
                      p});
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
