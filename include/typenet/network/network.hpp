// typenet::Network<Layers...>: a network whose whole shape is its type.
//
//   using Net = typenet::Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>,
//                                SoftmaxCrossEntropy>;
//
// Naming the type runs every shape check (shape_check.hpp and each layer's own); the result is a
// NetworkImpl that holds the parameters of every layer (a ParameterSet, by position), runs the one forward
// walk over its stages (inference, the loss-only pass and training all use it) and runs inference over any
// number of samples. Training lives in train/trainer.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "typenet/core/init.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/core/random.hpp"
#include "typenet/network/build_network.hpp"
#include "typenet/network/inference_workspace.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/parameters.hpp"
#include "typenet/network/workspace.hpp"

namespace typenet {

// The network in scalar type T (float or double): `BasicNetwork<double, Dense<4, 3>, ...>`.
template <class T, class... Layers>
using BasicNetwork = typename decltype(detail::build_network<T, Layers...>(
    std::make_index_sequence<sizeof...(Layers)>{}))::type;

// The network in float, the usual choice for training. (Not written as BasicNetwork<float, ...>: one alias
// level less keeps the shape errors short.)
template <class... Layers>
using Network = typename decltype(detail::build_network<float, Layers...>(
    std::make_index_sequence<sizeof...(Layers)>{}))::type;

// Class indices of a batch, one per row.
template <std::size_t Rows>
using Labels = std::array<std::uint32_t, Rows>;

namespace detail {

// A count that every assignment of its owner raises (a copy starts from 0): see writable_access_count().
class AccessCount {
 public:
  AccessCount() = default;
  AccessCount(const AccessCount&) {}
  AccessCount& operator=(const AccessCount&) {
    ++count_;
    return *this;
  }
  void raise() { ++count_; }
  std::uint64_t value() const { return count_; }

 private:
  std::uint64_t count_ = 0;
};

// Runs one stage's forward pass, with its activation when the layer fuses one.
template <class S, class P, class In, class Out, class T>
void stage_forward(const P& parameters, In in, Out out, const LayerContext<T>& ctx) {
  if constexpr (fuses_activation<typename S::layer>())
    S::layer::forward(parameters, in, out, S::activation, ctx);
  else
    S::layer::forward(parameters, in, out, ctx);
}

template <class T, class Plan>
class NetworkImpl {
 public:
  using scalar_type = T;
  using plan = Plan;
  using loss_type = typename Plan::loss;
  using Parameters = ParameterSet<T, typename Plan::layers>;
  using Workspace = detail::Workspace<T, Plan>;
  static constexpr std::size_t layer_count = Plan::layer_count;
  static constexpr std::size_t stage_count = Plan::stage_count;
  template <std::size_t K>
  using stage = std::tuple_element_t<K, typename Plan::stages>;
  // The layer at position I, as built (layers/contract.hpp: fitted_to).
  template <std::size_t I>
  using layer_type = typename Plan::template layer<I>;

  using input_shape = typename Plan::input_shape;
  using output_shape = typename stage<stage_count - 1>::output_shape;
  static constexpr std::size_t input_width = input_shape::size;    // values per sample
  static constexpr std::size_t output_width = output_shape::size;  // outputs per sample
  static constexpr std::size_t parameter_count = Parameters::parameter_count;
  static constexpr std::size_t state_count = Parameters::state_count;  // saved, not trained
  // widths[k]: the input width of stage k; widths[stage_count]: the network's output width.
  static constexpr std::array<std::size_t, stage_count + 1> widths = [] {
    std::array<std::size_t, stage_count + 1> w{};
    for_each_index<stage_count>([&](auto k) {
      w[k] = stage<decltype(k)::value>::input_width;
      w[k + 1] = stage<decltype(k)::value>::output_width;
    });
    return w;
  }();

  // He-initialised from seed 0 unless told otherwise.
  template <Initializer Init = HeNormal>
  explicit NetworkImpl(const Init& init = Init{}) {
    initialize(init);
  }

