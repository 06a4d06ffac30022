// Every kernel of the seam against the scalar reference, on every Highway target this CPU supports.
// Tolerances scale with the magnitudes involved: for a dot product of length K, |error| <= c * eps * sqrt(K)
// * sum(|a||b|), which covers both the reference's sequential sums and the SIMD kernels' FMA/blocked order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "../src/kernels/dispatch_probe.hpp"
#include "kernel_targets.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/kernels/reference.hpp"

namespace {

namespace k = typenet::kernels;
namespace ref = typenet::kernels::reference;
using k::Activation;
using typenet::test::check_dispatched;
using typenet::test::for_each_target;
using typenet::test::kernel_targets;

template <class T>
std::vector<T> random_vector(std::size_t n, T low, T high, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(static_cast<double>(low), static_cast<double>(high));
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// v with runs of exact zeros, as an image's background (and -0 among them): about half its elements.
template <class T>
std::vector<T> with_zero_runs(std::vector<T> v, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::size_t i = 0;
  while (i < v.size()) {
    const std::size_t zeros = rng() % 7, kept = rng() % 7;
    for (std::size_t z = 0; z < zeros && i < v.size(); ++z, ++i) v[i] = (i % 5 == 0) ? T(-0.0) : T(0);
    i += kept;
  }
  return v;
}

template <class T>
std::vector<T> abs_of(const std::vector<T>& v) {
  std::vector<T> a(v.size());
  std::transform(v.begin(), v.end(), a.begin(), [](T x) { return std::abs(x); });
  return a;
}

template <class T>
constexpr double eps() {
  return static_cast<double>(std::numeric_limits<T>::epsilon());
}

// Checks |got - want| <= factor * eps * magnitude[i] + 4 eps |want| + tiny for every element and reports the
// worst element only (one assertion per array).
template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, const std::vector<T>& magnitude,
                 double factor, const char* what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  std::size_t worst_at = 0;
  bool finite = true;
  for (std::size_t i = 0; i < got.size(); ++i) {
    finite = finite && std::isfinite(static_cast<double>(got[i]));
    const double err = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    const double tol = factor * eps<T>() * static_cast<double>(magnitude[i]) +
                       4 * eps<T>() * std::abs(static_cast<double>(want[i])) +
                       static_cast<double>(std::numeric_limits<T>::min());
    const double ratio = err / tol;
    if (!(ratio <= worst)) {  // NaN also lands here
      worst = std::isnan(ratio) ? std::numeric_limits<double>::infinity() : ratio;
      worst_at = i;
    }
  }
  INFO(what << ": worst element " << worst_at << " got " << got[worst_at] << " want " << want[worst_at]
            << " (error / tolerance = " << worst << ")");
  CHECK(finite);
  CHECK(worst <= 1.0);
}

struct Shape {
  std::size_t rows, inner, cols;
};

std::vector<Shape> gemm_shapes() {
  std::vector<Shape> shapes;
  const std::size_t small[] = {1, 3, 10, 17};
  for (std::size_t r : small)
    for (std::size_t i : small)
      for (std::size_t c : small) shapes.push_back({r, i, c});
  // Wider than one register block in every dimension, with tails.
  shapes.push_back({13, 70, 67});
  shapes.push_back({32, 33, 130});
  // Fewer rows than the smallest tile (2: row by row) or than a full one (6, 7: two overlapping small tiles).
  shapes.push_back({2, 70, 67});
  shapes.push_back({6, 33, 130});
  shapes.push_back({7, 300, 33});
  // 300 in each position: many row tiles with a remainder (overlapping last tile), many column panels with a
  // padded last vector, and long K.
  shapes.push_back({300, 17, 10});
  shapes.push_back({17, 300, 33});
  shapes.push_back({5, 33, 300});
  shapes.push_back({300, 300, 3});
  // Packed B in the forward product (64 rows or more on AVX2, 256 on AVX-512) with K split into blocks, and a
  // panel narrower than the others.
  shapes.push_back({70, 300, 20});
  shapes.push_back({260, 40, 70});
  // So many rows that dX packs all of W^T before its tiles (dY's rows past 512 KB), rather than each panel
  // right before its own.
  shapes.push_back({2100, 40, 70});
  // The networks 784-256-128-10 and 784-300-100-10 at batch 1 and 32: 300 and 100 leave a partial last vector
  // in the forward's in-place weights (masked panels, single-row and tiled).
  for (std::size_t batch : {std::size_t{1}, std::size_t{32}}) {
    shapes.push_back({batch, 784, 256});
    shapes.push_back({batch, 256, 128});
    shapes.push_back({batch, 128, 10});
    shapes.push_back({batch, 784, 300});
    shapes.push_back({batch, 300, 100});
  }
  return shapes;
}

const Activation kActivations[] = {Activation::identity, Activation::sigmoid, Activation::relu,
                                   Activation::tanh, Activation::leaky_relu};

}  // namespace

