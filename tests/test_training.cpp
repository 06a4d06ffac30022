// The trainer and what it relies on: the loss falls under each optimizer, one Momentum or Adam update equals
// the update computed by hand, clipping scales the gradient to the threshold, He initialisation is
// reproducible and has the right variance, and inference over a row count that is not a multiple of the
// internal chunk drops nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

using test::random_matrix;

// Every parameter (or gradient) in visiting order, as doubles.
template <class Net, class Parameters>
std::vector<double> flatten(Parameters&& parameters) {
  std::vector<double> values;
  parameters.for_each_tensor([&](auto tensor) {
    for (auto v : tensor.values) values.push_back(double(v));
  });
  return values;
}
template <class Net>
std::vector<double> parameters_of(Net& net) {
  return flatten<Net>(net.parameters());
}

double norm(const std::vector<double>& values) {
  double squares = 0;
  for (double v : values) squares += v * v;
  return std::sqrt(squares);
}

// Three Gaussian clusters in 4 dimensions, 16 samples each.
constexpr std::size_t task_rows = 48;
struct ClusterTask {
  Matrix<float, task_rows, 4> x;
  Labels<task_rows> labels{};
};
ClusterTask cluster_task() {
  ClusterTask task;
  NormalSource source(123);
  const float centres[3][4] = {{2, 0, 0, 1}, {0, 2, -1, 0}, {-2, -1, 1, -1}};
  for (std::size_t r = 0; r < task_rows; ++r) {
    const std::uint32_t c = std::uint32_t(r % 3);
    task.labels[r] = c;
    for (std::size_t j = 0; j < 4; ++j) task.x(r, j) = centres[c][j] + float(0.5 * source.standard_normal());
  }
  return task;
}

using ClusterNet = Network<Dense<4, 16>, ReLU, Dense<16, 3>, SoftmaxCrossEntropy>;

template <class Optimizer>
std::pair<float, float> first_and_last_loss(Optimizer optimizer, TrainerOptions options = {}) {
  const ClusterTask task = cluster_task();
  ClusterNet net{HeNormal{.seed = 1}};
  Trainer trainer(net, optimizer, options);
  const float first = trainer.step(task.x, task.labels);
  float last = first;
  for (int i = 0; i < 150; ++i) last = trainer.step(task.x, task.labels);
  return {first, last};
}

}  // namespace

TEST_CASE("Training: the loss falls on a small task under SGD, Momentum and Adam", "[training]") {
  const auto [sgd_first, sgd_last] = first_and_last_loss(SGD{.learning_rate = 0.1});
  CHECK(sgd_last < 0.25f * sgd_first);
  const auto [momentum_first, momentum_last] = first_and_last_loss(Momentum{.learning_rate = 0.05});
  CHECK(momentum_last < 0.25f * momentum_first);
  const auto [adam_first, adam_last] = first_and_last_loss(Adam{.learning_rate = 0.01});
  CHECK(adam_last < 0.25f * adam_first);
  // SGD through the stored-gradient path (clipping on, but at a norm it never reaches).
  const auto [clipped_first, clipped_last] =
      first_and_last_loss(SGD{.learning_rate = 0.1}, {.clip_norm = 1e6});
  CHECK(clipped_last < 0.25f * clipped_first);
  CHECK(clipped_last == Approx(sgd_last).epsilon(1e-3));  // fused and stored SGD take the same path
}

namespace {

using SmallNet = BasicNetwork<double, Dense<5, 4>, Sigmoid, Dense<4, 3>, SoftmaxCrossEntropy>;

struct TwoSteps {
  std::vector<double> p0, g1, p1, g2, p2;
};

// Two trainer steps on two batches, recording the parameters and the gradients each step used.
template <class Optimizer>
TwoSteps two_steps(Optimizer optimizer) {
  SmallNet net{HeNormal{.seed = 2}};
  Trainer trainer(net, optimizer);
  const auto x1 = random_matrix<double, 6, 5>(1);
  const auto x2 = random_matrix<double, 6, 5>(2);
  TwoSteps s;
  s.p0 = parameters_of(net);
  trainer.step(x1, Labels<6>{0, 1, 2, 0, 1, 2});
  s.g1 = flatten<SmallNet>(trainer.gradients());
  s.p1 = parameters_of(net);
  trainer.step(x2, Labels<6>{2, 2, 1, 0, 0, 1});
  s.g2 = flatten<SmallNet>(trainer.gradients());
  s.p2 = parameters_of(net);
  return s;
}

}  // namespace

