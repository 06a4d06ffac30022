// Data-parallel training, as Horovod and PyTorch's DistributedDataParallel define it, over a Communicator
// (distributed/communicator.hpp: MpiCommunicator for `mpirun -np N`, SingleProcess for one process):
//
//   typenet::MpiCommunicator world;
//   Net net{typenet::HeNormal{.seed = 42}};
//   typenet::DataParallelTrainer trainer(net, typenet::Adam{.learning_rate = 1e-3}, world);
//   for (std::size_t epoch = 0; epoch < 10; ++epoch) {
//     const typenet::EpochStats stats =
//         typenet::train_epoch_data_parallel<256>(trainer, data.train, 42, epoch);
//     const double test = typenet::accuracy(net, data.test, world);   // the same number on every process
//   }
//
// - At construction every process checks that all of them built the same network (its layers and scalar
//   type; else a DistributedError on every process, naming both) and takes rank 0's initial weights.
// - An epoch is global batches of B samples in the order epoch_order(count, seed, epoch) gives every
//   process alike; each process trains on its own contiguous shard of each batch (sizes differ by at most
//   one; a process may get none of a small last batch, and still takes part). The last partial batch is
//   one step of its real size, so every sample is used once per epoch. Processes holding different data
//   counts, seeds, epochs or batch sizes stop with a DistributedError on every process.
// - A step: forward and backward on the shard; every gradient, weighted by the shard's rows, goes into one
//   buffer of the network's parameter_count + 1 values (a compile-time size) with the loss, and ONE
//   allreduce sums them in rank order; dividing by the global row count gives what one process would
//   compute on the whole batch, up to float summation order; then the same optimizer update everywhere.
//   The sum is bit-identical on every process (MpiCommunicator), so the weights stay identical:
//   same_parameters_everywhere() checks it. A layer that keeps state normalises with its own shard's
//   statistics, and after each step every process takes rank 0's state (BatchNorm's running statistics),
//   as PyTorch's DistributedDataParallel does with broadcast_buffers.
// - Evaluation (accuracy, confusion_matrix with a communicator) splits the data set across the processes
//   and sums the counts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/core/error.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/distributed/communicator.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/evaluate.hpp"
#include "typenet/train/trainer.hpp"

namespace typenet {
namespace detail {

// Rank 0's text on every process: its length, then its bytes.
template <Communicator Comm>
std::string broadcast_text(Comm& comm, const std::string& mine) {
  std::uint64_t length = mine.size();
  comm.broadcast(std::as_writable_bytes(std::span(&length, 1)), 0);
  std::string root = comm.rank() == 0 ? mine : std::string(length, '\0');
  comm.broadcast(std::as_writable_bytes(std::span(root.data(), root.size())), 0);
  return root;
}

// Every process's `mine` equals rank 0's, or a DistributedError on every process: on one that differs it
// names both, on the others it counts them.
template <Communicator Comm>
void require_same(Comm& comm, const std::string& what, const std::string& mine) {
  const std::string root = broadcast_text(comm, mine);
  double differing = root == mine ? 0 : 1;
  comm.allreduce_sum(std::span(&differing, 1));
  if (differing == 0) return;
  if (root != mine)
    throw DistributedError(what + " differs between processes: rank " + std::to_string(comm.rank()) +
                           " has " + mine + ", rank 0 has " + root);
  throw DistributedError(what + " differs between processes: " + std::to_string(std::size_t(differing)) +
                         " of " + std::to_string(comm.size()) + " have another than rank 0's " + root);
}

// [first, last) of `rows` that process `rank` of `size` takes: contiguous, the first rows % size one longer.
inline std::pair<std::size_t, std::size_t> shard_of(std::size_t rows, std::size_t rank, std::size_t size) {
  const std::size_t base = rows / size, longer = rows % size;
  const std::size_t first = rank * base + std::min(rank, longer);
  return {first, first + base + (rank < longer ? 1 : 0)};
}

template <class Net>
std::string network_identity() {
  return std::string(sizeof(typename Net::scalar_type) == 4 ? "float" : "double") + " network " +
         network_text<Net>();
}

}  // namespace detail

template <class Net, class Optimizer, Communicator Comm>
class DataParallelTrainer {
 public:
  using T = typename Net::scalar_type;
  static constexpr std::size_t buffer_size = Net::parameter_count + 1;  // the gradients, then the loss

  // Checks that every process built this network and gives it rank 0's weights: collective.
  DataParallelTrainer(Net& net, Optimizer optimizer, Comm& comm, TrainerOptions options = {})
      : comm_(comm), trainer_(net, optimizer, options) {
    detail::require_same(comm_, "the network", detail::network_identity<Net>());
    std::size_t at = 0;
    net.for_each_parameter_tensor([&](auto tensor) {
      std::copy(tensor.values.begin(), tensor.values.end(), buffer_.data() + at);
      at += tensor.values.size();
    });
    comm_.broadcast(std::as_writable_bytes(std::span(buffer_.data(), Net::parameter_count)), 0);
    at = 0;
    net.for_each_parameter_tensor([&](auto tensor) {
      std::copy_n(buffer_.data() + at, tensor.values.size(), tensor.values.begin());
      at += tensor.values.size();
    });
  }

