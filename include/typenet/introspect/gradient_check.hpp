// typenet::gradient_check(net, x, targets): compares the backward pass with central differences
// (seed 000 §4.3.5). For each weight matrix and bias vector it perturbs entries by +-h, evaluates the loss
// with a forward pass only, and reports the relative difference ||a - n|| / (||a|| + ||n||) between the
// analytic gradient a and the numeric one n over the entries it checked.
//
//   typenet::BasicNetwork<double, Dense<784, 256>, Sigmoid, ...> net;       // doubles: see below
//   auto report = typenet::gradient_check(net, x, labels, {.samples_per_tensor = 32});
//   std::cout << report;                                                    // one row per tensor
//   assert(report.worst_relative_difference < 1e-6);
//
// Use a double network: in float the rounding error of the loss, divided by 2h, is about as large as the
// gradient itself, so only differences around 1e-2 are meaningful. The network is left bit-for-bit as it was.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <ios>
#include <numeric>
#include <ostream>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "typenet/core/error.hpp"
#include "typenet/core/matrix.hpp"
#include "typenet/introspect/gradients.hpp"
#include "typenet/introspect/loss.hpp"
#include "typenet/introspect/text.hpp"
#include "typenet/network/io_checks.hpp"
#include "typenet/network/network.hpp"

namespace typenet {

struct GradientCheckOptions {
  double h = 1e-4;                     // the central-difference step (seed 000 §4.3.5)
  std::size_t samples_per_tensor = 0;  // entries checked per tensor, chosen at random; 0: every entry
  std::uint64_t seed = 0;              // which entries are sampled
};

struct TensorGradientCheck {
  std::size_t layer;       // its layer's position, counted as everywhere (ParameterTensor::layer)
  std::string layer_name;  // "Dense<784, 256>"
  TensorKind kind;         // weights or bias
  std::size_t rows, cols;
  std::size_t checked;  // entries compared
  double relative_difference;
  double max_abs_difference;
};

struct GradientCheckReport {
  double h = 0;
  std::vector<TensorGradientCheck> tensors;
  double worst_relative_difference = 0;
  std::size_t worst_tensor = 0;  // index into tensors