TEMPLATE_TEST_CASE("dense_forward matches the reference on every target", "[kernels][gemm]", float, double) {
  using T = TestType;
  for (const Shape s : gemm_shapes()) {
    INFO("rows " << s.rows << " inner " << s.inner << " cols " << s.cols);
    const auto in = random_vector<T>(s.rows * s.inner, -1, 1, 1);
    const auto w = random_vector<T>(s.inner * s.cols, -1, 1, 2);
    const auto b = random_vector<T>(s.cols, -1, 1, 3);
    std::vector<T> magnitude(s.rows * s.cols);
    ref::dense_forward(abs_of(in).data(), abs_of(w).data(), abs_of(b).data(), magnitude.data(), s.rows,
                       s.inner, s.cols, Activation::identity);
    for (const Activation act : kActivations) {
      INFO("activation " << static_cast<int>(act));
      std::vector<T> want(s.rows * s.cols);
      ref::dense_forward(in.data(), w.data(), b.data(), want.data(), s.rows, s.inner, s.cols, act);
      for_each_target([&](std::int64_t target) {
        std::vector<T> got(s.rows * s.cols, T(-7));
        k::dense_forward(in.data(), w.data(), b.data(), got.data(), s.rows, s.inner, s.cols, act);
        check_dispatched(target);
        check_close(got, want, magnitude, 4 * std::sqrt(double(s.inner + 1)), "out");
      });
    }
  }
}

TEMPLATE_TEST_CASE(
    "dense_forward at batch 1 to 3 skips zero inputs: the values of larger batches, on every target",
    "[kernels][gemm]", float, double) {
  using T = TestType;
  constexpr std::size_t kTiledRows = 16;  // register tiles of 4 rows or more: no row is skipped there
  for (const std::size_t inner : {std::size_t{17}, std::size_t{70}, std::size_t{784}}) {
    for (const std::size_t cols : {std::size_t{10}, std::size_t{33}, std::size_t{100}, std::size_t{256}}) {
      INFO("inner " << inner << " cols " << cols);
      const auto in = with_zero_runs(random_vector<T>(kTiledRows * inner, -1, 1, 31), 32);
      const auto w = random_vector<T>(inner * cols, -1, 1, 33);
      const auto b = random_vector<T>(cols, -1, 1, 34);
      std::vector<T> magnitude(kTiledRows * cols), want(kTiledRows * cols);
      ref::dense_forward(abs_of(in).data(), abs_of(w).data(), abs_of(b).data(), magnitude.data(), kTiledRows,
                         inner, cols, Activation::identity);
      ref::dense_forward(in.data(), w.data(), b.data(), want.data(), kTiledRows, inner, cols,
                         Activation::sigmoid);
      for_each_target([&](std::int64_t target) {
        std::vector<T> tiled(kTiledRows * cols);
        k::dense_forward(in.data(), w.data(), b.data(), tiled.data(), kTiledRows, inner, cols,
                         Activation::sigmoid);
        check_close(tiled, want, magnitude, 4 * std::sqrt(double(inner + 1)), "8 rows");
        for (std::size_t rows = 1; rows <= 3; ++rows) {
          INFO(rows << " rows");
          std::vector<T> few(rows * cols, T(-7));
          k::dense_forward(in.data(), w.data(), b.data(), few.data(), rows, inner, cols, Activation::sigmoid);
          check_dispatched(target);
          CHECK(std::equal(few.begin(), few.end(), tiled.begin()));
        }
        // 5 to 11 rows: 4-row tiles (the one-vector width of 10 included), the same values as 16.
        for (const std::size_t rows : {std::size_t{6}, std::size_t{11}}) {
          INFO(rows << " rows");
          std::vector<T> some(rows * cols, T(-7));
          k::dense_forward(in.data(), w.data(), b.data(), some.data(), rows, inner, cols,
                           Activation::sigmoid);
          CHECK(std::equal(some.begin(), some.end(), tiled.begin()));
        }
      });
    }
  }
}

namespace {
// The forward of one row of `in` (70 wide) through w (70 x 33) and b, on every target: every output
// satisfies `holds`.
template <class T, class Predicate>
void check_one_row_forward(const std::vector<T>& in, const std::vector<T>& w, const std::vector<T>& b,
                           Predicate holds) {
  for_each_target([&](std::int64_t target) {
    std::vector<T> out(33);
    k::dense_forward(in.data(), w.data(), b.data(), out.data(), 1, 70, 33, Activation::identity);
    check_dispatched(target);
    CHECK(std::all_of(out.begin(), out.end(), holds));
  });
}
}  // namespace

