// The opt-in thread pool: every part of a task runs once; the dense kernels give bitwise the same results
// on 2 threads as on 1 (the work is split on tile and panel edges, so every element sees the same FMA
// order); a Trainer with threads = 2 matches threads = 1 at batch 256 (split) and batch 1 (not split).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "support.hpp"
#include "typenet/kernels/thread_pool.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

template <class T>
std::vector<T> random_vector(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1, 1);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

struct Counter {
  std::atomic<int> runs[4];
};

template <class T>
void check_kernels_match(std::size_t rows, std::size_t inner, std::size_t cols, kernels::ThreadPool& pool) {
  INFO("rows " << rows << " inner " << inner << " cols " << cols);
  const auto x = random_vector<T>(rows * inner, 1);
  const auto w = random_vector<T>(inner * cols, 2);
  const auto b = random_vector<T>(cols, 3);
  const auto dy = random_vector<T>(rows * cols, 4);
  auto a = random_vector<T>(rows * inner, 5);
  for (auto& v : a) v = (v + 1) / 2;  // sigmoid outputs

  std::vector<T> y1(rows * cols), y2(rows * cols);
  kernels::dense_forward(x.data(), w.data(), b.data(), y1.data(), rows, inner, cols,
                         kernels::Activation::sigmoid);
  kernels::dense_forward(x.data(), w.data(), b.data(), y2.data(), rows, inner, cols,
                         kernels::Activation::sigmoid, &pool);
  CHECK(y1 == y2);

  std::vector<T> dx1(rows * inner), dx2(rows * inner);
  kernels::dense_backward_input(dy.data(), w.data(), a.data(), dx1.data(), rows, inner, cols,
                                kernels::Activation::sigmoid);
  kernels::dense_backward_input(dy.data(), w.data(), a.data(), dx2.data(), rows, inner, cols,
                                kernels::Activation::sigmoid, &pool);
  CHECK(dx1 == dx2);

  std::vector<T> dw1(inner * cols), dw2(inner * cols), db1(cols), db2(cols);
  kernels::dense_backward_params(x.data(), dy.data(), dw1.data(), db1.data(), rows, inner, cols);
  kernels::dense_backward_params(x.data(), dy.data(), dw2.data(), db2.data(), rows, inner, cols, &pool);
  CHECK(dw1 == dw2);
  CHECK(db1 == db2);

  std::vector<T> w1 = w, w2 = w, b1 = b, b2 = b;
  kernels::dense_backward_params_sgd(x.data(), dy.data(), w1.data(), b1.data(), T(0.1), rows, inner, cols);
  kernels::dense_backward_params_sgd(x.data(), dy.data(), w2.data(), b2.data(), T(0.1), rows, inner, cols,
                                     &pool);
  CHECK(w1 == w2);
  CHECK(b1 == b2);
}

using test::Mlp;

template <std::size_t B, class Optimizer>
void check_trainer_threads_match(Optimizer optimizer) {
  INFO("batch " << B);
  Matrix<float, B, 784> x;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> pixel(0, 1);
  for (float& v : x.values()) v = pixel(rng);
  Labels<B> labels{};
  for (std::size_t r = 0; r < B; ++r) labels[r] = std::uint32_t((r * 7) % 10);

  Mlp one{HeNormal{.seed = 3}}, two{HeNormal{.seed = 3}};
  Trainer t1(one, optimizer, {.reserve_rows = B, .threads = 1});
  Trainer t2(two, optimizer, {.reserve_rows = B, .threads = 2});
  for (int step = 0; step < 3; ++step) {
    const float l1 = t1.step(x, labels);
    const float l2 = t2.step(x, labels);
    CHECK(l1 == l2);
  }
  std::vector<float> p1, p2;
  one.for_each_parameter_tensor(
      [&](auto tensor) { p1.insert(p1.end(), tensor.values.begin(), tensor.values.end()); });
  two.for_each_parameter_tensor(
      [&](auto tensor) { p2.insert(p2.end(), tensor.values.begin(), tensor.values.end()); });
  CHECK(p1 == p2);
}

}  // namespace

TEST_CASE("ThreadPool runs every part exactly once, many times over", "[threads]") {
  kernels::ThreadPool pool(3);
  CHECK(pool.size() == 3);
  Counter counter{};
  for (int round = 0; round < 1000; ++round) {
    const std::size_t parts = std::size_t(round % 4);  // 0..3 parts
    pool.run(
        parts,
        [](void* context, std::size_t part) { static_cast<Counter*>(context)->runs[part].fetch_add(1); },
        &counter);
  }
  // Rounds with p parts: 250 each for p = 0..3; part i runs in the rounds with more than i parts.
  CHECK(counter.runs[0].load() == 750);
  CHECK(counter.runs[1].load() == 500);
  CHECK(counter.runs[2].load() == 250);
  CHECK(counter.runs[3].load() == 0);

  kernels::ThreadPool single(1);
  CHECK(single.size() == 1);
  Counter c{};
  single.run(
      2, [](void* context, std::size_t part) { static_cast<Counter*>(context)->runs[part].fetch_add(1); },
      &c);
  CHECK(c.runs[0].load() == 1);  // parts beyond size() are not run (the caller asks for at most size())
}

TEMPLATE_TEST_CASE("dense kernels on 2 threads equal 1 thread bit for bit", "[threads][kernels]", float,
                   double) {
  kernels::ThreadPool pool(2);
  // Row splits (tall M), column splits (wide N), tails in every dimension, and products below the threshold.
  check_kernels_match<TestType>(256, 784, 256, pool);
  check_kernels_match<TestType>(300, 300, 17, pool);
  check_kernels_match<TestType>(17, 300, 300, pool);
  check_kernels_match<TestType>(128, 128, 10, pool);
  check_kernels_match<TestType>(3, 1000, 1000, pool);
  check_kernels_match<TestType>(1, 784, 256, pool);
  check_kernels_match<TestType>(10, 3, 1, pool);
}

TEST_CASE("Trainer with 2 threads equals 1 thread (batch 256 and batch 1)", "[threads][trainer]") {
  check_trainer_threads_match<256>(SGD{.learning_rate = 0.1});  // fused SGD
  check_trainer_threads_match<256>(Adam{.learning_rate = 1e-3});
  check_trainer_threads_match<1>(SGD{.learning_rate = 0.1});
  check_trainer_threads_match<1>(Momentum{.learning_rate = 0.05});
}
