// One training epoch over a Dataset: shuffle, then Trainer::step over every sample exactly once.
//
//   typenet::EpochStats stats = typenet::train_epoch<32>(trainer, data, seed, epoch);
//
// The order is a Fisher-Yates shuffle driven by std::mt19937_64 seeded from (seed, epoch), with our own
// bounded draw: std::shuffle and std::uniform_int_distribution differ between standard libraries, this
// does not, so a seed gives the same order (and, on one thread, the same weights) everywhere.
//
// The batch size B is a compile-time constant of Trainer::step. When B does not divide the sample count,
// the trailing partial batch is one step of its real size (a batch of dynamic_rows; e.g. 27 left over at
// B = 32: one step of 27), so every sample is used once per epoch; as PyTorch's DataLoader does, that step
// averages its loss over its own rows.
//
// A classifier steps on the data set's labels, or on its target rows when it has them (one-hot or soft
// labels); a MeanSquaredError network steps on its target rows (Dataset::targets): the same loop either way.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/core/error.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/network/network.hpp"

namespace typenet {

// A uniform draw from [0, n), n > 0: rejection sampling on the engine's 64-bit output, so no bias.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: draws below it would favour small results
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// Fisher-Yates: every permutation equally likely.
inline void shuffle_in_place(std::vector<std::uint32_t>& order, std::mt19937_64& rng) {
  for (std::size_t i = order.size(); i > 1; --i) {
    const std::size_t j = std::size_t(uniform_below(rng, i));
    std::swap(order[i - 1], order[j]);
  }
}

// The sample order of `epoch` (counted from 0); a function of (count, seed, epoch) only.
inline std::vector<std::uint32_t> epoch_order(std::size_t count, std::uint64_t seed, std::size_t epoch) {
  std::vector<std::uint32_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = std::uint32_t(i);
  std::seed_seq seq{std::uint32_t(seed), std::uint32_t(seed >> 32), std::uint32_t(epoch),
                    std::uint32_t(epoch >> 32)};
  std::mt19937_64 rng(seq);
  shuffle_in_place(order, rng);
  return order;
}

struct EpochStats {
  double mean_loss = 0;  // over samples, as the weights moved during the epoch
  // Classifiers only (0 for MeanSquaredError); on target rows, right means the largest output is where the
  // target row is largest.
  double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
  std::size_t samples = 0;
  std::size_t correct = 0;  // samples whose most likely class was right when they were trained on
  std::size_t steps = 0;
  std::vector<double> mean_gradient_norms;  // ||dL/dz|| per layer with parameters, epoch mean
};

// Called after every step with the number of samples trained so far and the epoch's total. The network is
// up to date; a change made to it through a reference kept from before the epoch would not be seen by a
// batch-1 lookahead (see Trainer::step).
using EpochProgress = std::function<void(std::size_t done, std::size_t total)>;

namespace detail {

// The network a Trainer trains (Trainer names it only through network()).
template <class Trainer>
using trained_network = std::remove_reference_t<decltype(std::declval<Trainer&>().network())>;

// Asks the memory system for the images of samples order[begin, end) ahead of their use: a shuffled batch
// gathers whole images from all over the dataset (188 MB of floats for Fashion-MNIST's training set), and
// without this the gather waited on DRAM for about a tenth of the trainer's time. Issued before a step, the
// loads complete while the step computes.
inline void prefetch_images(const Dataset& data, const std::vector<std::uint32_t>& order, std::size_t begin,
                            std::size_t end) {
  constexpr std::size_t line_floats = 64 / sizeof(float);
  for (std::size_t i = begin; i < std::min(end, order.size()); ++i) {
    const float* image = data.image(order[i]);
    for (std::size_t c = 0; c < data.image_size(); c += line_floats) __builtin_prefetch(image + c, 0, 1);
  }
}

// Copies samples order[begin, begin + rows) into x (rows x Width) and y: their labels, or (TargetRows) their
// target rows (rows x Out).
template <bool TargetRows, std::size_t Width, std::size_t Out, class T, class Y>
void gather_rows(const Dataset& data, const std::vector<std::uint32_t>& order, std::size_t begin,
                 std::size_t rows, T* x, Y* y) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint32_t sample = order[begin + r];
    const float* image = data.image(sample);
    std::copy(image, image + Width, x + r * Width);  // memmove for float networks
    if constexpr (TargetRows)
      std::copy(data.target(sample), data.target(sample) + Out, y + r * Out);
    else
      y[r] = data.labels[sample];
  }
}