TEST_CASE("Momentum: two updates equal v = mu v - lr g; p += v", "[training][optimizer]") {
  const double lr = 0.1, mu = 0.9;
  const TwoSteps s = two_steps(Momentum{.learning_rate = lr, .momentum = mu});
  REQUIRE(s.p0.size() == SmallNet::parameter_count);
  CHECK(norm(s.g1) > 0);
  for (std::size_t i = 0; i < s.p0.size(); ++i) {
    const double v1 = -lr * s.g1[i];
    const double v2 = mu * v1 - lr * s.g2[i];
    CHECK(s.p1[i] == Approx(s.p0[i] + v1).margin(1e-15));
    CHECK(s.p2[i] == Approx(s.p1[i] + v2).margin(1e-15));
  }
}

TEST_CASE("Adam: two updates equal the bias-corrected update by hand", "[training][optimizer]") {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const TwoSteps s = two_steps(Adam{.learning_rate = lr, .beta1 = b1, .beta2 = b2, .epsilon = eps});
  for (std::size_t i = 0; i < s.p0.size(); ++i) {
    double m = (1 - b1) * s.g1[i];
    double v = (1 - b2) * s.g1[i] * s.g1[i];
    const double p1 = s.p0[i] - lr * (m / (1 - b1)) / (std::sqrt(v / (1 - b2)) + eps);
    m = b1 * m + (1 - b1) * s.g2[i];
    v = b2 * v + (1 - b2) * s.g2[i] * s.g2[i];
    const double p2 = s.p1[i] - lr * (m / (1 - b1 * b1)) / (std::sqrt(v / (1 - b2 * b2)) + eps);
    CHECK(s.p1[i] == Approx(p1).margin(1e-13));
    CHECK(s.p2[i] == Approx(p2).margin(1e-13));
  }
  // The first Adam step moves every parameter with a non-zero gradient by about lr.
  for (std::size_t i = 0; i < s.p0.size(); ++i)
    if (std::abs(s.g1[i]) > 1e-4) CHECK(std::abs(s.p1[i] - s.p0[i]) == Approx(lr).epsilon(1e-3));
}

TEST_CASE("Clipping by global norm scales the gradient to the threshold", "[training][optimizer]") {
  const auto x = random_matrix<double, 6, 5>(3);
  const Labels<6> labels = {1, 0, 2, 2, 1, 0};
  SmallNet reference{HeNormal{.seed = 4}};
  const std::vector<double> unclipped = flatten<SmallNet>(compute_gradients(reference, x, labels).parameters);
  const double full_norm = norm(unclipped);
  REQUIRE(full_norm > 0);

  SECTION("above the threshold: scaled to it") {
    const double clip = full_norm / 4, lr = 0.5;
    SmallNet net{HeNormal{.seed = 4}};
    const std::vector<double> p0 = parameters_of(net);
    Trainer trainer(net, SGD{.learning_rate = lr}, {.clip_norm = clip});
    trainer.step(x, labels);
    const std::vector<double> clipped = flatten<SmallNet>(trainer.gradients());
    CHECK(norm(clipped) == Approx(clip).epsilon(1e-12));
    const std::vector<double> p1 = parameters_of(net);
    for (std::size_t i = 0; i < clipped.size(); ++i) {
      CHECK(clipped[i] == Approx(unclipped[i] * clip / full_norm).margin(1e-15));
      CHECK(p1[i] == Approx(p0[i] - lr * clipped[i]).margin(1e-15));
    }
  }
  SECTION("below the threshold: unchanged") {
    SmallNet net{HeNormal{.seed = 4}};
    Trainer trainer(net, SGD{.learning_rate = 0.5}, {.clip_norm = 2 * full_norm});
    trainer.step(x, labels);
    const std::vector<double> kept = flatten<SmallNet>(trainer.gradients());
    for (std::size_t i = 0; i < kept.size(); ++i) CHECK(kept[i] == Approx(unclipped[i]).margin(1e-15));
  }
}

