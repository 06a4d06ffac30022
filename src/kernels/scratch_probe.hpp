// How many scratch buffers the kernels have allocated (each thread's first use of a size it had not needed
// before). They come from hwy::AllocateAligned, i.e. malloc, which a test replacing operator new does not
// see: the allocation test reads this to check that steady-state training steps add none. Not part of the
// public seam.
#pragma once

#include <atomic>
#include <cstdint>

namespace typenet::kernels::detail {

inline std::atomic<std::uint64_t> scratch_allocations{0};

}  // namespace typenet::kernels::detail