  // The rows [first, last) of a global batch of `rows` that this process trains on.
  std::pair<std::size_t, std::size_t> shard(std::size_t rows) const {
    return detail::shard_of(rows, comm_.rank(), comm_.size());
  }

  // One step of a global batch of `global_rows` samples, of which x and labels are this process's shard
  // (any number of rows, 0 included): collective. Returns the global batch's mean loss.
  T step(MatrixView<const T, dynamic_rows, Net::input_width> x, std::span<const std::uint32_t> labels,
         std::size_t global_rows) {
    const std::size_t rows = x.row_count();
    T loss = 0;
    if (rows > 0) {
      loss = trainer_.backward(x, labels);
    } else {
      trainer_.gradients().for_each_tensor(
          [](auto tensor) { std::fill(tensor.values.begin(), tensor.values.end(), T(0)); });
    }
    // The shard's sums (mean x rows), then one allreduce of all of them in a fixed order.
    std::size_t at = 0;
    trainer_.gradients().for_each_tensor([&](auto tensor) {
      for (const T g : tensor.values) buffer_.data()[at++] = g * T(rows);
    });
    buffer_.data()[at] = loss * T(rows);
    const auto start = std::chrono::steady_clock::now();
    comm_.allreduce_sum(std::span(buffer_.data(), buffer_size));
    allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++steps_;
    const T scale = T(1) / T(global_rows);
    at = 0;
    trainer_.gradients().for_each_tensor([&](auto tensor) {
      for (T& g : tensor.values) g = buffer_.data()[at++] * scale;
    });
    trainer_.update();
    if constexpr (Net::state_count > 0) broadcast_state();
    return buffer_.data()[at] * scale;
  }

 private:
  // Rank 0's state tensors on every process (through the gradient buffer, free after the update).
  void broadcast_state() {
    static_assert(Net::state_count <= buffer_size, "a state larger than the parameters");
    Net& net = trainer_.network();
    std::size_t at = 0;
    net.for_each_state_tensor([&](auto tensor) {
      std::copy(tensor.values.begin(), tensor.values.end(), buffer_.data() + at);
      at += tensor.values.size();
    });
    comm_.broadcast(std::as_writable_bytes(std::span(buffer_.data(), Net::state_count)), 0);
    at = 0;
    net.for_each_state_tensor([&](auto tensor) {
      std::copy_n(buffer_.data() + at, tensor.values.size(), tensor.values.begin());
      at += tensor.values.size();
    });
  }

 public:
  // The probabilities of this process's shard in the last step (valid until the next one).
  MatrixView<const T, dynamic_rows, Net::output_width> last_outputs(std::size_t rows) {
    return trainer_.template last_outputs<dynamic_rows>(rows);
  }
  const auto& gradient_norms() const { return trainer_.gradient_norms(); }

  // Time spent in the allreduce and the steps taken, since construction.
  double allreduce_seconds() const { return allreduce_seconds_; }
  std::size_t steps() const { return steps_; }

  Comm& communicator() { return comm_; }
  Net& network() { return trainer_.network(); }
  Trainer<Net, Optimizer>& local_trainer() { return trainer_; }

