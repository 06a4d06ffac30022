// Weight initialisers. Biases start at zero (seed 000 §4.3.4).
//   HeNormal:     W ~ N(0, 2 / fan_in)              (He et al. 2015; seed 000; ReLU and sigmoid nets alike)
//   XavierNormal: W ~ N(0, 2 / (fan_in + fan_out))  (Glorot & Bengio 2010)
// Each layer says what its fan-in and fan-out are (layers/contract.hpp: initialize); the layers are filled in
// order, so the same seed gives the same weights, bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "typenet/core/random.hpp"

namespace typenet {

struct HeNormal {
  std::uint64_t seed = 0;
  static double variance(std::size_t fan_in, std::size_t /*fan_out*/) { return 2.0 / double(fan_in); }
};

struct XavierNormal {
  std::uint64_t seed = 0;
  static double variance(std::size_t fan_in, std::size_t fan_out) { return 2.0 / double(fan_in + fan_out); }
};

template <class Init>
concept Initializer = requires(Init init) {
  { init.seed } -> std::convertible_to<std::uint64_t>;
  { Init::variance(std::size_t{1}, std::size_t{1}) } -> std::convertible_to<double>;
};

namespace detail {

// `count` weights drawn with Init's variance for that fan-in and fan-out.
template <class Init, class T>
void fill_weights(NormalSource& source, T* weights, std::size_t count, std::size_t fan_in,
                  std::size_t fan_out) {
  const double deviation = std::sqrt(Init::variance(fan_in, fan_out));
  for (std::size_t i = 0; i < count; ++i) weights[i] = T(deviation * source.standard_normal());
}

// A fan_in x fan_out matrix (a Dense layer's).
template <class Init, class T>
void fill_weights(NormalSource& source, T* weights, std::size_t fan_in, std::size_t fan_out) {
  fill_weights<Init>(source, weights, fan_in * fan_out, fan_in, fan_out);
}

}  // namespace detail
}  // namespace typenet
