// Holding out a validation set, and early stopping on it.
//
//   auto [train, validation] = typenet::split_validation(data.train, 6000, seed);
//   typenet::EarlyStopping<Net> stopping(net, {.patience = 3});
//   for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
//     typenet::train_epoch<32>(trainer, train, seed, epoch);
//     if (stopping.should_stop(typenet::evaluate(net, validation).mean_loss, net)) break;
//   }
//   stopping.restore_best(net);  // the weights of the epoch with the lowest validation loss
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "typenet/core/error.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/train/epoch.hpp"

namespace typenet {

struct TrainValidationSplit {
  Dataset train, validation;
};

// `validation_count` samples of `data`, chosen by a seeded shuffle (the same on every standard library),
// become the validation set; the rest, in their original order, the training set. Labels and target rows
// go with their samples. An ArgumentError when validation_count leaves no training sample.
inline TrainValidationSplit split_validation(const Dataset& data, std::size_t validation_count,
                                             std::uint64_t seed) {
  if (validation_count >= data.count)
    throw ArgumentError("typenet::split_validation: " + std::to_string(validation_count) +
                        " validation samples leave none of the " + std::to_string(data.count) +
                        " to train on");
  std::vector<bool> held_out(data.count, false);
  const std::vector<std::uint32_t> order =
      epoch_order(data.count, seed, std::numeric_limits<std::size_t>::max());
  for (std::size_t i = 0; i < validation_count; ++i) held_out[order[i]] = true;
  TrainValidationSplit split;
  for (Dataset* d : {&split.train, &split.validation}) {
    d->rows = data.rows;
    d->cols = data.cols;
    d->target_width = data.target_width;
  }
  for (std::size_t i = 0; i < data.count; ++i) {
    Dataset& d = held_out[i] ? split.validation : split.train;
    d.images.insert(d.images.end(), data.image(i), data.image(i) + data.image_size());
    if (i < data.labels.size()) d.labels.push_back(data.labels[i]);
    if (data.target_width > 0 && (i + 1) * data.target_width <= data.targets.size())
      d.targets.insert(d.targets.end(), data.target(i), data.target(i) + data.target_width);
    ++d.count;
  }
  return split;
}

struct EarlyStoppingOptions {
  std::size_t patience = 5;  // epochs without a new best before stopping
  double min_delta = 0;      // a new best must be lower than the best so far by more than this
};

// Keeps the weights of the best epoch (lowest validation loss) and says when `patience` epochs in a row
// have not improved on it.
template <class Net>
class EarlyStopping {
 public:
  explicit EarlyStopping(const Net& net, EarlyStoppingOptions options = {})
      : options_(options), best_(net.parameters()) {}

  // After an epoch: its validation loss. True when training should stop.
  bool should_stop(double validation_loss, const Net& net) {
    ++epochs_;
    if (validation_loss < best_loss_ - options_.min_delta) {
      best_loss_ = validation_loss;
      best_epoch_ = epochs_ - 1;
      best_ = net.parameters();
      since_best_ = 0;
      return false;
    }
    return ++since_best_ >= options_.patience;
  }
  // The weights of the best epoch so far (the starting weights before any epoch was recorded).
  void restore_best(Net& net) const { net.parameters() = best_; }

  std::size_t best_epoch() const { return best_epoch_; }  // counted from 0
  double best_loss() const { return best_loss_; }
  std::size_t epochs_since_best() const { return since_best_; }

 private:
  EarlyStoppingOptions options_;
  typename Net::Parameters best_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  std::size_t best_epoch_ = 0, since_best_ = 0, epochs_ = 0;
};

}  // namespace typenet