TEMPLATE_TEST_CASE("dense_forward at batch 1: a NaN input is not taken for a zero", "[kernels][gemm]", float,
                   double) {
  using T = TestType;
  auto in = with_zero_runs(random_vector<T>(70, -1, 1, 41), 42);
  in[20] = std::numeric_limits<T>::quiet_NaN();
  const auto w = random_vector<T>(70 * 33, -1, 1, 43);
  const auto b = random_vector<T>(33, -1, 1, 44);
  check_one_row_forward(in, w, b, [](T v) { return std::isnan(v); });
}

TEMPLATE_TEST_CASE("dense_forward at batch 1: a NaN weight whose input is zero does not reach the output",
                   "[kernels][gemm]", float, double) {
  using T = TestType;
  auto in = random_vector<T>(70, -1, 1, 45);
  in[20] = T(0);
  auto w = random_vector<T>(70 * 33, -1, 1, 46);
  for (std::size_t c = 0; c < 33; ++c) w[20 * 33 + c] = std::numeric_limits<T>::quiet_NaN();
  const auto b = random_vector<T>(33, -1, 1, 47);
  check_one_row_forward(in, w, b, [](T v) { return std::isfinite(v); });
}

TEMPLATE_TEST_CASE("dense_backward_input matches the reference on every target", "[kernels][gemm]", float,
                   double) {
  using T = TestType;
  for (const Shape s : gemm_shapes()) {
    INFO("rows " << s.rows << " inner " << s.inner << " cols " << s.cols);
    const auto d_out = random_vector<T>(s.rows * s.cols, -1, 1, 4);
    const auto w = random_vector<T>(s.inner * s.cols, -1, 1, 5);
    // Activation outputs in (0, 1) for sigmoid; for relu about a third are zero.
    auto in = random_vector<T>(s.rows * s.inner, -0.5, 1, 6);
    for (auto& x : in) x = std::max(x, T(0));
    std::vector<T> magnitude(s.rows * s.inner);
    const std::vector<T> ones(s.rows * s.inner, T(1));
    ref::dense_backward_input(abs_of(d_out).data(), abs_of(w).data(), ones.data(), magnitude.data(), s.rows,
                              s.inner, s.cols, Activation::identity);
    for (const Activation act : kActivations) {
      INFO("activation " << static_cast<int>(act));
      std::vector<T> want(s.rows * s.inner);
      ref::dense_backward_input(d_out.data(), w.data(), in.data(), want.data(), s.rows, s.inner, s.cols, act);
      for_each_target([&](std::int64_t target) {
        std::vector<T> got(s.rows * s.inner, T(-7));
        k::dense_backward_input(d_out.data(), w.data(), in.data(), got.data(), s.rows, s.inner, s.cols, act);
        check_dispatched(target);
        check_close(got, want, magnitude, 4 * std::sqrt(double(s.cols)), "d_in");
      });
    }
  }
}

TEMPLATE_TEST_CASE("dense_backward_params and its fused SGD match the reference on every target",
                   "[kernels][gemm]", float, double) {
  using T = TestType;
  const T lr = T(0.05);
  for (const Shape s : gemm_shapes()) {
    INFO("rows " << s.rows << " inner " << s.inner << " cols " << s.cols);
    const auto in = random_vector<T>(s.rows * s.inner, -1, 1, 7);
    const auto d_out = random_vector<T>(s.rows * s.cols, -1, 1, 8);
    const auto w0 = random_vector<T>(s.inner * s.cols, -1, 1, 9);
    const auto b0 = random_vector<T>(s.cols, -1, 1, 10);
    std::vector<T> mag_w(s.inner * s.cols), mag_b(s.cols);
    ref::dense_backward_params(abs_of(in).data(), abs_of(d_out).data(), mag_w.data(), mag_b.data(), s.rows,
                               s.inner, s.cols);
    std::vector<T> want_w(s.inner * s.cols), want_b(s.cols);
    ref::dense_backward_params(in.data(), d_out.data(), want_w.data(), want_b.data(), s.rows, s.inner,
                               s.cols);
    std::vector<T> want_sgd_w = w0, want_sgd_b = b0;
    ref::dense_backward_params_sgd(in.data(), d_out.data(), want_sgd_w.data(), want_sgd_b.data(), lr, s.rows,
                                   s.inner, s.cols);
    // For the SGD result the gradient's error is scaled by lr, on top of the rounding of w - lr g.
    auto sgd_magnitude = [&](const std::vector<T>& mag, const std::vector<T>& start) {
      std::vector<T> m(mag.size());
      for (std::size_t i = 0; i < m.size(); ++i) m[i] = lr * mag[i] + std::abs(start[i]);
      return m;
    };
    const double factor = 4 * std::sqrt(double(s.rows));
    for_each_target([&](std::int64_t target) {
      std::vector<T> dw(s.inner * s.cols, T(-7)), db(s.cols, T(-7));
      k::dense_backward_params(in.data(), d_out.data(), dw.data(), db.data(), s.rows, s.inner, s.cols);
      check_dispatched(target);
      check_close(dw, want_w, mag_w, factor, "d_weights");
      check_close(db, want_b, mag_b, factor, "d_bias");
      std::vector<T> w = w0, b = b0;
      k::dense_backward_params_sgd(in.data(), d_out.data(), w.data(), b.data(), lr, s.rows, s.inner, s.cols);
      check_dispatched(target);
      check_close(w, want_sgd_w, sgd_magnitude(mag_w, w0), factor, "weights after SGD");
      check_close(b, want_sgd_b, sgd_magnitude(mag_b, b0), factor, "bias after SGD");
    });
  }
}

