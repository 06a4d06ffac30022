// typenet::Network<Layers...>: a network whose whole shape is its type.
//
//   using Net = typenet::Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>,
//                                SoftmaxCrossEntropy>;
//
// Naming the type runs every shape check (shape_check.hpp); the result is a NetworkImpl that holds the
// parameters of each Dense layer (a Hana tuple, walked forward for inference and in reverse for backprop)
// and runs inference over any number of samples. Training lives in train/trainer.hpp.
#pragma once

#include <array>
#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/reverse.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "typenet/core/arena.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/network/build_network.hpp"
#include "typenet/network/init.hpp"
#include "typenet/network/io_checks.hpp"

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

// One parameter tensor, as the gradient check and the model file see it.
template <class T>
struct ParameterTensor {
  std::size_t stage;  // which Dense layer, counted from 0 over Dense layers only
  const char* name;   // "weights" or "bias"
  std::size_t rows, cols;
  std::span<T> values;
};

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

template <class T, class Loss, class... Stages>
class NetworkImpl {
 public:
  using scalar_type = T;
  using loss_type = Loss;
  static constexpr std::size_t stage_count = sizeof...(Stages);
  // widths[k]: the input width of stage k; widths[stage_count]: the network's output width.
  static constexpr std::array<std::size_t, stage_count + 1> widths = {layer_at<0, Stages...>::input_width,
                                                                      Stages::output_width...};
  static constexpr std::size_t input_width = widths.front();
  static constexpr std::size_t output_width = widths.back();
  static constexpr std::size_t parameter_count = (((Stages::input_width + 1) * Stages::output_width) + ...);

  template <std::size_t K>
  using stage = layer_at<K, Stages...>;
  using Parameters = boost::hana::tuple<typename Stages::layer::template Parameters<T>...>;

  static constexpr auto stage_indices = boost::hana::to_tuple(
      boost::hana::make_range(boost::hana::size_c<0>, boost::hana::size_c<stage_count>));
  static constexpr auto reverse_stage_indices = boost::hana::reverse(stage_indices);

  // He-initialised from seed 0 unless told otherwise.
  template <Initializer Init = HeNormal>
  explicit NetworkImpl(const Init& init = Init{}) {
    initialize(init);
  }

  template <Initializer Init>
  void initialize(const Init& init) {
    writable_accesses_.raise();
    NormalSource source(init.seed);
    boost::hana::for_each(parameters_, [&](auto& p) {
      using W = std::remove_reference_t<decltype(p.weights)>;
      detail::fill_weights<Init>(source, p.weights.data(), W::rows, W::cols);
      p.bias.fill(T(0));
    });
  }

  Parameters& parameters() {
    writable_accesses_.raise();
    return parameters_;
  }
  const Parameters& parameters() const { return parameters_; }

  // How often the parameters were handed out writable (parameters(), layer<K>(), for_each_parameter_tensor,
  // initialize) or assigned: what was computed from them is current while this has not changed (Trainer's
  // lookahead checks it). Writes through a reference kept from an earlier call are not seen.
  std::uint64_t writable_access_count() const { return writable_accesses_.value(); }

  // The parameters of Dense layer K (counted over Dense layers only): .weights (In x Out), .bias (1 x Out).
  template <std::size_t K>
  auto& layer() {
    writable_accesses_.raise();
    return boost::hana::at_c<K>(parameters_);
  }
  template <std::size_t K>
  const auto& layer() const {
    return boost::hana::at_c<K>(parameters_);
  }

  // Calls f(ParameterTensor<T>) for each weight matrix and bias vector, in order.
  template <class F>
  void for_each_parameter_tensor(F&& f) {
    writable_accesses_.raise();
    visit_tensors(parameters_, f);
  }
  template <class F>
  void for_each_parameter_tensor(F&& f) const {
    visit_tensors(parameters_, f);
  }
  template <class Tuple, class F>
  static void visit_tensors(Tuple& params, F&& f) {
    boost::hana::for_each(stage_indices, [&](auto k) {
      auto& p = boost::hana::at(params, k);
      using W = std::remove_cvref_t<decltype(p.weights)>;
      f(ParameterTensor<std::remove_reference_t<decltype(*p.weights.data())>>{
          k, "weights", W::rows, W::cols, std::span(p.weights.data(), W::size)});
      f(ParameterTensor<std::remove_reference_t<decltype(*p.bias.data())>>{
          k, "bias", 1, W::cols, std::span(p.bias.data(), W::cols)});
    });
  }