  template <Initializer Init>
  void initialize(const Init& init) {
    writable_accesses_.raise();
    NormalSource source(init.seed);
    for_each_index<layer_count>([&](auto i) {
      constexpr std::size_t I = decltype(i)::value;
      using P = typename Parameters::template layer_parameters<I>;
      if constexpr (std::tuple_size_v < decltype(P::tensors()) >> 0)
        layer_type<I>::template initialize<Init>(parameters_.template layer<I>(), source);
    });
  }

  Parameters& parameters() {
    writable_accesses_.raise();
    return parameters_;
  }
  const Parameters& parameters() const { return parameters_; }

  // How often the parameters were handed out writable (parameters(), layer<I>(), for_each_parameter_tensor,
  // initialize) or assigned: what was computed from them is current while this has not changed (Trainer's
  // lookahead checks it). Writes through a reference kept from an earlier call are not seen.
  std::uint64_t writable_access_count() const { return writable_accesses_.value(); }

  // The parameters of the layer at position I (counted as everywhere: activations and the loss included,
  // which have none): for Dense, .weights (In x Out) and .bias (1 x Out).
  template <std::size_t I>
  auto& layer() {
    writable_accesses_.raise();
    return parameters_.template layer<I>();
  }
  template <std::size_t I>
  const auto& layer() const {
    return parameters_.template layer<I>();
  }

  // Calls f(ParameterTensor<T>) for each parameter tensor, in order.
  template <class F>
  void for_each_parameter_tensor(F&& f) {
    writable_accesses_.raise();
    parameters_.for_each_tensor(f);
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) const {
    parameters_.for_each_tensor(f);
  }

  // Calls f(ParameterTensor<T>) for each state tensor (BatchNorm's running statistics), in order.
  template <class F>
  void for_each_state_tensor(F&& f) {
    writable_accesses_.raise();
    parameters_.for_each_state_tensor(f);
  }
  template <class F>
  void for_each_state_tensor(F&& f) const {
    parameters_.for_each_state_tensor(f);
  }

  // The forward walk: stages First, First + 1, ... on x (stage First - 1's output already in `work`), each
  // writing its output into `work`. Used by inference, the loss-only pass and training.
  // random_seed: the step's seed for the random layers (detail::step_random_seed), when training.
  template <std::size_t Rows, std::size_t First = 0>
  void forward(MatrixView<const T, Rows, input_width> x, const Workspace& work, kernels::ThreadPool* pool,
               bool training, std::uint64_t random_seed = 0) const {
    const std::size_t rows = x.row_count();
    for_each_index<stage_count>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      if constexpr (K >= First) {
        const LayerContext<T> ctx{pool, work.template kept<K>(rows), training, work.scratch(),
                                  detail::stage_random_seed(random_seed, K)};
        const auto& p = parameters_.template layer<S::position>();
        if constexpr (K == 0)
          stage_forward<S>(p, x, work.template output<Rows, K>(rows), ctx);
        else
          stage_forward<S>(p,
                           MatrixView<const T, Rows, S::input_width>(work.template output<Rows, K - 1>(rows)),
                           work.template output<Rows, K>(rows), ctx);
      }
    });
  }

  // Probabilities (SoftmaxCrossEntropy) or outputs (MeanSquaredError) for any number of samples.
  template <std::size_t Rows, std::size_t Width>
  void predict(MatrixView<const T, Rows, Width> x, MatrixView<T, Rows, output_width> out) const {
    check_input_width<network_input_width<input_width>, given_width<Width>>();
    if constexpr (Width == input_width) predict_rows(x, out);
  }
  // A view of writable memory reads as a view of const.
  template <std::size_t Rows, std::size_t Width>
  void predict(MatrixView<T, Rows, Width> x, MatrixView<T, Rows, output_width> out) const {
    predict(MatrixView<const T, Rows, Width>(x), out);
  }
  template <std::size_t Rows, std::size_t Width>
  void predict(const Matrix<T, Rows, Width>& x, Matrix<T, Rows, output_width>& out) const {
    predict(x.view(), out.view());
  }
  template <std::size_t Rows, std::size_t Width>
  Matrix<T, Rows, output_width> predict(const Matrix<T, Rows, Width>& x) const {
    Matrix<T, Rows, output_width> out;
    predict(x.view(), out.view());
    return out;
  }