namespace {

// A batch-1 SGD step on an inner x cols layer and what it should give: W -= lr in^T d_out, b -= lr d_out.
template <class T>
struct SingleRowSgd {
  static constexpr T lr = T(0.05);
  std::vector<T> in, d_out, w0, b0, want_w, want_b, mag_w, mag_b;
  // sparse: `in` with runs of zeros, whose rows the update skips.
  SingleRowSgd(std::size_t inner, std::size_t cols, T in_low, T in_high, std::uint32_t seed,
               bool sparse = false)
      : in(sparse ? with_zero_runs(random_vector<T>(inner, in_low, in_high, seed), seed)
                  : random_vector<T>(inner, in_low, in_high, seed)),
        d_out(random_vector<T>(cols, -1, 1, seed + 1)),
        w0(random_vector<T>(inner * cols, -1, 1, seed + 2)),
        b0(random_vector<T>(cols, -1, 1, seed + 3)),
        want_w(w0),
        want_b(b0),
        mag_w(inner * cols),
        mag_b(cols) {
    ref::dense_backward_params_sgd(in.data(), d_out.data(), want_w.data(), want_b.data(), lr, 1, inner, cols);
    for (std::size_t i = 0; i < inner * cols; ++i)
      mag_w[i] = lr * std::abs(in[i / cols] * d_out[i % cols]) + std::abs(w0[i]);
    for (std::size_t c = 0; c < cols; ++c) mag_b[c] = lr * std::abs(d_out[c]) + std::abs(b0[c]);
  }
  // The updated parameters against the reference, and bit for bit against the plain batch-1 SGD kernel.
  void check(const std::vector<T>& w, const std::vector<T>& b, std::size_t inner, std::size_t cols) const {
    check_close(w, want_w, mag_w, 4, "weights");
    check_close(b, want_b, mag_b, 4, "bias");
    std::vector<T> plain_w = w0, plain_b = b0;
    k::dense_backward_params_sgd(in.data(), d_out.data(), plain_w.data(), plain_b.data(), lr, 1, inner, cols);
    CHECK(w == plain_w);
    CHECK(b == plain_b);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("dense_sgd_then_forward is an SGD step and then the forward pass, on every target",
                   "[kernels][gemm]", float, double) {
  using T = TestType;
  // Widths around the panel sizes (16 vectors of 16 floats on AVX-512, 8 of 8 on AVX2) and their tails.
  const std::size_t widths[] = {1, 3, 10, 17, 33, 100, 130, 256, 300, 520};
  for (const std::size_t inner :
       {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{70}, std::size_t{784}}) {
    for (const std::size_t cols : widths) {
      if (inner == 784 && cols != 256) continue;
      // Dense inputs, and both inputs with runs of zeros (rows skipped by the update, the forward or both).
      for (const bool sparse : {false, true}) {
        INFO("inner " << inner << " cols " << cols << (sparse ? " with zero inputs" : ""));
        const SingleRowSgd<T> step(inner, cols, -1, 1, 11, sparse);
        const auto dense_next_in = random_vector<T>(inner, -1, 1, 19);
        const auto next_in = sparse ? with_zero_runs(dense_next_in, 20) : dense_next_in;
        std::vector<T> magnitude(cols);
        ref::dense_forward(abs_of(next_in).data(), abs_of(step.want_w).data(), abs_of(step.want_b).data(),
                           magnitude.data(), 1, inner, cols, Activation::identity);
        for (const Activation act : kActivations) {
          INFO("activation " << static_cast<int>(act));
          std::vector<T> want_out(cols);
          ref::dense_forward(next_in.data(), step.want_w.data(), step.want_b.data(), want_out.data(), 1,
                             inner, cols, act);
          for_each_target([&](std::int64_t target) {
            std::vector<T> w = step.w0, b = step.b0, out(cols, T(-7));
            k::dense_sgd_then_forward(step.in.data(), step.d_out.data(), w.data(), b.data(), step.lr,
                                      next_in.data(), out.data(), inner, cols, act);
            check_dispatched(target);
            check_close(out, want_out, magnitude, 4 * std::sqrt(double(inner + 1)), "next_out");
            // Bit for bit the plain step's update and the plain forward pass with it: Trainer's lookahead
            // steps give the weights and losses of plain steps.
            step.check(w, b, inner, cols);
            std::vector<T> plain_out(cols);
            k::dense_forward(next_in.data(), w.data(), b.data(), plain_out.data(), 1, inner, cols, act);
            CHECK(out == plain_out);
          });
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE(
    "dense_backward_input_then_sgd is dense_backward_input and then the SGD step, on every "
    "target",
    "[kernels][gemm]", float, double) {
  using T = TestType;
  const std::size_t widths[] = {1, 3, 10, 16, 17, 33, 100, 130, 256, 300};
  // inner 5 and 70: a group of 4 rows and a remainder.
  for (const std::size_t inner :
       {std::size_t{1}, std::size_t{3}, std::size_t{5}, std::size_t{70}, std::size_t{256}}) {
    for (const std::size_t cols : widths) {
      INFO("inner " << inner << " cols " << cols);
      const SingleRowSgd<T> step(inner, cols, 0.05, 0.95, 21);  // inputs: sigmoid outputs
      std::vector<T> mag_in(inner);                             // |d_out| |W|^T, before the update
      ref::dense_backward_input(abs_of(step.d_out).data(), abs_of(step.w0).data(),
                                std::vector<T>(inner, T(0)).data(), mag_in.data(), 1, inner, cols,
                                Activation::identity);
      for (const Activation act : kActivations) {
        INFO("activation " << static_cast<int>(act));
        std::vector<T> want_d_in(inner);
        ref::dense_backward_input(step.d_out.data(), step.w0.data(), step.in.data(), want_d_in.data(), 1,
                                  inner, cols, act);
        for_each_target([&](std::int64_t target) {
          std::vector<T> w = step.w0, b = step.b0, d_in(inner, T(-7));
          k::dense_backward_input_then_sgd(step.d_out.data(), w.data(), b.data(), step.in.data(), d_in.data(),
                                           step.lr, inner, cols, act);
          check_dispatched(target);
          check_close(d_in, want_d_in, mag_in, 4 * std::sqrt(double(cols)), "d_in");
          step.check(w, b, inner, cols);
          // d_in bit for bit dense_backward_input's (the step's results do not depend on the fusion).
          std::vector<T> plain_d_in(inner);
          k::dense_backward_input(step.d_out.data(), step.w0.data(), step.in.data(), plain_d_in.data(), 1,
                                  inner, cols, act);
          CHECK(d_in == plain_d_in);
        });
      }
    }
  }
}

TEMPLATE_TEST_CASE("dense_forward stays finite and exact for extreme pre-activations", "[kernels][gemm]",
                   float, double) {
  using T = TestType;
  // inner = 1 and weight 1: the pre-activation is exactly in + bias, so extremes reach the activation as
  // given.
  const std::vector<T> z = {T(1e4),  T(-1e4),  T(88),     T(-88), T(200), T(-200), T(104), T(-104), T(0),
                            T(-0.0), T(1e-30), T(-1e-30), T(30),  T(-30), T(17),   T(-17), T(3e38), T(-3e38)};
  const std::vector<T> w = {T(1)};
  const std::vector<T> b = {T(0)};
  for (const Activation act : kActivations) {
    std::vector<T> want(z.size());
    ref::dense_forward(z.data(), w.data(), b.data(), want.data(), z.size(), 1, 1, act);
    for_each_target([&](std::int64_t target) {
      std::vector<T> got(z.size());
      k::dense_forward(z.data(), w.data(), b.data(), got.data(), z.size(), 1, 1, act);
      check_dispatched(target);
      check_close(got, want, std::vector<T>(z.size(), T(0)), 0, "activation of extremes");
      std::vector<T> got_elementwise(z.size());
      k::activation_forward(z.data(), got_elementwise.data(), z.size(), act);
      check_dispatched(target);
      check_close(got_elementwise, want, std::vector<T>(z.size(), T(0)), 0, "activation_forward of extremes");
    });
  }
}

TEMPLATE_TEST_CASE("sigmoid keeps NaN pre-activations NaN (the finite check relies on it)",
                   "[kernels][elementwise]", float, double) {
  using T = TestType;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> z = {nan, T(1), -nan, T(-1), nan, T(-100), T(100), nan, nan, T(0), nan};
  const std::vector<T> w = {T(1)};
  const std::vector<T> b = {T(0)};
  for_each_target([&](std::int64_t target) {
    std::vector<T> a(z.size()), y(z.size());
    k::activation_forward(z.data(), a.data(), z.size(), Activation::sigmoid);
    k::dense_forward(z.data(), w.data(), b.data(), y.data(), z.size(), 1, 1, Activation::sigmoid);
    check_dispatched(target);
    for (std::size_t i = 0; i < z.size(); ++i) {
      INFO("element " << i);
      CHECK(std::isnan(double(a[i])) == std::isnan(double(z[i])));
      CHECK(std::isnan(double(y[i])) == std::isnan(double(z[i])));
    }
  });
}

TEMPLATE_TEST_CASE("activation_forward and activation_backward match the reference", "[kernels][elementwise]",
                   float, double) {
  using T = TestType;
  for (const std::size_t count : {std::size_t{1}, std::size_t{3}, std::size_t{10}, std::size_t{17},
                                  std::size_t{33}, std::size_t{128 * 256}}) {
    INFO("count " << count);
    const auto z = random_vector<T>(count, -200, 200, 11);
    const auto d_out = random_vector<T>(count, -1, 1, 12);
    for (const Activation act : kActivations) {
      INFO("activation " << static_cast<int>(act));
      std::vector<T> want(count), want_back(count);
      ref::activation_forward(z.data(), want.data(), count, act);
      ref::activation_backward(want.data(), d_out.data(), want_back.data(), count, act);
      const std::vector<T> none(count, T(0));
      for_each_target([&](std::int64_t target) {
        std::vector<T> got(count), got_back(count);
        k::activation_forward(z.data(), got.data(), count, act);
        check_dispatched(target);
        check_close(got, want, none, 0, "activation_forward");
        k::activation_backward(want.data(), d_out.data(), got_back.data(), count, act);
        check_dispatched(target);
        check_close(got_back, want_back, none, 0, "activation_backward");
      });
    }
  }
}

namespace {

template <class T>
void check_rows_sum_to_one(const std::vector<T>& probs, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      const double p = probs[r * cols + c];
      REQUIRE(std::isfinite(p));
      REQUIRE(p >= 0);
      sum += p;
    }
    INFO("row " << r);
    CHECK(std::abs(sum - 1) <= 4 * eps<T>() * double(cols));
  }
}

// Logits in [-scale, scale]; the loss magnitude is about 2 scale, so it is checked relative to that.
template <class T>
void check_softmax_family(std::size_t rows, std::size_t cols, T scale, std::uint32_t seed) {
  INFO("rows " << rows << " cols " << cols << " logit scale " << scale);
  const auto logits = random_vector<T>(rows * cols, -scale, scale, seed);
  std::vector<std::uint32_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<std::uint32_t>((r * 7 + seed) % cols);
  std::vector<T> targets(rows * cols, T(0));
  auto soft = random_vector<T>(rows * cols, 0, 1, seed + 1);
  for (std::size_t r = 0; r < rows; ++r) {
    // Half the rows one-hot, half a distribution with a zero entry.
    T sum = 0;
    for (std::size_t c = 0; c < cols; ++c)
      sum += soft[r * cols + c] = (c == 0 && cols > 1) ? T(0) : soft[r * cols + c];
    for (std::size_t c = 0; c < cols; ++c)
      targets[r * cols + c] = r % 2 ? soft[r * cols + c] / sum : (c == labels[r] ? T(1) : T(0));
  }

  const std::size_t n = rows * cols;
  std::vector<T> want_p(n), want_d(n), want_pt(n), want_dt(n), want_softmax(n);
  ref::softmax(logits.data(), want_softmax.data(), rows, cols);
  const T want_loss =
      ref::softmax_cross_entropy(logits.data(), labels.data(), want_p.data(), want_d.data(), rows, cols);
  const T want_loss_t =
      ref::softmax_cross_entropy(logits.data(), targets.data(), want_pt.data(), want_dt.data(), rows, cols);
  // Probabilities: the exp argument z - max carries an error of eps |max|, which exp turns into a relative
  // one.
  const double loss_tol = 16 * eps<T>() * (2 * double(scale) + std::log(double(cols)) + 1);
  std::vector<T> p_mag(n);
  for (std::size_t i = 0; i < n; ++i) p_mag[i] = want_p[i] * (4 * scale + T(cols));
  std::vector<T> d_mag(p_mag);
  for (auto& x : d_mag) x /= T(rows);

  for_each_target([&](std::int64_t target) {
    std::vector<T> probs(n), d_logits(n);
    k::softmax(logits.data(), probs.data(), rows, cols);
    check_dispatched(target);
    check_close(probs, want_softmax, p_mag, 4, "softmax");
    check_rows_sum_to_one(probs, rows, cols);

    std::vector<T> in_place = logits;
    k::softmax(in_place.data(), in_place.data(), rows, cols);
    check_close(in_place, want_softmax, p_mag, 4, "softmax in place");

    const T loss =
        k::softmax_cross_entropy(logits.data(), labels.data(), probs.data(), d_logits.data(), rows, cols);
    check_dispatched(target);
    CHECK(std::isfinite(double(loss)));
    CHECK(std::abs(double(loss) - double(want_loss)) <= loss_tol);
    check_close(probs, want_p, p_mag, 4, "probs (labels)");
    check_close(d_logits, want_d, d_mag, 4, "d_logits (labels)");
    check_rows_sum_to_one(probs, rows, cols);
    const T loss_only = k::softmax_cross_entropy(logits.data(), labels.data(), probs.data(),
                                                 static_cast<T*>(nullptr), rows, cols);
    CHECK(loss_only == loss);

    const T loss_t =
        k::softmax_cross_entropy(logits.data(), targets.data(), probs.data(), d_logits.data(), rows, cols);
    check_dispatched(target);
    CHECK(std::isfinite(double(loss_t)));
    CHECK(std::abs(double(loss_t) - double(want_loss_t)) <= loss_tol);
    check_close(probs, want_pt, p_mag, 4, "probs (targets)");
    check_close(d_logits, want_dt, d_mag, 4, "d_logits (targets)");
    const T loss_t_only = k::softmax_cross_entropy(logits.data(), targets.data(), probs.data(),
                                                   static_cast<T*>(nullptr), rows, cols);
    CHECK(loss_t_only == loss_t);
  });
}

}  // namespace

TEMPLATE_TEST_CASE("softmax and softmax cross-entropy match the reference, also for extreme logits",
                   "[kernels][loss]", float, double) {
  using T = TestType;
  // Blocks of rows (8 on AVX2, 16 on AVX-512) with 3, 8, 9, 10 and 16 classes: register transposes of 8 x 8
  // and the columns left over.
  const std::size_t shapes[][2] = {{1, 1},  {1, 10}, {3, 10}, {17, 3}, {19, 10}, {32, 10},
                                   {5, 17}, {4, 40}, {48, 8}, {33, 9}, {40, 16}, {128, 10}};
  for (const auto& s : shapes) {
    for (const T scale : {T(1), T(20), T(88), T(200), T(1e4)}) check_softmax_family<T>(s[0], s[1], scale, 13);
  }
}

TEMPLATE_TEST_CASE("mean_squared_error and sum_of_squares match the reference", "[kernels][loss]", float,
                   double) {
  using T = TestType;
  const std::pair<std::size_t, std::size_t> shapes[] = {{1, 1}, {3, 10}, {17, 3}, {32, 10}, {128, 256}};
  for (const auto& s : shapes) {
    const std::size_t n = s.first * s.second;
    INFO("rows " << s.first << " cols " << s.second);
    const auto y = random_vector<T>(n, -3, 3, 14);
    const auto t = random_vector<T>(n, -3, 3, 15);
    std::vector<T> want_d(n);
    const T want = ref::mean_squared_error(y.data(), t.data(), want_d.data(), s.first, s.second);
    const T want_sq = ref::sum_of_squares(y.data(), n);
    double sq_diff = 0, sq_y = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sq_diff += double(y[i] - t[i]) * double(y[i] - t[i]);
      sq_y += double(y[i]) * double(y[i]);
    }
    // Both sums of n squares: reference (sequential) and kernel (blocked) each err by <= about eps sqrt(n)
    // sum.
    const double tol_mse = 8 * eps<T>() * std::sqrt(double(n)) * 0.5 * sq_diff / double(s.first);
    const double tol_sq = 8 * eps<T>() * std::sqrt(double(n)) * sq_y;
    for_each_target([&](std::int64_t target) {
      std::vector<T> d(n);
      const T loss = k::mean_squared_error(y.data(), t.data(), d.data(), s.first, s.second);
      check_dispatched(target);
      CHECK(std::abs(double(loss) - double(want)) <= tol_mse);
      check_close(d, want_d, std::vector<T>(n, T(0)), 0, "d_y");
      CHECK(k::mean_squared_error(y.data(), t.data(), static_cast<T*>(nullptr), s.first, s.second) == loss);
      const T sq = k::sum_of_squares(y.data(), n);
      check_dispatched(target);
      CHECK(std::abs(double(sq) - double(want_sq)) <= tol_sq);
    });
  }
}

TEMPLATE_TEST_CASE("find_non_finite finds the first NaN or infinity on every target", "[kernels][finite]",
                   float, double) {
  using T = TestType;
  using limits = std::numeric_limits<T>;
  const T bad[] = {limits::quiet_NaN(), -limits::quiet_NaN(), limits::infinity(), -limits::infinity()};
  for (const std::size_t count : {0, 1, 3, 15, 16, 17, 63, 64, 65, 200, 1000}) {
    INFO("count " << count);
    // Finite extremes are not flagged.
    auto values = random_vector<T>(count, -1, 1, 31);
    for (std::size_t i = 0; i < count; i += 7) values[i] = i % 2 ? limits::max() : -limits::denorm_min();
    for_each_target([&](std::int64_t target) {
      CHECK(k::find_non_finite(values.data(), count) == count);
      check_dispatched(target);
    });
    std::set<std::size_t> positions = {0, count / 2, count - 1, count - count % 16, count - count % 64 + 1};
    for (const std::size_t at : positions) {
      if (at >= count) continue;
      for (const T value : bad) {
        INFO("value " << value << " at " << at);
        auto with_bad = values;
        with_bad[at] = value;
        if (at + 5 < count) with_bad[at + 5] = limits::infinity();  // a later one does not count
        REQUIRE(ref::find_non_finite(with_bad.data(), count) == at);
        for_each_target([&](std::int64_t) { CHECK(k::find_non_finite(with_bad.data(), count) == at); });
      }
    }
  }
}

TEMPLATE_TEST_CASE("optimizer updates match the reference", "[kernels][optimizers]", float, double) {
  using T = TestType;
  for (const std::size_t n :
       {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{100}, std::size_t{1000}}) {
    INFO("count " << n);
    const auto p0 = random_vector<T>(n, -1, 1, 16);
    const auto g = random_vector<T>(n, -1, 1, 17);
    const auto v0 = random_vector<T>(n, -0.1, 0.1, 18);
    const auto m0 = random_vector<T>(n, -0.1, 0.1, 19);
    const auto s0 = random_vector<T>(n, 0, 0.1, 20);
    // Each result is a short expression of O(1) terms: a few eps of the terms' magnitude.
    std::vector<T> mag(n);
    for (std::size_t i = 0; i < n; ++i) mag[i] = std::abs(p0[i]) + std::abs(g[i]) + std::abs(v0[i]) + T(1e-3);

    auto want_scale = p0, want_sgd = p0, want_mp = p0, want_mv = v0, want_ap = p0, want_am = m0, want_as = s0;
    ref::scale(want_scale.data(), T(0.3), n);
    ref::sgd_update(want_sgd.data(), g.data(), T(0.1), n);
    ref::momentum_update(want_mp.data(), g.data(), want_mv.data(), T(0.1), T(0.9), n);
    ref::adam_update(want_ap.data(), g.data(), want_am.data(), want_as.data(), T(1e-3), T(0.9), T(0.999),
                     T(1e-8), T(1 - 0.9 * 0.9), T(1 - 0.999 * 0.999), n);
    for_each_target([&](std::int64_t target) {
      auto x = p0;
      k::scale(x.data(), T(0.3), n);
      check_dispatched(target);
      check_close(x, want_scale, mag, 4, "scale");
      x = p0;
      k::sgd_update(x.data(), g.data(), T(0.1), n);
      check_dispatched(target);
      check_close(x, want_sgd, mag, 4, "sgd");
      x = p0;
      auto v = v0;
      k::momentum_update(x.data(), g.data(), v.data(), T(0.1), T(0.9), n);
      check_dispatched(target);
      check_close(x, want_mp, mag, 4, "momentum params");
      check_close(v, want_mv, mag, 4, "momentum velocity");
      x = p0;
      auto m = m0, s = s0;
      k::adam_update(x.data(), g.data(), m.data(), s.data(), T(1e-3), T(0.9), T(0.999), T(1e-8),
                     T(1 - 0.9 * 0.9), T(1 - 0.999 * 0.999), n);
      check_dispatched(target);
      check_close(x, want_ap, mag, 8, "adam params");
      check_close(m, want_am, mag, 4, "adam first moment");
      check_close(s, want_as, mag, 4, "adam second moment");
    });
  }
}

TEST_CASE("runtime dispatch really switches between Highway targets", "[kernels][dispatch]") {
  std::set<std::int64_t> seen;
  const std::vector<float> x = {1, 2, 3};
  float y[3];
  for_each_target([&](std::int64_t target) {
    k::activation_forward(x.data(), y, 3, Activation::sigmoid);
    seen.insert(k::detail::last_dispatched_target.load());
    check_dispatched(target);
  });
  CHECK(seen.size() == kernel_targets().size());
  INFO("targets on this CPU: " << kernel_targets().size());
  CHECK(seen.size() >= 1);
}