TEST_CASE("The trainer's gradient norms are ||dL/dz|| of each layer", "[training]") {
  const auto x = random_matrix<double, 6, 5>(5);
  const Labels<6> labels = {0, 0, 1, 1, 2, 2};
  SmallNet a{HeNormal{.seed = 6}}, b{HeNormal{.seed = 6}};
  const NetworkGradients<SmallNet> expected = compute_gradients(a, x, labels);
  Trainer trainer(b, Adam{});
  trainer.step(x, labels);
  for (std::size_t k = 0; k < SmallNet::stage_count; ++k) {
    CHECK(trainer.gradient_norms()[k] > 0);
    CHECK(trainer.gradient_norms()[k] == Approx(expected.z_norms[k]).epsilon(1e-12));
  }
}

namespace {

// A batch-1 sequence: plain steps, then the same inputs with each step told the next one.
template <class Net, std::size_t Steps = 12>
struct LookaheadRun {
  std::vector<Matrix<float, 1, Net::input_width>> x;
  std::vector<Labels<1>> labels;
  LookaheadRun() {
    for (std::size_t i = 0; i < Steps; ++i) {
      x.push_back(random_matrix<float, 1, Net::input_width>(100 + i));
      labels.push_back({std::uint32_t(i % Net::output_width)});
    }
  }
  // The losses and the final parameters.
  template <class Optimizer>
  std::pair<std::vector<float>, std::vector<double>> train(Optimizer optimizer, bool lookahead) {
    Net net{HeNormal{.seed = 9}};
    Trainer trainer(net, optimizer);
    std::vector<float> losses;
    for (std::size_t i = 0; i < Steps; ++i) {
      const bool has_next = lookahead && i + 1 < Steps;
      losses.push_back(has_next ? trainer.step(x[i], labels[i], x[i + 1]) : trainer.step(x[i], labels[i]));
    }
    return {losses, parameters_of(net)};
  }
};

using test::Mlp;
using OddWidths = Network<Dense<21, 40>, ReLU, Dense<40, 3>, SoftmaxCrossEntropy>;

}  // namespace

TEMPLATE_TEST_CASE("Steps told the next input give exactly the losses and weights of plain steps",
                   "[training][lookahead]", Mlp, OddWidths) {
  LookaheadRun<TestType> run;
  const auto plain = run.train(SGD{.learning_rate = 0.1}, false);
  const auto ahead = run.train(SGD{.learning_rate = 0.1}, true);
  CHECK(ahead.first == plain.first);
  CHECK(ahead.second == plain.second);
  CHECK(plain.first.front() != plain.first.back());  // the weights moved
  // Optimizers that keep their own kernels ignore the lookahead.
  CHECK(run.train(Adam{}, true) == run.train(Adam{}, false));
}

TEST_CASE("A step starts from the previous step's lookahead only on that input, bit for bit",
          "[training][lookahead]") {
  LookaheadRun<OddWidths, 3> run;
  auto losses = [&](auto&& steps) {
    OddWidths net{HeNormal{.seed = 9}};
    Trainer trainer(net, SGD{.learning_rate = 0.1});
    return std::make_pair(steps(trainer), parameters_of(net));
  };
  const auto plain = losses([&](auto& t) {
    return std::vector<float>{t.step(run.x[0], run.labels[0]), t.step(run.x[2], run.labels[2])};
  });
  SECTION("another input next") {
    CHECK(losses([&](auto& t) {
            return std::vector<float>{t.step(run.x[0], run.labels[0], run.x[1]),
                                      t.step(run.x[2], run.labels[2])};
          }) == plain);
  }
  SECTION("the announced input changed in place (-0 for +0 counts as a change)") {
    auto next = run.x[2];
    next(0, 3) = 0.0f;
    auto changed = next;
    changed(0, 3) = -0.0f;
    const auto want = losses([&](auto& t) {
      return std::vector<float>{t.step(run.x[0], run.labels[0]), t.step(changed, run.labels[2])};
    });
    CHECK(losses([&](auto& t) {
            const float first = t.step(run.x[0], run.labels[0], next);
            next(0, 3) = -0.0f;
            return std::vector<float>{first, t.step(next, run.labels[2])};
          }) == want);
  }
  SECTION("a step in between") {
    CHECK(losses([&](auto& t) {
            t.step(run.x[0], run.labels[0], run.x[2]);
            return std::vector<float>{t.step(run.x[1], run.labels[1]), t.step(run.x[2], run.labels[2])};
          }) == losses([&](auto& t) {
            t.step(run.x[0], run.labels[0]);
            return std::vector<float>{t.step(run.x[1], run.labels[1]), t.step(run.x[2], run.labels[2])};
          }));
  }
}

