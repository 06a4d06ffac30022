// Runs a test body once per Highway target the kernels were compiled for and this CPU supports, with
// dispatch forced to that target, and checks the kernel called really ran that target's code.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include <hwy/targets.h>

#include "../src/kernels/dispatch_probe.hpp"

namespace typenet::test {

// Restores normal target selection however the test case ends.
struct TargetReset {
  ~TargetReset() { hwy::SetSupportedTargetsForTest(0); }
};

// The targets the kernels were compiled for (src/kernels/targets.h) that this CPU supports.
inline std::vector<std::int64_t> kernel_targets() {
  std::vector<std::int64_t> targets;
  for (std::int64_t bits = hwy::SupportedTargets() & kernels::detail::compiled_targets(); bits != 0;
       bits &= bits - 1)
    targets.push_back(bits & -bits);
  return targets;
}

// Runs f(target) once per Highway target the CPU supports, with dispatch forced to that target.
template <class F>
void for_each_target(F&& f) {
  const TargetReset reset;
  const std::vector<std::int64_t> targets = kernel_targets();
  REQUIRE(!targets.empty());
  for (const std::int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    INFO("Highway target " << hwy::TargetName(target));
    f(target);
  }
}

// The kernel just called really ran the code generated for `target`.
inline void check_dispatched(std::int64_t target) {
  INFO("expected " << hwy::TargetName(target) << ", ran "
                   << hwy::TargetName(kernels::detail::last_dispatched_target.load()));
  CHECK(kernels::detail::last_dispatched_target.load() == target);
}

}  // namespace typenet::test
