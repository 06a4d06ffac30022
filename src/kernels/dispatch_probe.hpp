// Which Highway target served the most recent kernel call: lets the tests check that
// hwy::SetSupportedTargetsForTest really changes the code that runs. Not part of the public seam.
#pragma once

#include <atomic>
#include <cstdint>

namespace typenet::kernels::detail {

// The HWY_TARGET bit of the last dispatched kernel (relaxed: a diagnostic, not a synchronisation point).
inline std::atomic<std::int64_t> last_dispatched_target{0};

inline void note_target(std::int64_t target) {
  last_dispatched_target.store(target, std::memory_order_relaxed);
}

// The HWY_TARGETS mask the kernels were compiled with (src/kernels/targets.h decides it, so it differs from
// what a test translation unit sees in HWY_TARGETS).
std::int64_t compiled_targets();

}  // namespace typenet::kernels::detail
