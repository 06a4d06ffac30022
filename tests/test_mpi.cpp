// Data-parallel training over Open MPI, run by CTest under `mpirun -np 2` (and once over TCP): every process
// runs every case in the same order, so their collective calls meet. A failed check fails its process, and
// mpirun then exits non-zero.
#define CATCH_CONFIG_RUNNER
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "support.hpp"
#include "typenet/distributed/data_parallel.hpp"
#include "typenet/distributed/mpi.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/trainer.hpp"

using namespace typenet;
using Catch::Matchers::Contains;

namespace {

MpiCommunicator* world = nullptr;

using test::Mlp;
using NarrowMlp =
    Network<Dense<784, 256>, Sigmoid, Dense<256, 64>, Sigmoid, Dense<64, 10>, SoftmaxCrossEntropy>;

const TrainTestSets& fashion_mnist() {
  static const TrainTestSets data = load_fashion_mnist();
  return data;
}

// Trains `epochs` epochs of batch B on `data` data-parallel and, on this process alone, with a plain
// Trainer from the same seed; returns the largest difference of a parameter.
template <std::size_t B, class Optimizer>
double data_parallel_against_one_process(const Dataset& data, Optimizer optimizer, std::size_t epochs) {
  Mlp parallel{HeNormal{.seed = 5 + world->rank()}};  // rank 0's weights are broadcast
  DataParallelTrainer trainer(parallel, optimizer, *world);
  Mlp alone{HeNormal{.seed = 5}};
  Trainer reference(alone, optimizer);
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    const EpochStats stats = train_epoch_data_parallel<B>(trainer, data, 3, epoch);
    const EpochStats expected = train_epoch<B>(reference, data, 3, epoch);
    CHECK(stats.samples == data.count);  // every sample once, the partial last batch included
    CHECK(stats.steps == expected.steps);
    CHECK(stats.mean_loss == Approx(expected.mean_loss).epsilon(1e-4));
  }
  CHECK(same_parameters_everywhere(parallel, *world));
  return test::max_parameter_difference(parallel, alone);
}

}  // namespace

TEST_CASE("the MPI communicator sums in a fixed order, broadcasts and agrees", "[mpi]") {
  const std::size_t size = world->size(), rank = world->rank();
  std::vector<double> counts = {double(rank + 1), 1.0};
  world->allreduce_sum(counts);
  CHECK(counts[0] == double(size * (size + 1) / 2));
  CHECK(counts[1] == double(size));
  // Sums of values that round differently in different orders: the same bits on every process.
  std::vector<float> awkward(1000);
  for (std::size_t i = 0; i < awkward.size(); ++i)
    awkward[i] = std::ldexp(1.0f + float(i % 7) / 7, int(rank * 9) - int(i % 20));
  world->allreduce_sum(awkward);
  std::vector<float> root = awkward;
  world->broadcast(std::as_writable_bytes(std::span(root)), 0);
  CHECK(std::equal(root.begin(), root.end(), awkward.begin()));
  world->barrier();
}

TEST_CASE("N processes x batch B/N train the weights one process trains with batch B", "[mpi]") {
  const Dataset data = first_samples(fashion_mnist().train, 1000);
  // Adam, and SGD (which one process fuses into its weight-gradient pass): float summation order only.
  const double adam = data_parallel_against_one_process<64>(data, Adam{.learning_rate = 1e-3}, 2);
  const double sgd = data_parallel_against_one_process<64>(data, SGD{.learning_rate = 0.1}, 2);
  WARN("largest parameter difference to one process: Adam " << adam << ", SGD " << sgd);
  // Measured on 2 processes: Adam 7.6e-6, SGD 6.0e-8. Adam divides by sqrt(v), which turns the last bits
  // in which the summation orders differ into larger weight differences where v is small.
  CHECK(adam < 5e-5);
  CHECK(sgd < 1e-6);
}

TEST_CASE("a last global batch smaller than the process count: every process steps, none waits", "[mpi]") {
  // 65 samples in batches of 64: the last batch has one sample, so all processes but rank 0 get none of it.
  const Dataset data = first_samples(fashion_mnist().train, 65);
  CHECK(data_parallel_against_one_process<64>(data, Adam{.learning_rate = 1e-3}, 1) < 5e-5);
  // Batches of 3 over 65 samples: shards of 2 and 1 (on 2 processes), then a last batch of 2.
  CHECK(data_parallel_against_one_process<3>(data, SGD{.learning_rate = 0.05}, 1) < 1e-6);
}

TEST_CASE("processes that built different networks stop with one error on every process", "[mpi]") {
  if (world->size() == 1) return;  // nothing to differ from
  const auto build = [] {
    if (world->rank() == 0) {
      Mlp net;
      DataParallelTrainer trainer(net, SGD{}, *world);
    } else {
      NarrowMlp net;
      DataParallelTrainer trainer(net, SGD{}, *world);
    }
  };
  if (world->rank() == 0)
    CHECK_THROWS_WITH(build(), "the network differs between processes: " + std::to_string(world->size() - 1) +
                                   " of " + std::to_string(world->size()) +
                                   " have another than rank 0's float network Dense<784, 256>, Sigmoid, "
                                   "Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy");
  else
    CHECK_THROWS_WITH(
        build(), Contains("the network differs between processes: rank " + std::to_string(world->rank()) +
                          " has float network Dense<784, 256>, Sigmoid, Dense<256, 64>,"));
}

TEST_CASE("processes holding different training sets stop with one error on every process", "[mpi]") {
  if (world->size() == 1) return;
  const Dataset data = first_samples(fashion_mnist().train, world->rank() == 0 ? 100 : 99);
  Mlp net;
  DataParallelTrainer trainer(net, SGD{}, *world);
  CHECK_THROWS_AS(train_epoch_data_parallel<32>(trainer, data, 1, 0), DistributedError);
  CHECK_THROWS_WITH(train_epoch_data_parallel<32>(trainer, data, 1, 0),
                    Contains("the epoch differs between processes"));
}

TEST_CASE("evaluation splits the test set across the processes and sums the counts", "[mpi]") {
  Mlp net{HeNormal{.seed = 2}};
  DataParallelTrainer trainer(net, Adam{.learning_rate = 1e-3}, *world);
  train_epoch_data_parallel<64>(trainer, first_samples(fashion_mnist().train, 640), 1, 0);
  const Dataset test = first_samples(fashion_mnist().test, 999);  // not a multiple of the process count
  const ConfusionMatrix together = confusion_matrix(net, test, *world);
  const ConfusionMatrix alone = confusion_matrix(net, test);
  CHECK(together.cells == alone.cells);
  CHECK(together.total() == 999);
  CHECK(accuracy(net, test, *world) == accuracy(net, test));
}

int main(int argc, char** argv) {
  MpiCommunicator communicator;
  world = &communicator;
  Catch::Session session;
  if (const int code = session.applyCommandLine(argc, argv); code != 0) return code;
  const int failed = session.run();
  std::printf("rank %zu of %zu: %s\n", world->rank(), world->size(), failed ? "FAILED" : "passed");
  return failed ? 1 : 0;
}
