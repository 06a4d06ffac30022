// Data-parallel training without MPI: the shards, one process (SingleProcess), and three "processes" as
// threads of this test joined by a test communicator, so the code of distributed/data_parallel.hpp also
// runs under the leak checker (tests/test_mpi.cpp runs it under mpirun).
#include <barrier>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support.hpp"
#include "typenet/distributed/data_parallel.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/batch_norm.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

using namespace typenet;

namespace {

using Net = Network<Dense<12, 8>, Sigmoid, Dense<8, 3>, SoftmaxCrossEntropy>;
using OtherNet = Network<Dense<12, 7>, Sigmoid, Dense<7, 3>, SoftmaxCrossEntropy>;

// N threads that stand for N processes: each collective waits for all, and sums in rank order.
class ThreadTeam {
 public:
  explicit ThreadTeam(std::size_t size) : size_(size), barrier_(std::ptrdiff_t(size)), slots_(size) {}
  class Member {
   public:
    Member(ThreadTeam& team, std::size_t rank) : team_(team), rank_(rank) {}
    std::size_t rank() const { return rank_; }
    std::size_t size() const { return team_.size_; }
    void allreduce_sum(std::span<float> v) { sum(v); }
    void allreduce_sum(std::span<double> v) { sum(v); }
    void broadcast(std::span<std::byte> bytes, std::size_t root) {
      team_.slots_[rank_] = bytes.data();
      team_.barrier_.arrive_and_wait();
      if (rank_ != root) std::memcpy(bytes.data(), team_.slots_[root], bytes.size());
      team_.barrier_.arrive_and_wait();
    }
    void barrier() { team_.barrier_.arrive_and_wait(); }

   private:
    template <class T>
    void sum(std::span<T> values) {
      team_.slots_[rank_] = values.data();
      team_.barrier_.arrive_and_wait();
      std::vector<T> total(values.size(), T(0));
      for (std::size_t r = 0; r < team_.size_; ++r)
        for (std::size_t i = 0; i < values.size(); ++i) total[i] += static_cast<const T*>(team_.slots_[r])[i];
      team_.barrier_.arrive_and_wait();  // everyone has read every slot
      std::copy(total.begin(), total.end(), values.begin());
    }
    ThreadTeam& team_;
    std::size_t rank_;
  };

  // f(Member&) on `size` threads; rethrows the first exception.
  template <class F>
  void run(F&& f) {
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(size_);
    for (std::size_t r = 0; r < size_; ++r)
      threads.emplace_back([&, r] {
        Member member(*this, r);
        try {
          f(member);
        } catch (...) {
          errors[r] = std::current_exception();
        }
      });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  std::size_t size_;
  std::barrier<> barrier_;
  std::vector<void*> slots_;
};

Dataset toy_data(std::size_t count) {
  Dataset data;
  data.count = count, data.rows = 3, data.cols = 4;
  NormalSource source(17);
  for (std::size_t i = 0; i < count * 12; ++i) data.images.push_back(float(source.standard_normal()));
  for (std::size_t i = 0; i < count; ++i)
    data.labels.push_back(std::uint8_t(data.images[i * 12] > 0 ? 1 : i % 3));
  return data;
}

}  // namespace

TEST_CASE("shards of a global batch are contiguous, disjoint, cover it and differ by one row at most",
          "[data_parallel]") {
  for (std::size_t size : {1, 2, 3, 7})
    for (std::size_t rows : {0, 1, 2, 5, 64, 65, 255}) {
      std::size_t next = 0;
      for (std::size_t rank = 0; rank < size; ++rank) {
        const auto [first, last] = detail::shard_of(rows, rank, size);
        CHECK(first == next);
        CHECK(last - first <= rows / size + 1);
        CHECK(last - first >= rows / size);
        next = last;
      }
      CHECK(next == rows);
    }
}

TEST_CASE("one process: DataParallelTrainer trains what Trainer trains", "[data_parallel]") {
  const Dataset data = toy_data(100);
  SingleProcess alone;
  Net parallel{HeNormal{.seed = 3}}, plain{HeNormal{.seed = 3}};
  DataParallelTrainer trainer(parallel, Adam{.learning_rate = 0.01}, alone);
  Trainer reference(plain, Adam{.learning_rate = 0.01});
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    const EpochStats a = train_epoch_data_parallel<16>(trainer, data, 1, epoch);
    const EpochStats b = train_epoch<16>(reference, data, 1, epoch);
    CHECK(a.samples == 100);
    CHECK(a.correct == b.correct);
    CHECK(a.mean_loss == Approx(b.mean_loss).epsilon(1e-6));
  }
  CHECK(test::max_parameter_difference(parallel, plain) < 1e-6);
  CHECK(trainer.steps() == 3 * 7);
}

