// The convolution and max-pooling kernels against the scalar reference (direct loops over the definition,
// no im2col), on every Highway target this CPU supports, in float and double, on awkward geometries: odd
// sizes, stride 2 and 3, padding, 1 x 1 and whole-image kernels, 1 to 16 channels, 1 and 3 samples.
// Tolerance: a sum of n products is within c * eps * sqrt(n) * sum(|a||b|) of the exact one in either order;
// sum(|a||b|) is the reference run on the absolute values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_targets.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/kernels/reference.hpp"

namespace {

namespace k = typenet::kernels;
namespace ref = typenet::kernels::reference;
using k::Activation;
using typenet::test::check_dispatched;
using typenet::test::for_each_target;

template <class T>
std::vector<T> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = T(dist(rng));
  return v;
}

template <class T>
std::vector<T> absolute(std::vector<T> v) {
  for (auto& x : v) x = std::abs(x);
  return v;
}

template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, const std::vector<T>& magnitude,
                 std::size_t terms, const std::string& what) {
  REQUIRE(got.size() == want.size());
  const double eps = std::numeric_limits<T>::epsilon();
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = 4 * eps * std::sqrt(double(terms)) * double(magnitude[i]) + 1e-30;
    const double ratio = std::abs(double(got[i]) - double(want[i])) / tol;
    if (!(ratio <= worst)) {
      worst = std::isnan(ratio) ? std::numeric_limits<double>::infinity() : ratio;
      worst_at = i;
    }
  }
  INFO(what << ": worst element " << worst_at << " of " << got.size() << ", got " << got[worst_at] << " want "
            << want[worst_at] << " (error / tolerance " << worst << ")");
  CHECK(worst <= 1.0);
}

std::string describe(const k::ConvGeometry& g, std::size_t rows) {
  return std::to_string(rows) + " x " + std::to_string(g.channels) + "x" + std::to_string(g.height) + "x" +
         std::to_string(g.width) + ", " + std::to_string(g.out_channels) + " filters " +
         std::to_string(g.kernel) + "x" + std::to_string(g.kernel) + " stride " + std::to_string(g.stride) +
         " padding " + std::to_string(g.padding);
}

// {channels, height, width, out_channels, kernel, stride, padding}
const k::ConvGeometry conv_geometries[] = {
    {1, 28, 28, 6, 5, 1, 2},   // LeNet's first convolution
    {6, 14, 14, 16, 5, 1, 0},  // LeNet's second
    {3, 7, 9, 4, 3, 2, 1},     // odd sizes, stride 2, padding
    {2, 11, 13, 3, 4, 3, 2},   // stride 3, even kernel, a window that overhangs the padding
    {3, 8, 6, 5, 1, 1, 0},     // 1 x 1: the image is its own patches
    {1, 5, 5, 1, 5, 1, 0},     // the kernel covers the whole image: one output pixel
    {1, 3, 3, 2, 5, 1, 1},     // the kernel covers the padded image
    {16, 5, 7, 7, 3, 1, 1},    // more channels than filters
};

template <class T>
void check_convolutions() {
  for (const k::ConvGeometry& g : conv_geometries) {
    for (std::size_t rows : {std::size_t{1}, std::size_t{3}}) {
      INFO(describe(g, rows));
      const std::size_t in_size = g.channels * g.height * g.width, out_size = g.out_channels * g.out_pixels();
      const auto in = random_values<T>(rows * in_size, 1);
      const auto weights = random_values<T>(g.out_channels * g.patch_size(), 2);
      const auto bias = random_values<T>(g.out_channels, 3);
      const auto d_out = random_values<T>(rows * out_size, 4);
      std::vector<T> scratch(g.scratch_size());

      for (Activation act : {Activation::identity, Activation::relu, Activation::sigmoid, Activation::tanh,
                             Activation::leaky_relu}) {
        std::vector<T> want(rows * out_size), got(rows * out_size, T(7)), magnitude(rows * out_size);
        ref::conv2d_forward(in.data(), weights.data(), bias.data(), want.data(), rows, g, act);
        ref::conv2d_forward(absolute(in).data(), absolute(weights).data(), absolute(bias).data(),
                            magnitude.data(), rows, g, Activation::identity);
        for_each_target([&](std::int64_t target) {
          std::fill(got.begin(), got.end(), T(7));
          k::conv2d_forward(in.data(), weights.data(), bias.data(), got.data(), rows, g, act, scratch.data());
          check_dispatched(target);
          check_close(got, want, magnitude, g.patch_size() + 1, "conv2d_forward");
        });
      }

      std::vector<T> want_in(rows * in_size), got_in(rows * in_size), magnitude_in(rows * in_size);
      ref::conv2d_backward_input(d_out.data(), weights.data(), want_in.data(), rows, g);
      ref::conv2d_backward_input(absolute(d_out).data(), absolute(weights).data(), magnitude_in.data(), rows,
                                 g);
      std::vector<T> want_w(weights.size()), want_b(bias.size()), magnitude_w(weights.size()),
          magnitude_b(bias.size());
      ref::conv2d_backward_params(in.data(), d_out.data(), want_w.data(), want_b.data(), rows, g);
      ref::conv2d_backward_params(absolute(in).data(), absolute(d_out).data(), magnitude_w.data(),
                                  magnitude_b.data(), rows, g);
      for_each_target([&](std::int64_t target) {
        std::fill(got_in.begin(), got_in.end(), T(7));
        k::conv2d_backward_input(d_out.data(), weights.data(), got_in.data(), rows, g, scratch.data());
        check_dispatched(target);
        check_close(got_in, want_in, magnitude_in, g.out_channels * g.kernel * g.kernel,
                    "conv2d_backward_input");

        std::vector<T> got_w(weights.size(), T(7)), got_b(bias.size(), T(7));
        k::conv2d_backward_params(in.data(), d_out.data(), got_w.data(), got_b.data(), rows, g,
                                  scratch.data());
        check_dispatched(target);
        check_close(got_w, want_w, magnitude_w, rows * g.out_pixels(), "conv2d_backward_params: weights");
        check_close(got_b, want_b, magnitude_b, rows * g.out_pixels(), "conv2d_backward_params: bias");
      });
    }
  }
}