 private:
  Comm& comm_;
  Trainer<Net, Optimizer> trainer_;
  Matrix<T, 1, buffer_size> buffer_;
  double allreduce_seconds_ = 0;
  std::size_t steps_ = 0;
};

// One epoch of global batches of `batch` samples, any batch >= 1 (see the top of this file): collective. The
// stats are the whole job's: every process returns the same loss, accuracy and sample count. The steps take
// views of the shard's rows, so a batch size known only at run time costs nothing; the epoch allocates its
// two buffers of `batch` rows once.
template <class Net, class Optimizer, Communicator Comm>
EpochStats train_epoch_data_parallel(DataParallelTrainer<Net, Optimizer, Comm>& trainer, const Dataset& data,
                                     std::uint64_t seed, std::size_t epoch, std::size_t batch,
                                     const EpochProgress& progress = {}) {
  if (batch == 0)
    throw ArgumentError("typenet::train_epoch_data_parallel: the batch size must be at least 1, got 0");
  using T = typename Net::scalar_type;
  constexpr std::size_t width = Net::input_width;
  data.check_fits(width, Net::output_width);
  detail::require_same(trainer.communicator(), "the epoch",
                       std::to_string(data.count) + " training samples, seed " + std::to_string(seed) +
                           ", epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch));
  const std::vector<std::uint32_t> order = epoch_order(data.count, seed, epoch);
  std::vector<T> x(batch * width);
  std::vector<std::uint32_t> labels(batch);
  EpochStats stats;
  std::vector<double> norm_sums(Net::stage_count, 0.0);
  double correct = 0;
  for (std::size_t begin = 0; begin < order.size(); begin += batch) {
    const std::size_t rows = std::min(batch, order.size() - begin);
    const auto [first, last] = trainer.shard(rows);
    for (std::size_t r = first; r < last; ++r) {
      const std::uint32_t sample = order[begin + r];
      std::copy_n(data.image(sample), width, x.data() + (r - first) * width);
      labels[r - first] = data.labels[sample];
    }
    if (begin + batch < order.size()) {  // the next shard's images, while this step computes
      const auto next = trainer.shard(std::min(batch, order.size() - begin - batch));
      detail::prefetch_images(data, order, begin + batch + next.first, begin + batch + next.second);
    }
    const std::size_t mine = last - first;
    const T loss = trainer.step(MatrixView<const T, dynamic_rows, width>(x.data(), mine),
                                std::span<const std::uint32_t>(labels.data(), mine), rows);
    if (mine > 0) {
      const auto outputs = trainer.last_outputs(mine);
      for (std::size_t r = 0; r < mine; ++r) {
        const T* row = outputs.data() + r * outputs.cols;
        correct += double(std::size_t(std::max_element(row, row + outputs.cols) - row) == labels[r]);
      }
    }
    stats.mean_loss += double(loss) * double(rows);
    ++stats.steps;
    const auto& norms = trainer.gradient_norms();
    for (std::size_t k = 0; k < norms.size(); ++k) norm_sums[k] += double(norms[k]);
    if (progress) progress(begin + rows, order.size());
  }
  trainer.communicator().allreduce_sum(std::span(&correct, 1));
  stats.correct = std::size_t(correct);
  stats.samples = order.size();
  if (stats.samples > 0) stats.mean_loss /= double(stats.samples);
  stats.mean_gradient_norms.resize(norm_sums.size());  // this process's shards'
  for (std::size_t k = 0; k < norm_sums.size(); ++k)
    stats.mean_gradient_norms[k] = stats.steps ? norm_sums[k] / double(stats.steps) : 0.0;
  return stats;
}

// The same epoch with the batch size as a template argument: train_epoch_data_parallel<256>(...).
template <std::size_t B, class Net, class Optimizer, Communicator Comm>
EpochStats train_epoch_data_parallel(DataParallelTrainer<Net, Optimizer, Comm>& trainer, const Dataset& data,
                                     std::uint64_t seed, std::size_t epoch,
                                     const EpochProgress& progress = {}) {
  static_assert(B > 0, "typenet::train_epoch_data_parallel: the batch size must be positive");
  return train_epoch_data_parallel(trainer, data, seed, epoch, B, progress);
}

// The confusion matrix of `data`, each process classifying its share: collective; the same on every one.
template <class Net, Communicator Comm>
ConfusionMatrix confusion_matrix(const Net& net, const Dataset& data, Comm& comm) {
  data.check_fits(Net::input_width, Net::output_width);
  const auto [first, last] = detail::shard_of(data.count, comm.rank(), comm.size());
  std::vector<double> cells(Net::output_width * Net::output_width, 0.0);
  if (last > first) {
    using T = typename Net::scalar_type;
    std::vector<T> converted;  // a double network's copy of its share
    if constexpr (!std::is_same_v<T, float>) converted.assign(data.image(first), data.image(last));
    const T* images =
        std::is_same_v<T, float> ? reinterpret_cast<const T*>(data.image(first)) : converted.data();
    const std::vector<std::uint32_t> predicted =
        net.classify(MatrixView<const T, dynamic_rows, Net::input_width>(images, last - first));
    for (std::size_t i = 0; i < predicted.size(); ++i)
      cells[data.labels[first + i] * Net::output_width + predicted[i]] += 1;
  }
  comm.allreduce_sum(std::span(cells));
  ConfusionMatrix m{Net::output_width, std::vector<std::size_t>(cells.size())};
  for (std::size_t i = 0; i < cells.size(); ++i) m.cells[i] = std::size_t(cells[i]);
  return m;
}

template <class Net, Communicator Comm>
double accuracy(const Net& net, const Dataset& data, Comm& comm) {
  return confusion_matrix(net, data, comm).accuracy();
}

// Whether every process holds rank 0's parameters (and state) bit for bit (a checksum exchange): collective.
template <class Net, Communicator Comm>
bool same_parameters_everywhere(const Net& net, Comm& comm) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the parameters' bytes
  const auto add = [&](auto tensor) {
    for (const std::byte b : std::as_bytes(tensor.values))
      hash = (hash ^ std::uint64_t(b)) * 1099511628211ull;
  };
  net.for_each_parameter_tensor(add);
  net.for_each_state_tensor(add);
  std::uint64_t root = hash;
  comm.broadcast(std::as_writable_bytes(std::span(&root, 1)), 0);
  double differing = root == hash ? 0 : 1;
  comm.allreduce_sum(std::span(&differing, 1));
  return differing == 0;
}

}  // namespace typenet
