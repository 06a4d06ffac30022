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

// describe() names what holds the values; it is called only for the error, so a passing check allocates
// nothing (the check runs inside training steps).
template <class T, class Describe>
void require_finite(const T* values, std::size_t count, std::size_t cols, std::uint64_t step,
                    const Describe& describe) {
  const std::size_t i = kernels::find_non_finite(values, count);
  if (i != count) {
    const std::string what = describe();
    // A single value (the loss) has no row and column to name.
    const std::string place =
        count == 1 ? "" : " at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols);
    throw NonFiniteError("typenet: " + std::string(std::isnan(values[i]) ? "NaN" : "Inf") + " in " + what +
                         place + ", training step " + std::to_string(step) +
                         " (a learning rate too large? TrainerOptions::clip_norm bounds each step)");
  }
}

}  // namespace detail
}  // namespace typenet