// {channels, height, width, window, stride}
const k::PoolGeometry pool_geometries[] = {
    {6, 28, 28, 2, 2},   // LeNet's first pooling
    {16, 10, 10, 2, 2},  // its second
    {3, 7, 9, 2, 2},     // odd sizes: the last row and column are left out
    {2, 9, 8, 3, 2},     // overlapping windows: gradients add up
    {1, 5, 5, 5, 1},     // one window over the whole image
    {4, 6, 6, 1, 1},     // window 1: a copy
};

template <class T>
void check_pooling() {
  for (const k::PoolGeometry& g : pool_geometries) {
    for (std::size_t rows : {std::size_t{1}, std::size_t{3}}) {
      INFO(rows << " x " << g.channels << "x" << g.height << "x" << g.width << " window " << g.window
                << " stride " << g.stride);
      const std::size_t in_size = g.channels * g.height * g.width, out_size = g.out_size();
      auto in = random_values<T>(rows * in_size, 5);
      // Ties (ReLU zeros): the first maximum wins in both.
      for (std::size_t i = 0; i < in.size(); i += 3) in[i] = T(0);
      const auto d_out = random_values<T>(rows * out_size, 6);
      std::vector<T> want(rows * out_size), want_arg(rows * out_size), want_in(rows * in_size);
      ref::max_pool_forward(in.data(), want.data(), want_arg.data(), rows, g);
      ref::max_pool_backward(d_out.data(), want_arg.data(), want_in.data(), rows, g);
      for_each_target([&](std::int64_t target) {
        std::vector<T> got(rows * out_size, T(7)), got_arg(rows * out_size, T(-1)),
            got_in(rows * in_size, T(7));
        k::max_pool_forward(in.data(), got.data(), got_arg.data(), rows, g);
        check_dispatched(target);
        CHECK(got == want);
        CHECK(got_arg == want_arg);
        k::max_pool_backward(d_out.data(), got_arg.data(), got_in.data(), rows, g);
        check_dispatched(target);
        // Overlapping windows add in the same order in both, so equal to the last bit.
        CHECK(got_in == want_in);
      });
    }
  }
}

}  // namespace

TEST_CASE("conv2d kernels match the reference on every target (float)", "[kernels][conv]") {
  check_convolutions<float>();
}

TEST_CASE("conv2d kernels match the reference on every target (double)", "[kernels][conv]") {
  check_convolutions<double>();
}

TEST_CASE("max-pool kernels match the reference on every target", "[kernels][conv]") {
  check_pooling<float>();
  check_pooling<double>();
}

TEST_CASE("conv2d_forward reads the padding as zeros and nothing outside the image", "[kernels][conv]") {
  // A 1-channel 3x3 image of ones, a 3x3 kernel of ones, padding 1: each output counts the pixels its
  // window covers (4 in a corner, 6 on an edge, 9 in the middle).
  const k::ConvGeometry g{1, 3, 3, 1, 3, 1, 1};
  std::vector<float> in(9, 1.0f), weights(9, 1.0f), bias(1, 0.0f), out(9), scratch(g.scratch_size());
  for_each_target([&](std::int64_t) {
    k::conv2d_forward(in.data(), weights.data(), bias.data(), out.data(), 1, g, Activation::identity,
                      scratch.data());
    CHECK(out == std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4});
  });
}