  bool passed(double tolerance) const { return worst_relative_difference < tolerance; }
  const TensorGradientCheck& worst() const { return tensors.at(worst_tensor); }
};

inline std::ostream& operator<<(std::ostream& out, const GradientCheckReport& report) {
  // Format on a private stream so the caller's flags and precision stay as they were.
  std::ostringstream s;
  s << "Gradient check (central differences, h = " << report.h << ")\n";
  s << std::left << std::setw(7) << "Layer" << std::setw(20) << "Type" << std::setw(9) << "Tensor"
    << std::setw(14) << "Shape" << std::setw(10) << "Checked" << std::setw(16) << "Relative diff"
    << "Max |a - n|\n";
  for (const TensorGradientCheck& t : report.tensors) {
    const std::string shape =
        detail::concat({"(", std::to_string(t.rows), ", ", std::to_string(t.cols), ")"});
    s << std::left << std::setw(7) << t.layer << std::setw(20) << t.layer_name << std::setw(9)
      << to_string(t.kind) << std::setw(14) << shape << std::setw(10) << t.checked << std::scientific
      << std::setprecision(3) << std::setw(16) << t.relative_difference << t.max_abs_difference
      << std::defaultfloat << '\n';
  }
  s << "Worst relative difference: " << std::scientific << std::setprecision(3)
    << report.worst_relative_difference;
  if (!report.tensors.empty())
    s << " (layer " << report.worst().layer << " " << to_string(report.worst().kind) << ")";
  s << '\n';
  return out << s.str();
}

namespace detail {

// The entries of a tensor of `size` values to check: all, or `samples` distinct ones in increasing order.
// A partial Fisher-Yates shuffle on mt19937_64 (fully specified), so the choice is the same everywhere.
inline std::vector<std::size_t> sample_entries(std::size_t size, std::size_t samples, std::uint64_t seed) {
  std::vector<std::size_t> indices(size);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  if (samples == 0 || samples >= size) return indices;
  std::mt19937_64 engine(seed);
  for (std::size_t i = 0; i < samples; ++i) std::swap(indices[i], indices[i + engine() % (size - i)]);
  indices.resize(samples);
  std::sort(indices.begin(), indices.end());
  return indices;
}

template <class Net, std::size_t B, class Targets>
GradientCheckReport run_gradient_check(Net& net,
                                       MatrixView<const typename Net::scalar_type, B, Net::input_width> input,
                                       const Targets& targets, const typename Net::Parameters& analytic,
                                       const GradientCheckOptions& options) {
  using T = typename Net::scalar_type;
  if (!(options.h > 0))
    throw ArgumentError("typenet::gradient_check: h must be positive, got " + std::to_string(options.h));

  std::vector<std::span<const T>> analytic_tensors;
  analytic.for_each_tensor([&](auto tensor) { analytic_tensors.push_back(tensor.values); });

  // The loss compute_gradients differentiates: a training pass, as the first step of a trainer with
  // TrainerOptions::seed 0 runs it (so a Dropout layer keeps the mask it had there).
  detail::LossEvaluator<Net, B> evaluate(detail::step_random_seed(0, 1));
  GradientCheckReport report;
  report.h = options.h;
  std::size_t index = 0;
  net.for_each_parameter_tensor([&](ParameterTensor<T> tensor) {
    const std::span<const T> a = analytic_tensors[index];
    const std::vector<std::size_t> entries = detail::sample_entries(
        tensor.values.size(), options.samples_per_tensor, options.seed + 0x9E3779B97F4A7C15ull * (index + 1));
    double diff_squares = 0, analytic_squares = 0, numeric_squares = 0, max_abs = 0;
    for (std::size_t i : entries) {
      T& value = tensor.values[i];
      const T original = value;
      value = T(original + options.h);
      const T up = value;
      const double loss_up = double(evaluate(net, input, targets));
      value = T(original - options.h);
      const T down = value;
      const double loss_down = double(evaluate(net, input, targets));
      value = original;
      // Divide by the step actually taken: in float, original +- h is rounded.
      const double numeric = (loss_up - loss_down) / (double(up) - double(down));
      const double diff = double(a[i]) - numeric;
      diff_squares += diff * diff;
      analytic_squares += double(a[i]) * double(a[i]);
      numeric_squares += numeric * numeric;
      max_abs = std::max(max_abs, std::abs(diff));
    }
    const double norms = std::sqrt(analytic_squares) + std::sqrt(numeric_squares);
    // Both gradients exactly zero agree; a NaN anywhere stays NaN.
    const double relative = norms == 0 ? 0.0 : std::sqrt(diff_squares) / norms;
    report.tensors.push_back({tensor.layer, Net::plan::layer_name(tensor.layer), tensor.kind, tensor.rows,
                              tensor.cols, entries.size(), relative, max_abs});
    // A NaN becomes (and stays) the worst, so a broken gradient cannot pass.
    const bool worst_is_nan = std::isnan(report.worst_relative_difference);
    if (!worst_is_nan && (std::isnan(relative) || relative > report.worst_relative_difference)) {
      report.worst_relative_difference = relative;
      report.worst_tensor = index;
    }
    ++index;
  });
  return report;
}

}  // namespace detail

// Checks a given analytic gradient (shaped like the network's parameters) against central differences of
// the loss. gradient_check(net, x, targets, options) below passes the network's own backward pass.
template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
GradientCheckReport gradient_check(Net& net, const Matrix<U, B, Width>& x, const Targets& targets,
                                   const typename Net::Parameters& analytic,
                                   GradientCheckOptions options = {}) {
  detail::check_step_arguments<Net, U, B, Width, Targets>();
  if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>())
    return detail::run_gradient_check<Net, B>(net, x.view(), targets, analytic, options);
  else
    return {};
}

// Checks the network's own backward pass (detail::Backprop, as the trainer runs it) on this batch.
template <class Net, class U, std::size_t B, std::size_t Width, class Targets>
GradientCheckReport gradient_check(Net& net, const Matrix<U, B, Width>& x, const Targets& targets,
                                   GradientCheckOptions options = {}) {
  detail::check_step_arguments<Net, U, B, Width, Targets>();
  if constexpr (detail::step_arguments_fit<Net, U, B, Width, Targets>()) {
    const NetworkGradients<Net> gradients = compute_gradients(net, x, targets);
    return detail::run_gradient_check<Net, B>(net, x.view(), targets, gradients.parameters, options);
  } else {
    return {};
  }
}

}  // namespace typenet
