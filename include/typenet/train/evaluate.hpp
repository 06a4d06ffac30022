// Evaluating a classifier on a Dataset: the predicted class of every sample, the accuracy and the
// confusion matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "typenet/core/matrix_view.hpp"
#include "typenet/io/idx.hpp"

namespace typenet {

// counts(t, p): samples of true class t predicted as p.
struct ConfusionMatrix {
  std::size_t classes = 0;
  std::vector<std::size_t> cells;  // classes x classes, row = true class

  std::size_t operator()(std::size_t truth, std::size_t predicted) const {
    return cells[truth * classes + predicted];
  }
  std::size_t total() const {
    std::size_t n = 0;
    for (std::size_t c : cells) n += c;
    return n;
  }
  double accuracy() const {
    std::size_t correct = 0;
    for (std::size_t c = 0; c < classes; ++c) correct += (*this)(c, c);
    return total() ? double(correct) / double(total()) : 0.0;
  }
};

// net.classify over every sample of `data` (any count: classify works through it in chunks).
template <class Net>
std::vector<std::uint32_t> predict_classes(const Net& net, const Dataset& data) {
  using T = typename Net::scalar_type;
  data.check_fits(Net::input_width, Net::output_width);
  if (data.count == 0) return {};
  if constexpr (std::is_same_v<T, float>) {
    return net.classify(
        MatrixView<const float, dynamic_rows, Net::input_width>(data.images.data(), data.count));
  } else {
    const std::vector<T> converted(data.images.begin(), data.images.end());
    return net.classify(MatrixView<const T, dynamic_rows, Net::input_width>(converted.data(), data.count));
  }
}

// Every label of `data` must be below the network's output width (a LabelError names the first that is not).
template <class Net>
ConfusionMatrix confusion_matrix(const Net& net, const Dataset& data) {
  ConfusionMatrix m{Net::output_width, std::vector<std::size_t>(Net::output_width * Net::output_width, 0)};
  const std::vector<std::uint32_t> predicted = predict_classes(net, data);
  for (std::size_t i = 0; i < predicted.size(); ++i) ++m.cells[data.labels[i] * m.classes + predicted[i]];
  return m;
}

// The fraction of samples classified correctly.
template <class Net>
double accuracy(const Net& net, const Dataset& data) {
  return confusion_matrix(net, data).accuracy();
}

}  // namespace typenet