// After a step of `rows` rows whose targets are y: counts what it got right (for target rows: the largest
// output where the target is largest; MeanSquaredError counts nothing), and its loss and gradient norms.
template <bool TargetRows, class Trainer, class Y>
void record_step(Trainer& trainer, const Y* y, std::size_t rows, typename Trainer::T loss,
                 std::size_t& position, std::size_t total, EpochStats& stats, std::vector<double>& norm_sums,
                 const EpochProgress& progress) {
  using Net = trained_network<Trainer>;
  constexpr std::size_t out = Net::output_width;
  const auto largest = [](const auto* row) {
    return std::size_t(std::max_element(row, row + out) - row);
  };
  if constexpr (Net::loss_type::accepts_class_labels) {
    const auto outputs = trainer.template last_outputs<dynamic_rows>(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      std::size_t truth = 0;
      if constexpr (TargetRows)
        truth = largest(y + r * out);
      else
        truth = y[r];
      stats.correct += largest(outputs.data() + r * out) == truth;
    }
  }
  position += rows;
  stats.mean_loss += double(loss) * double(rows);
  ++stats.steps;
  const auto& norms = trainer.gradient_norms();
  for (std::size_t k = 0; k < norms.size(); ++k) norm_sums[k] += double(norms[k]);
  if (progress) progress(position, total);
}

// The step on `rows` rows of x and y as views of the caller's memory (a batch of run-time size).
template <bool TargetRows, class Trainer, class T, class Y>
T step_on_rows(Trainer& trainer, const T* x, const Y* y, std::size_t rows) {
  using Net = trained_network<Trainer>;
  const MatrixView<const T, dynamic_rows, Net::input_width> xv(x, rows);
  if constexpr (TargetRows)
    return trainer.step(xv, MatrixView<const T, dynamic_rows, Net::output_width>(y, rows));
  else
    return trainer.step(xv, std::span<const std::uint32_t>(y, rows));
}

// Steps of B rows while at least B samples are left, then one step of the rows that are left. TargetRows:
// the steps train on the data set's target rows (Dataset::targets) instead of its labels.
template <std::size_t B, bool TargetRows, class Trainer>
void train_in_steps(Trainer& trainer, const Dataset& data, const std::vector<std::uint32_t>& order,
                    std::size_t& position, EpochStats& stats, std::vector<double>& norm_sums,
                    const EpochProgress& progress) {
  using T = typename Trainer::T;
  using Net = trained_network<Trainer>;
  constexpr std::size_t width = Net::input_width, out = Net::output_width;
  // This step's batch and the next one's, gathered before this step runs: Trainer::step(x, labels, next)
  // can then start the next step (at batch 1 it computes the first layer for it while updating W1).
  using Targets = std::conditional_t<TargetRows, Matrix<T, B, out>, Labels<B>>;
  std::array<Matrix<T, B, width>, 2> x;
  std::array<Targets, 2> y;
  const auto gather = [&](std::size_t begin, std::size_t slot, std::size_t rows) {
    gather_rows<TargetRows, width, out>(data, order, begin, rows, x[slot].data(), y[slot].data());
  };
  const auto record = [&](std::size_t slot, std::size_t rows, T loss) {
    record_step<TargetRows>(trainer, y[slot].data(), rows, loss, position, order.size(), stats, norm_sums,
                            progress);
  };
  std::size_t current = 0;
  if (order.size() - position >= B) gather(position, current, B);
  while (order.size() - position >= B) {
    const bool next_is_full = order.size() - position >= 2 * B;
    if (next_is_full) gather(position + B, 1 - current, B);
    prefetch_images(data, order, position + 2 * B, position + 3 * B);
    const T loss = next_is_full ? trainer.step(x[current], y[current], x[1 - current])
                                : trainer.step(x[current], y[current]);
    record(current, B, loss);
    current = 1 - current;
  }
  if (const std::size_t rest = order.size() - position; rest > 0) {
    gather(position, current, rest);
    record(current, rest, step_on_rows<TargetRows>(trainer, x[current].data(), y[current].data(), rest));
  }
}

