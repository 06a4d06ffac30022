// A normal-distribution source whose output is fixed by the seed on every standard library: std::mt19937_64
// is fully specified, std::normal_distribution is not (libstdc++ and libc++ differ), so the Box-Muller
// transform is written here. Same seed -> same weights, bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace typenet {

class NormalSource {
 public:
  explicit NormalSource(std::uint64_t seed) : engine_(seed) {}

  // A uniform double in the open interval (0, 1): 53 random bits, never exactly 0.
  double uniform() { return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53; }

  // N(0, 1).
  double standard_normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace typenet