  // The most likely class of each sample (the index of its largest output).
  template <std::size_t Rows, std::size_t Width>
  std::vector<std::uint32_t> classify(MatrixView<const T, Rows, Width> x) const {
    check_input_width<network_input_width<input_width>, given_width<Width>>();
    if constexpr (Width == input_width)
      return classify_rows(x);
    else
      return {};
  }
  template <std::size_t Rows, std::size_t Width>
  std::vector<std::uint32_t> classify(MatrixView<T, Rows, Width> x) const {
    return classify(MatrixView<const T, Rows, Width>(x));
  }
  template <std::size_t Rows, std::size_t Width>
  std::vector<std::uint32_t> classify(const Matrix<T, Rows, Width>& x) const {
    return classify(x.view());
  }

 private:
  static constexpr std::size_t inference_chunk_rows = 256;

  template <std::size_t Rows>
  std::vector<std::uint32_t> classify_rows(MatrixView<const T, Rows, input_width> x) const {
    std::vector<std::uint32_t> classes(x.row_count());
    std::vector<T> chunk_out(inference_chunk_rows * output_width);
    for (std::size_t first = 0; first < x.row_count(); first += inference_chunk_rows) {
      const std::size_t count = std::min(inference_chunk_rows, x.row_count() - first);
      MatrixView<T, dynamic_rows, output_width> out(chunk_out.data(), count);
      predict_chunk(MatrixView<const T, dynamic_rows, input_width>(x.data() + first * input_width, count),
                    out);
      for (std::size_t r = 0; r < count; ++r) {
        const T* row = out.data() + r * output_width;
        classes[first + r] = std::uint32_t(std::max_element(row, row + output_width) - row);
      }
    }
    return classes;
  }

  template <std::size_t Rows>
  void predict_rows(MatrixView<const T, Rows, input_width> x, MatrixView<T, Rows, output_width> out) const {
    const std::size_t rows = x.row_count();
    for (std::size_t first = 0; first < rows; first += inference_chunk_rows) {
      const std::size_t count = std::min(inference_chunk_rows, rows - first);
      predict_chunk(MatrixView<const T, dynamic_rows, input_width>(x.data() + first * input_width, count),
                    MatrixView<T, dynamic_rows, output_width>(out.data() + first * output_width, count));
    }
  }

  // At most inference_chunk_rows rows: the forward walk, then the loss's prediction (softmax) into `out`.
  void predict_chunk(MatrixView<const T, dynamic_rows, input_width> x,
                     MatrixView<T, dynamic_rows, output_width> out) const {
    const auto lease = inference_work_.lease();
    Workspace& work = *lease;
    work.reserve(inference_chunk_rows, false);
    const std::size_t rows = x.row_count();
    forward(x, work, nullptr, false);
    loss_type::predict(work.template output<dynamic_rows, stage_count - 1>(rows).data(), out.data(), rows,
                       output_width);
  }

  Parameters parameters_;
  InferenceWorkspace<Workspace> inference_work_;  // see inference_workspace.hpp: const is thread-safe
  AccessCount writable_accesses_;
};

// "Dense<784, 256>, Sigmoid, ..., SoftmaxCrossEntropy": the layers as the network builds them.
template <class Net>
std::string network_text() {
  std::string text;
  for (std::size_t i = 0; i < Net::layer_count; ++i) text += (i ? ", " : "") + Net::plan::layer_name(i);
  return text;
}

}  // namespace detail
}  // namespace typenet
