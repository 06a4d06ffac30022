// Helpers the test files share: the course's MLP type, seeded random matrices, a network's parameters as
// bytes, and the largest difference between two networks' parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "typenet/core/matrix.hpp"
#include "typenet/core/random.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace typenet::test {

// The 784-256-128-10 sigmoid network of the course notes (and of train_fashion_mnist by default).
using Mlp = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

// A matrix of independent N(0, scale^2) values, the same for the same seed everywhere.
template <class T, std::size_t R, std::size_t C>
Matrix<T, R, C> random_matrix(std::uint64_t seed, double scale = 1.0) {
  Matrix<T, R, C> m;
  NormalSource source(seed);
  for (T& v : m.values()) v = T(scale * source.standard_normal());
  return m;
}

// Every parameter's bytes, in for_each_parameter_tensor order: equal exactly when the networks are.
template <class Net>
std::vector<std::uint8_t> parameter_bits(const Net& net) {
  std::vector<std::uint8_t> out;
  const auto append = [&](auto t) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(t.values.data());
    out.insert(out.end(), p, p + t.values.size_bytes());
  };
  net.for_each_parameter_tensor(append);
  net.for_each_state_tensor(append);  // BatchNorm's running statistics
  return out;
}

// max |a - b| over the parameters of two networks with the same parameter layout.
template <class A, class B>
double max_parameter_difference(const A& a, const B& b) {
  std::vector<double> values;
  a.for_each_parameter_tensor([&](auto t) { values.insert(values.end(), t.values.begin(), t.values.end()); });
  double difference = 0;
  std::size_t i = 0;
  b.for_each_parameter_tensor([&](auto t) {
    for (const auto v : t.values) difference = std::max(difference, std::abs(double(v) - values[i++]));
  });
  return difference;
}

}  // namespace typenet::test