TEST_CASE("A lookahead is dropped when the network is handed out for writing before the next step",
          "[training][lookahead]") {
  // After step(x0, l0, x1) the first layer's weights are zeroed. Through net.layer<0>() (or parameters(),
  // load_model, assignment) the trainer sees it and recomputes; through a reference kept from before it
  // cannot, and the next step starts from the first layer's output computed before the change -- which also
  // shows that the lookahead is what the step uses.
  LookaheadRun<OddWidths, 2> run;
  enum class Zeroing { fresh_access, kept_reference };
  auto second_loss = [&](bool lookahead, Zeroing zeroing) {
    OddWidths net{HeNormal{.seed = 9}};
    auto& kept = net.template layer<0>().weights;
    Trainer trainer(net, SGD{.learning_rate = 0.1});
    if (lookahead)
      trainer.step(run.x[0], run.labels[0], run.x[1]);
    else
      trainer.step(run.x[0], run.labels[0]);
    if (zeroing == Zeroing::fresh_access)
      net.template layer<0>().weights.fill(0.0f);
    else
      kept.fill(0.0f);
    return trainer.step(run.x[1], run.labels[1]);
  };
  const float zeroed = second_loss(false, Zeroing::fresh_access);
  CHECK(second_loss(false, Zeroing::kept_reference) == zeroed);
  CHECK(second_loss(true, Zeroing::fresh_access) == zeroed);
  const auto plain = run.train(SGD{.learning_rate = 0.1}, false);
  CHECK(second_loss(true, Zeroing::kept_reference) == plain.first[1]);
  CHECK(plain.first[1] != zeroed);
}

TEST_CASE("Network::writable_access_count rises with every writable access and assignment", "[network]") {
  OddWidths net{HeNormal{.seed = 1}};
  const OddWidths& read_only = net;
  std::uint64_t count = net.writable_access_count();
  read_only.layer<0>();
  read_only.parameters();
  (void)net.predict(Matrix<float, 1, 21>{});  // inference reads only
  CHECK(net.writable_access_count() == count);
  net.layer<1>();
  CHECK(net.writable_access_count() > count);
  count = net.writable_access_count();
  net.parameters();
  CHECK(net.writable_access_count() > count);
  count = net.writable_access_count();
  net.for_each_parameter_tensor([](auto) {});
  CHECK(net.writable_access_count() > count);
  count = net.writable_access_count();
  net = OddWidths{HeNormal{.seed = 2}};
  CHECK(net.writable_access_count() > count);
}

TEST_CASE("He initialisation: reproducible by seed, variance 2 / fan_in, zero biases", "[init]") {
  using Mlp =
      Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
  Mlp a{HeNormal{.seed = 42}}, b{HeNormal{.seed = 42}}, c{HeNormal{.seed = 43}};
  const std::vector<double> pa = parameters_of(a), pb = parameters_of(b), pc = parameters_of(c);
  CHECK(pa == pb);  // bit for bit
  CHECK(pa != pc);
  std::size_t equal = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) equal += pa[i] == pc[i];
  CHECK(equal >= 256 + 128 + 10);     // the biases: zero in both
  CHECK(equal < 256 + 128 + 10 + 5);  // and (almost surely) no weight

  // A sample variance over n normal draws has standard error sigma^2 sqrt(2 / n); 6 standard errors.
  a.for_each_parameter_tensor([&](auto tensor) {
    INFO("layer " << tensor.layer << " " << to_string(tensor.kind));
    const double n = double(tensor.values.size());
    double sum = 0, squares = 0;
    for (float v : tensor.values) {
      sum += v;
      squares += double(v) * double(v);
    }
    if (tensor.kind == TensorKind::bias) {
      CHECK(squares == 0);
      return;
    }
    const double expected = 2.0 / double(tensor.rows);  // fan_in = rows of In x Out
    const double mean = sum / n;
    const double variance = squares / n - mean * mean;
    CHECK(std::abs(mean) < 6 * std::sqrt(expected / n));
    CHECK(std::abs(variance / expected - 1) < 6 * std::sqrt(2 / n));
  });

  Mlp xavier{XavierNormal{.seed = 42}};
  const auto& w = xavier.layer<4>().weights;  // Dense<128, 10>: 128 x 10
  double squares = 0;
  for (float v : w.values()) squares += double(v) * double(v);
  CHECK(std::abs(squares / double(w.size) / (2.0 / 138) - 1) < 6 * std::sqrt(2.0 / double(w.size)));
}

