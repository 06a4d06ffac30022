// MpiCommunicator: the Communicator (distributed/communicator.hpp) over MPI's COMM_WORLD, for a job started
// by `mpirun -np N program ...` on one host or many (`mpirun -H host1,host2 ...`). Built when CMake finds
// MPI (Debian: libopenmpi-dev openmpi-bin) as the target typenet::mpi; this header does not include mpi.h.
//
//   if (typenet::MpiCommunicator::launched()) {
//     typenet::MpiCommunicator world;       // MPI_Init; MPI_Finalize when it goes
//     typenet::DataParallelTrainer trainer(net, typenet::Adam{}, world);
//
// allreduce_sum runs MPI_Allreduce with a sum declared non-commutative, which makes MPI add in rank order:
// every process gets the same bits, so the weights stay identical everywhere. MPI's own errors stop the
// whole job (MPI_ERRORS_ARE_FATAL). abort() ends every process of the job (MPI_Abort): what a process that
// cannot go on calls, so the others are not left waiting in a collective.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace typenet {

class MpiCommunicator {
 public:
  // Initialises MPI (unless something already did; then the destructor leaves it running too).
  MpiCommunicator();
  ~MpiCommunicator();
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // Whether this process was started by an MPI launcher (mpirun, srun): its environment says so.
  static bool launched();

  std::size_t rank() const { return rank_; }
  std::size_t size() const { return size_; }
  void allreduce_sum(std::span<float> values);
  void allreduce_sum(std::span<double> values);
  void broadcast(std::span<std::byte> bytes, std::size_t root);
  void barrier();
  // Prints "rank R: message" on stderr and ends every process of the job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

 private:
  std::size_t rank_ = 0, size_ = 1;
  bool finalize_ = false;
};

}  // namespace typenet
