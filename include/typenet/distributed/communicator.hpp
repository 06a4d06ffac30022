// The communicator seam of data-parallel training (distributed/data_parallel.hpp): what the processes of
// one job say to each other. Two implementations: SingleProcess below (one process, every call a no-op)
// and MpiCommunicator (distributed/mpi.hpp, Open MPI). A type with these members is a Communicator:
//
//   std::size_t rank() const, size() const   this process's index in [0, size) and the process count
//   void allreduce_sum(std::span<float>)      every process's values summed elementwise, on every process,
//   void allreduce_sum(std::span<double>)     bit-identical everywhere (the sum runs in a fixed order)
//   void broadcast(std::span<std::byte>, std::size_t root)   root's bytes onto every process's
//   void barrier()                            returns once every process has called it
//
// Collective calls must be made by every process in the same order, as in MPI.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>

#include "typenet/core/error.hpp"

namespace typenet {

// Processes of one job that disagree (different networks, data sets, seeds): on every process.
class DistributedError : public Error {
 public:
  using Error::Error;
};

template <class C>
concept Communicator = requires(C& c, const C& cc, std::span<float> f, std::span<double> d,
                                std::span<std::byte> bytes) {
  { cc.rank() } -> std::convertible_to<std::size_t>;
  { cc.size() } -> std::convertible_to<std::size_t>;
  c.allreduce_sum(f);
  c.allreduce_sum(d);
  c.broadcast(bytes, std::size_t{0});
  c.barrier();
};

// One process: the job is this process alone.
class SingleProcess {
 public:
  std::size_t rank() const { return 0; }
  std::size_t size() const { return 1; }
  void allreduce_sum(std::span<float>) {}
  void allreduce_sum(std::span<double>) {}
  void broadcast(std::span<std::byte>, std::size_t) {}
  void barrier() {}
};

}  // namespace typenet