TEST_CASE("three threads as processes: identical weights, those of one process, every sample once",
          "[data_parallel]") {
  const Dataset data = toy_data(65);  // batches of 16: shards 6/5/5, then a last batch of 1 (1/0/0)
  Net plain{HeNormal{.seed = 4}};
  Trainer reference(plain, SGD{.learning_rate = 0.2});
  for (std::size_t epoch = 0; epoch < 2; ++epoch) train_epoch<16>(reference, data, 2, epoch);
  ThreadTeam team(3);
  std::vector<double> differences(3);
  std::vector<std::size_t> samples(3);
  team.run([&](ThreadTeam::Member& member) {
    Net net{HeNormal{.seed = 4 + member.rank()}};  // rank 0's weights are broadcast
    DataParallelTrainer trainer(net, SGD{.learning_rate = 0.2}, member);
    for (std::size_t epoch = 0; epoch < 2; ++epoch)
      samples[member.rank()] += train_epoch_data_parallel<16>(trainer, data, 2, epoch).samples;
    if (!same_parameters_everywhere(net, member)) throw std::runtime_error("the weights differ");
    differences[member.rank()] = test::max_parameter_difference(net, plain);
  });
  for (std::size_t r = 0; r < 3; ++r) {
    CHECK(samples[r] == 2 * 65);
    CHECK(differences[r] < 1e-6);
  }
}

TEST_CASE("a batch size chosen at run time trains what Trainer's run-time epoch trains", "[data_parallel]") {
  const Dataset data = toy_data(65);  // batches of 13: shards 5/4/4, five full batches
  Net plain{HeNormal{.seed = 4}};
  Trainer reference(plain, SGD{.learning_rate = 0.2});
  for (std::size_t epoch = 0; epoch < 2; ++epoch) train_epoch(reference, data, 2, epoch, 13);
  ThreadTeam team(3);
  std::vector<double> differences(3);
  std::vector<std::size_t> steps(3);
  team.run([&](ThreadTeam::Member& member) {
    Net net{HeNormal{.seed = 4}};
    DataParallelTrainer trainer(net, SGD{.learning_rate = 0.2}, member);
    for (std::size_t epoch = 0; epoch < 2; ++epoch)
      steps[member.rank()] += train_epoch_data_parallel(trainer, data, 2, epoch, 13).steps;
    differences[member.rank()] = test::max_parameter_difference(net, plain);
  });
  for (std::size_t r = 0; r < 3; ++r) {
    CHECK(steps[r] == 2 * 5);
    CHECK(differences[r] < 1e-6);
  }
  SingleProcess one;
  Net net;
  DataParallelTrainer trainer(net, SGD{.learning_rate = 0.2}, one);
  CHECK_THROWS_AS(train_epoch_data_parallel(trainer, data, 2, 0, 0), ArgumentError);
}

TEST_CASE("with BatchNorm every process ends with rank 0's running statistics", "[data_parallel]") {
  using BnNet = Network<Dense<12, 8>, BatchNorm<8>, Sigmoid, Dense<8, 3>, SoftmaxCrossEntropy>;
  const Dataset data = toy_data(65);
  ThreadTeam team(3);
  std::vector<std::vector<float>> means(3);
  team.run([&](ThreadTeam::Member& member) {
    BnNet net{HeNormal{.seed = 4}};
    DataParallelTrainer trainer(net, SGD{.learning_rate = 0.2}, member);
    train_epoch_data_parallel<16>(trainer, data, 2, 0);
    // Each process normalised its own shard, yet all hold the same state (and weights) afterwards.
    if (!same_parameters_everywhere(net, member)) throw std::runtime_error("the parameters or state differ");
    const auto& mean = net.layer<1>().running_mean;
    means[member.rank()].assign(mean.data(), mean.data() + 8);
  });
  CHECK(means[0] != std::vector<float>(8, 0.0f));
  CHECK(means[1] == means[0]);
  CHECK(means[2] == means[0]);
}

TEST_CASE("threads that built different networks all stop with the error", "[data_parallel]") {
  ThreadTeam team(2);
  std::vector<std::string> messages(2);
  team.run([&](ThreadTeam::Member& member) {
    try {
      if (member.rank() == 0) {
        Net net;
        DataParallelTrainer trainer(net, SGD{}, member);
      } else {
        OtherNet net;
        DataParallelTrainer trainer(net, SGD{}, member);
      }
    } catch (const DistributedError& e) {
      messages[member.rank()] = e.what();
    }
  });
  CHECK(messages[0] ==
        "the network differs between processes: 1 of 2 have another than rank 0's float network "
        "Dense<12, 8>, Sigmoid, Dense<8, 3>, SoftmaxCrossEntropy");
  CHECK(messages[1] ==
        "the network differs between processes: rank 1 has float network Dense<12, 7>, Sigmoid, "
        "Dense<7, 3>, SoftmaxCrossEntropy, rank 0 has float network Dense<12, 8>, Sigmoid, "
        "Dense<8, 3>, SoftmaxCrossEntropy");
}
