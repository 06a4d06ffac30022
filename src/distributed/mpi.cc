// MpiCommunicator over Open MPI (distributed/mpi.hpp).
#include "typenet/distributed/mpi.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace typenet {
namespace {

// Elementwise in += inout, declared non-commutative: MPI then combines the processes' values in rank order
// (MPI 4.0, 6.9.5), so every process gets the same sum bit for bit.
template <class T>
void sum_in_rank_order(void* in, void* inout, int* count, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *count; ++i) b[i] = a[i] + b[i];
}

MPI_Op float_sum = MPI_OP_NULL, double_sum = MPI_OP_NULL;

// MPI counts are ints: a larger span goes in slices.
template <class T>
void allreduce_in_slices(std::span<T> values, MPI_Datatype type, MPI_Op op) {
  constexpr std::size_t slice = INT_MAX / 2;
  for (std::size_t first = 0; first < values.size(); first += slice) {
    const std::size_t n = std::min(slice, values.size() - first);
    MPI_Allreduce(MPI_IN_PLACE, values.data() + first, int(n), type, op, MPI_COMM_WORLD);
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    MPI_Init(nullptr, nullptr);
    finalize_ = true;
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  rank_ = std::size_t(rank);
  size_ = std::size_t(size);
  if (float_sum == MPI_OP_NULL) {
    MPI_Op_create(&sum_in_rank_order<float>, /*commute=*/0, &float_sum);
    MPI_Op_create(&sum_in_rank_order<double>, /*commute=*/0, &double_sum);
  }
}

MpiCommunicator::~MpiCommunicator() {
  if (finalize_) {
    MPI_Op_free(&float_sum);
    MPI_Op_free(&double_sum);
    MPI_Finalize();
  }
}

bool MpiCommunicator::launched() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

void MpiCommunicator::allreduce_sum(std::span<float> values) {
  allreduce_in_slices(values, MPI_FLOAT, float_sum);
}
void MpiCommunicator::allreduce_sum(std::span<double> values) {
  allreduce_in_slices(values, MPI_DOUBLE, double_sum);
}

void MpiCommunicator::broadcast(std::span<std::byte> bytes, std::size_t root) {
  constexpr std::size_t slice = INT_MAX / 2;
  for (std::size_t first = 0; first < bytes.size(); first += slice)
    MPI_Bcast(bytes.data() + first, int(std::min(slice, bytes.size() - first)), MPI_BYTE, int(root),
              MPI_COMM_WORLD);
}

void MpiCommunicator::barrier() {
  MPI_Barrier(MPI_COMM_WORLD);
}

void MpiCommunicator::abort(const std::string& message, int code) {
  std::fprintf(stderr, "rank %zu: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace typenet