TEST_CASE("predict and classify on 300 rows (not a multiple of the chunk) equal per-row results",
          "[inference]") {
  using Net = Network<Dense<6, 8>, Sigmoid, Dense<8, 4>, SoftmaxCrossEntropy>;
  Net net{HeNormal{.seed = 9}};
  const auto x = random_matrix<float, 300, 6>(10, 2.0);
  const Matrix<float, 300, 4> all = net.predict(x);
  const std::vector<std::uint32_t> classes = net.classify(x);
  REQUIRE(classes.size() == 300);
  Matrix<float, 300, 4> through_view;
  net.predict(MatrixView<const float, dynamic_rows, 6>(x.data(), 300),
              MatrixView<float, dynamic_rows, 4>(through_view.data(), 300));
  for (std::size_t r = 0; r < 300; ++r) {
    Matrix<float, 1, 6> row;
    for (std::size_t j = 0; j < 6; ++j) row(0, j) = x(r, j);
    const Matrix<float, 1, 4> one = net.predict(row);
    float sum = 0;
    for (std::size_t c = 0; c < 4; ++c) {
      CHECK(all(r, c) == Approx(one(0, c)).margin(1e-6));
      CHECK(through_view(r, c) == Approx(one(0, c)).margin(1e-6));
      sum += all(r, c);
    }
    CHECK(sum == Approx(1).margin(1e-5));
    CHECK(classes[r] == net.classify(row).at(0));
    CHECK(classes[r] == std::uint32_t(std::max_element(&all(r, 0), &all(r, 0) + 4) - &all(r, 0)));
  }

  using Regression = Network<Dense<6, 5>, ReLU, Dense<5, 2>, MeanSquaredError>;
  Regression regression{HeNormal{.seed = 11}};
  const Matrix<float, 300, 2> outputs = regression.predict(x);
  for (std::size_t r : {std::size_t{0}, std::size_t{255}, std::size_t{256}, std::size_t{299}}) {
    Matrix<float, 1, 6> row;
    for (std::size_t j = 0; j < 6; ++j) row(0, j) = x(r, j);
    const Matrix<float, 1, 2> one = regression.predict(row);
    CHECK(outputs(r, 0) == Approx(one(0, 0)).margin(1e-6));
    CHECK(outputs(r, 1) == Approx(one(0, 1)).margin(1e-6));
  }
}

TEST_CASE("predict, classify and accuracy work on a const network, also from several threads at once",
          "[inference][threads]") {
  using Net = Network<Dense<6, 8>, Sigmoid, Dense<8, 4>, SoftmaxCrossEntropy>;
  const Net net{HeNormal{.seed = 9}};
  const auto x = random_matrix<float, 300, 6>(12, 2.0);
  const Matrix<float, 300, 4> expected = net.predict(x);
  const std::vector<std::uint32_t> expected_classes = net.classify(x);

  // A view of writable memory is accepted as well as a view of const.
  Matrix<float, 300, 6> writable = x;
  Matrix<float, 300, 4> through_view;
  net.predict(MatrixView<float, 300, 6>(writable.data()), through_view.view());
  CHECK(net.classify(MatrixView<float, 300, 6>(writable.data())) == expected_classes);
  CHECK(std::equal(through_view.values().begin(), through_view.values().end(), expected.values().begin()));

  Dataset data;
  data.count = 300;
  data.rows = 2;
  data.cols = 3;
  data.images.assign(x.values().begin(), x.values().end());
  for (std::size_t r = 0; r < 300; ++r) data.labels.push_back(std::uint8_t(r % 4));
  const double accuracy_once = accuracy(net, data);
  std::size_t correct = 0;
  for (std::size_t r = 0; r < 300; ++r) correct += expected_classes[r] == r % 4;
  CHECK(accuracy_once == Approx(double(correct) / 300));

  // Four threads predict at once: each gets the same results as one thread (a caller that finds the
  // network's workspace in use runs on its own).
  std::vector<int> matches(4, 0);
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          const Matrix<float, 300, 4> got = net.predict(x);
          matches[t] += std::equal(got.values().begin(), got.values().end(), expected.values().begin()) &&
                        net.classify(x) == expected_classes && accuracy(net, data) == accuracy_once;
        }
      });
    for (std::thread& th : threads) th.join();
  }
  for (int m : matches) CHECK(m == 20);
}
