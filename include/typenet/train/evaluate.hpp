// Evaluating a network on a Dataset: the predicted class of every sample, the accuracy and the confusion
// matrix of a classifier; the mean loss (and accuracy) of any network, as a validation set is judged.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "typenet/core/matrix_view.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/network/batch_loss.hpp"

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

struct Evaluation {
  double mean_loss = 0;  // the loss the trainer reports, averaged over every sample
  double accuracy = 0;   // classifiers: the fraction classified right (0 for MeanSquaredError)
  std::size_t samples = 0;
};

// The mean loss and accuracy of `net` on `data`, forward passes only, in chunks of 256 rows. Like
// train_epoch it uses the data set's target rows for a MeanSquaredError network or when the data set has
// them, its labels otherwise (and checks them first: DataError, LabelError).
template <class Net>
Evaluation evaluate(const Net& net, const Dataset& data) {
  using T = typename Net::scalar_type;
  constexpr std::size_t chunk = 256, in = Net::input_width, out = Net::output_width;
  const bool target_rows = !Net::loss_type::accepts_class_labels || data.target_width > 0;
  if (target_rows)
    data.check_fits_targets(in, out);
  else
    data.check_fits(in, out);
  Evaluation e;
  if (data.count == 0) return e;
  typename Net::Workspace work;
  work.reserve(chunk, false);
  std::vector<T> x(chunk * in), targets(target_rows ? chunk * out : 0);
  std::array<std::uint32_t, chunk> labels{};
  std::size_t correct = 0;
  for (std::size_t first = 0; first < data.count; first += chunk) {
    const std::size_t rows = std::min(chunk, data.count - first);
    std::copy(data.image(first), data.image(first) + rows * in, x.data());
    net.template forward<dynamic_rows>(MatrixView<const T, dynamic_rows, in>(x.data(), rows), work, nullptr,
                                       false);
    const T* outputs = work.template output<dynamic_rows, Net::stage_count - 1>(rows).data();
    T* predictions = work.template predictions<dynamic_rows>(rows).data();
    T loss;
    if (target_rows) {
      std::copy(data.target(first), data.target(first) + rows * out, targets.data());
      loss = detail::batch_loss<typename Net::loss_type, out>(
          outputs, MatrixView<const T, dynamic_rows, out>(targets.data(), rows), rows, predictions,
          static_cast<T*>(nullptr));
    } else {
      std::copy(data.labels.begin() + std::ptrdiff_t(first),
                data.labels.begin() + std::ptrdiff_t(first + rows), labels.begin());
      loss = detail::batch_loss<typename Net::loss_type, out>(
          outputs, std::span<const std::uint32_t>(labels.data(), rows), rows, predictions,
          static_cast<T*>(nullptr));
    }
    e.mean_loss += double(loss) * double(rows);
    if constexpr (Net::loss_type::accepts_class_labels)
      for (std::size_t r = 0; r < rows; ++r) {
        const T* p = predictions + r * out;
        const std::size_t guess = std::size_t(std::max_element(p, p + out) - p);
        std::size_t truth = labels[r];
        if (target_rows)
          truth =
              std::size_t(std::max_element(&targets[r * out], &targets[r * out] + out) - &targets[r * out]);
        correct += guess == truth;
      }
  }
  e.samples = data.count;
  e.mean_loss /= double(data.count);
  e.accuracy = double(correct) / double(data.count);
  return e;
}

}  // namespace typenet
