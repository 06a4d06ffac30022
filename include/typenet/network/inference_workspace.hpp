// InferenceWorkspace: the work matrices of a const network's predictions, so predict() and classify() can be
// const and still allocate nothing after the first call.
//
// const means safe to call from several threads at once (as for the standard library's types): the first
// caller borrows the network's own workspace; a caller that finds it in use runs on a workspace of its own
// for that call (allocated then, freed after), so concurrent predictions neither wait nor share buffers.
#pragma once

#include <atomic>
#include <optional>

namespace typenet::detail {

template <class Workspace>
class InferenceWorkspace {
 public:
  InferenceWorkspace() = default;
  // A copy or a move gets a workspace of its own (the buffers are scratch, never state).
  InferenceWorkspace(const InferenceWorkspace&) {}
  InferenceWorkspace& operator=(const InferenceWorkspace&) { return *this; }

  // The workspace for one call, returned when the lease ends.
  class Lease {
   public:
    explicit Lease(const InferenceWorkspace& owner) : owner_(owner) {
      if (!owner_.busy_.exchange(true, std::memory_order_acquire))
        work_ = &owner_.shared_;
      else
        work_ = &own_.emplace();
    }
    ~Lease() {
      if (work_ == &owner_.shared_) owner_.busy_.store(false, std::memory_order_release);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Workspace& operator*() const { return *work_; }

   private:
    const InferenceWorkspace& owner_;
    std::optional<Workspace> own_;
    Workspace* work_ = nullptr;
  };
  Lease lease() const { return Lease(*this); }

 private:
  mutable Workspace shared_;
  mutable std::atomic<bool> busy_{false};
};

}  // namespace typenet::detail