  // Forward pass through every stage for any number of rows: stage K writes output_of(K).
  template <std::size_t Rows, class OutputOf>
  void forward(MatrixView<const T, Rows, input_width> x, OutputOf&& output_of) const {
    boost::hana::for_each(stage_indices, [&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      MatrixView<T, Rows, S::output_width> out = output_of(k);
      if constexpr (K == 0) {
        S::layer::forward(layer<K>(), x, out, S::activation);
      } else {
        MatrixView<const T, Rows, S::input_width> in = output_of(boost::hana::size_c<K - 1>);
        S::layer::forward(layer<K>(), in, out, S::activation);
      }
    });
  }

  // Probabilities (SoftmaxCrossEntropy) or outputs (MeanSquaredError) for any number of samples.
  template <std::size_t Rows, std::size_t Width>
  void predict(MatrixView<const T, Rows, Width> x, MatrixView<T, Rows, output_width> out) {
    check_input_width<network_input_width<input_width>, given_width<Width>>();
    if constexpr (Width == input_width) predict_rows(x, out);
  }
  template <std::size_t Rows, std::size_t Width>
  void predict(const Matrix<T, Rows, Width>& x, Matrix<T, Rows, output_width>& out) {
    predict(x.view(), out.view());
  }
  template <std::size_t Rows, std::size_t Width>
  Matrix<T, Rows, output_width> predict(const Matrix<T, Rows, Width>& x) {
    Matrix<T, Rows, output_width> out;
    predict(x.view(), out.view());
    return out;
  }

  // The most likely class of each sample (the index of its largest output).
  template <std::size_t Rows, std::size_t Width>
  std::vector<std::uint32_t> classify(MatrixView<const T, Rows, Width> x) {
    check_input_width<network_input_width<input_width>, given_width<Width>>();
    if constexpr (Width == input_width)
      return classify_rows(x);
    else
      return {};
  }
  template <std::size_t Rows, std::size_t Width>
  std::vector<std::uint32_t> classify(const Matrix<T, Rows, Width>& x) {
    return classify(x.view());
  }

 private:
  static constexpr std::size_t inference_chunk_rows = 256;
  static constexpr std::size_t widest = [] {
    std::size_t w = 0;
    for (std::size_t width : widths) w = std::max(w, width);
    return w;
  }();

  template <std::size_t Rows>
  std::vector<std::uint32_t> classify_rows(MatrixView<const T, Rows, input_width> x) {
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
  void predict_rows(MatrixView<const T, Rows, input_width> x, MatrixView<T, Rows, output_width> out) {
    const std::size_t rows = x.row_count();
    for (std::size_t first = 0; first < rows; first += inference_chunk_rows) {
      const std::size_t count = std::min(inference_chunk_rows, rows - first);
      predict_chunk(MatrixView<const T, dynamic_rows, input_width>(x.data() + first * input_width, count),
                    MatrixView<T, dynamic_rows, output_width>(out.data() + first * output_width, count));
    }
  }

  // Runs at most inference_chunk_rows rows, ping-ponging between two halves of the inference arena.
  void predict_chunk(MatrixView<const T, dynamic_rows, input_width> x,
                     MatrixView<T, dynamic_rows, output_width> out) {
    const std::size_t half = Arena<T>::round_up(inference_chunk_rows * widest);
    inference_arena_.reserve(2 * half);
    const std::size_t rows = x.row_count();
    forward(x, [&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      constexpr std::size_t width = stage<K>::output_width;
      T* data = K + 1 == stage_count ? out.data() : inference_arena_.data() + (K % 2) * half;
      return MatrixView<T, dynamic_rows, width>(data, rows);
    });
    if constexpr (Loss::outputs_probabilities) kernels::softmax(out.data(), out.data(), rows, output_width);
  }

  Parameters parameters_;
  Arena<T> inference_arena_;
  AccessCount writable_accesses_;
};

}  // namespace detail
}  // namespace typenet