// The same with a batch size chosen at run time: the batches live in buffers of `batch` rows, allocated once
// per epoch, and every step is a step on views (no lookahead between steps).
template <bool TargetRows, class Trainer>
void train_in_runtime_steps(Trainer& trainer, const Dataset& data, const std::vector<std::uint32_t>& order,
                            std::size_t batch, std::size_t& position, EpochStats& stats,
                            std::vector<double>& norm_sums, const EpochProgress& progress) {
  using T = typename Trainer::T;
  using Net = trained_network<Trainer>;
  constexpr std::size_t width = Net::input_width, out = Net::output_width;
  std::vector<T> x(batch * width);
  std::vector<std::conditional_t<TargetRows, T, std::uint32_t>> y(batch * (TargetRows ? out : 1));
  while (position < order.size()) {
    const std::size_t rows = std::min(batch, order.size() - position);
    gather_rows<TargetRows, width, out>(data, order, position, rows, x.data(), y.data());
    prefetch_images(data, order, position + rows, position + rows + batch);
    const T loss = step_on_rows<TargetRows>(trainer, x.data(), y.data(), rows);
    record_step<TargetRows>(trainer, y.data(), rows, loss, position, order.size(), stats, norm_sums,
                            progress);
  }
}

}  // namespace detail

namespace detail {

// The epoch around the steps: checks, order, statistics. steps(target_rows, order, position, stats, norm_sums)
// runs the steps.
template <class Trainer, class Steps>
EpochStats run_epoch(const Dataset& data, std::uint64_t seed, std::size_t epoch, Steps&& steps) {
  using Net = trained_network<Trainer>;
  const bool target_rows = !Net::loss_type::accepts_class_labels || data.target_width > 0;
  if (target_rows)
    data.check_fits_targets(Net::input_width, Net::output_width);
  else
    data.check_fits(Net::input_width, Net::output_width);
  const std::vector<std::uint32_t> order = epoch_order(data.count, seed, epoch);
  EpochStats stats;
  std::vector<double> norm_sums(Net::stage_count, 0.0);
  std::size_t position = 0;
  if (target_rows)
    steps(std::true_type{}, order, position, stats, norm_sums);
  else if constexpr (Net::loss_type::accepts_class_labels)
    steps(std::false_type{}, order, position, stats, norm_sums);
  stats.samples = position;
  if (stats.samples > 0) stats.mean_loss /= double(stats.samples);
  stats.mean_gradient_norms.resize(norm_sums.size());
  for (std::size_t k = 0; k < norm_sums.size(); ++k)
    stats.mean_gradient_norms[k] = stats.steps ? norm_sums[k] / double(stats.steps) : 0.0;
  return stats;
}

}  // namespace detail

// Trains one epoch of batches of B samples (see the top of this file for the order and the last batch).
// A classifier trains on the labels unless the data set has target rows (Dataset::target_width > 0: one-hot or
// soft labels); a MeanSquaredError network trains on target rows, which the data set must have.
template <std::size_t B, class Trainer>
EpochStats train_epoch(Trainer& trainer, const Dataset& data, std::uint64_t seed, std::size_t epoch,
                       const EpochProgress& progress = {}) {
  static_assert(B > 0, "typenet::train_epoch: the batch size must be positive");
  return detail::run_epoch<Trainer>(data, seed, epoch,
                                    [&](auto target_rows, const auto& order, std::size_t& position,
                                        EpochStats& stats, std::vector<double>& norm_sums) {
                                      detail::train_in_steps<B, decltype(target_rows)::value>(
                                          trainer, data, order, position, stats, norm_sums, progress);
                                    });
}

// The same epoch with a batch size chosen at run time (any batch >= 1; an ArgumentError otherwise). Each step
// is Trainer::step on views of `batch` rows, so the weights are train_epoch<batch>'s bit for bit; a step
// allocates nothing while batch fits TrainerOptions::reserve_rows, and the epoch allocates its two buffers of
// batch rows once. train_epoch<B> is faster at batch 1, where a step starts the next one's first layer.
template <class Trainer>
EpochStats train_epoch(Trainer& trainer, const Dataset& data, std::uint64_t seed, std::size_t epoch,
                       std::size_t batch, const EpochProgress& progress = {}) {
  if (batch == 0) throw ArgumentError("typenet::train_epoch: the batch size must be at least 1, got 0");
  return detail::run_epoch<Trainer>(data, seed, epoch,
                                    [&](auto target_rows, const auto& order, std::size_t& position,
                                        EpochStats& stats, std::vector<double>& norm_sums) {
                                      detail::train_in_runtime_steps<decltype(target_rows)::value>(
                                          trainer, data, order, batch, position, stats, norm_sums, progress);
                                    });
}

}  // namespace typenet
