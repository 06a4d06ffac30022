// ThreadPool: the opt-in worker threads a training step may use for its large GEMMs.
//
// Created once (by the Trainer when TrainerOptions::threads > 1); run() then hands out a fixed number of
// parts of one task without allocating, so a step stays allocation-free. Workers spin briefly between the
// GEMMs of a step (they follow each other within microseconds) and then sleep on an atomic wait.
#pragma once

#include <cstddef>
#include <memory>

namespace typenet::kernels {

class ThreadPool {
 public:
  // threads counts the calling thread: ThreadPool(2) starts one worker; ThreadPool(1) starts none.
  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that run parts of a task, the caller included.
  std::size_t size() const;

  using Task = void (*)(void* context, std::size_t part);
  // Runs task(context, p) for every p in [0, parts) and returns when all have finished. Part 0 runs on the
  // calling thread; parts must not exceed size(). Not reentrant: one run() at a time per pool.
  void run(std::size_t parts, Task task, void* context);

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace typenet::kernels
