// ThreadPool: one generation counter wakes the workers; a countdown tells the caller they are done.
#include "typenet/kernels/thread_pool.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace typenet::kernels {

namespace {
// How long a waiting thread spins before it sleeps: long enough to span the serial gaps between the split
// GEMMs of one step (a futex wake-up costs tens of microseconds on a VM: with a spin of about 10 us batch 32
// ran only 1.04x faster on 2 threads, with about 100 us 1.4x), short enough not to burn a core that another
// process wants once the step is over. Bounded by the clock, not by a count, so that it means the same
// whatever a pause instruction costs on the CPU at hand.
constexpr std::chrono::microseconds kSpinTime{100};

// A spin-wait hint: the core lets its sibling hyperthread (or, under a hypervisor that sees it, another
// vCPU) run, and leaving the loop does not flush the pipeline on a memory-order mis-speculation.
inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() holds or kSpinTime has passed; returns done()'s last answer.
template <class Done>
bool spin_until(Done&& done) {
  if (done()) return true;
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 64; ++i) {  // the clock is read once per 64 probes
      relax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}
}  // namespace

struct ThreadPool::Shared {
  std::atomic<std::uint32_t> generation{0};  // bumped by run(); workers wait for a change
  std::atomic<std::size_t> pending{0};       // workers that have not finished this generation
  std::atomic<bool> stop{false};
  Task task = nullptr;
  void* context = nullptr;
  std::size_t parts = 0;
  std::vector<std::thread> workers;

  void work(std::size_t index) {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t now = seen;
      spin_until([&] { return (now = generation.load(std::memory_order_acquire)) != seen; });
      if (now == seen) {
        generation.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = now;
      if (stop.load(std::memory_order_acquire)) return;
      if (index < parts) task(context, index);
      // Every worker acknowledges every generation, with or without a part: run() returns only after all
      // have read this generation's task, so none can lag into the next one and see its fields half-written.
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) pending.notify_one();
    }
  }
};

ThreadPool::ThreadPool(std::size_t threads) : shared_(std::make_unique<Shared>()) {
  shared_->workers.reserve(threads > 1 ? threads - 1 : 0);
  for (std::size_t i = 1; i < threads; ++i)
    shared_->workers.emplace_back([s = shared_.get(), i] { s->work(i); });
}

ThreadPool::~ThreadPool() {
  shared_->stop.store(true, std::memory_order_release);
  shared_->generation.fetch_add(1, std::memory_order_acq_rel);
  shared_->generation.notify_all();
  for (std::thread& t : shared_->workers) t.join();
}

std::size_t ThreadPool::size() const {
  return shared_->workers.size() + 1;
}

void ThreadPool::run(std::size_t parts, Task task, void* context) {
  Shared& s = *shared_;
  if (parts > size()) parts = size();
  if (parts <= 1) {
    if (parts == 1) task(context, 0);
    return;
  }
  s.task = task;
  s.context = context;
  s.parts = parts;
  s.pending.store(s.workers.size(), std::memory_order_relaxed);
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  s.generation.notify_all();
  task(context, 0);
  std::size_t left = 0;
  spin_until([&] { return (left = s.pending.load(std::memory_order_acquire)) == 0; });
  while (left != 0) {
    s.pending.wait(left, std::memory_order_acquire);
    left = s.pending.load(std::memory_order_acquire);
  }
}

}  // namespace typenet::kernels
