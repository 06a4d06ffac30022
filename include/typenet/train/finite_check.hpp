// The opt-in finite check (TrainerOptions::check_finite): a diverging run stops at the first NaN or Inf, with
// an error naming the step, the layer and what held the value, instead of training on garbage.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "typenet/kernels/kernels.hpp"

#include "typenet/core/error.hpp"

namespace typenet {

struct NonFiniteError : Error {
  using Error::Error;
};

namespace detail {

// Names what holds the values, from `what` (a layer position and tensor, or unused): called for the error only.
using DescribeValues = std::string (*)(std::size_t what);

// The error, built out of line: once per program, not once per check in every step's code.
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_non_finite(bool nan, std::size_t i,
                                                                    std::size_t count, std::size_t cols,
                                                                    std::uint64_t step,
                                                                    DescribeValues describe,
                                                                    std::size_t what) {
  // A single value (the loss) has no row and column to name.
  const std::string place =
      count == 1 ? "" : " at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols);
  throw NonFiniteError("typenet: " + std::string(nan ? "NaN" : "Inf") + " in " + describe(what) + place +
                       ", training step " + std::to_string(step) +
                       " (a learning rate too large? TrainerOptions::clip_norm bounds each step)");
}

// A passing check allocates nothing (it runs inside training steps).
template <class T>
void require_finite(const T* values, std::size_t count, std::size_t cols, std::uint64_t step,
                    DescribeValues describe, std::size_t what = 0) {
  const std::size_t i = kernels::find_non_finite(values, count);
  if (i != count) [[unlikely]]
    throw_non_finite(std::isnan(values[i]), i, count, cols, step, describe, what);
}

}  // namespace detail
}  // namespace typenet
