// Weight decay (L2 for SGD, Momentum and Adam; decoupled for AdamW), learning-rate schedules, a validation
// split, evaluate() and early stopping: each against its formula by hand or its promised behaviour.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <set>
#include <vector>

#include "support.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;
using test::random_matrix;

namespace {

using Small = Network<Dense<4, 3>, Sigmoid, Dense<3, 2>, SoftmaxCrossEntropy>;

const Labels<5> labels = {0, 1, 1, 0, 1};

// The gradient of one step, computed by a trainer that only computes it.
template <class Net>
typename Net::Parameters gradient_of(Net net, const Matrix<float, 5, 4>& x) {
  Trainer t(net, SGD{.learning_rate = 0.0});
  t.backward(x, labels);
  return t.gradients();
}

// params after: p - lr * (g + wd * p) for weights, p - lr * g for biases.
template <class Net>
void check_sgd_l2(const Net& before, const Net& after, const typename Net::Parameters& g, double lr,
                  double wd) {
  std::vector<double> expected;
  Net::Parameters::zip(
      [&](const auto& info, const auto& p, const auto& grad) {
        for (std::size_t i = 0; i < p.size; ++i) {
          const double decay = info.kind == TensorKind::weights ? wd * double(p.data()[i]) : 0.0;
          expected.push_back(double(p.data()[i]) - lr * (double(grad.data()[i]) + decay));
        }
      },
      before.parameters(), g);
  std::size_t k = 0;
  after.for_each_parameter_tensor([&](auto t) {
    for (const float v : t.values) CHECK(double(v) == Approx(expected[k++]).margin(1e-6));
  });
}

}  // namespace

TEST_CASE("SGD's weight decay adds wd * w to each weight's gradient, and leaves biases alone",
          "[optimizer]") {
  const auto x = random_matrix<float, 5, 4>(3);
  Small net{HeNormal{.seed = 4}};
  const Small start = net;
  const auto g = gradient_of(start, x);
  Trainer trainer(net, SGD{.learning_rate = 0.5, .weight_decay = 0.1});
  trainer.step(x, labels);
  check_sgd_l2(start, net, g, 0.5, 0.1);

  // Without decay the same step is the fused one, and equals p - lr * g.
  Small plain = start;
  Trainer plain_trainer(plain, SGD{.learning_rate = 0.5});
  plain_trainer.step(x, labels);
  check_sgd_l2(start, plain, g, 0.5, 0.0);
  CHECK(test::max_parameter_difference(net, plain) > 1e-3);  // the decay changed something
}

TEST_CASE("Momentum's and Adam's weight decay is L2 on the gradient; AdamW decays the weights directly",
          "[optimizer]") {
  const auto x = random_matrix<float, 5, 4>(5);
  const Small start{HeNormal{.seed = 6}};
  const auto g = gradient_of(start, x);
  const double lr = 0.1, wd = 0.2, b1 = 0.9, b2 = 0.999, eps = 1e-8;

  Small momentum = start;
  Trainer tm(momentum, Momentum{.learning_rate = lr, .momentum = 0.9, .weight_decay = wd});
  tm.step(x, labels);  // v = -lr (g + wd p) from v = 0: one step is SGD with L2
  check_sgd_l2(start, momentum, g, lr, wd);

  Small adam = start, adamw = start;
  Trainer ta(adam, Adam{.learning_rate = lr, .weight_decay = wd});
  Trainer tw(adamw, AdamW{.learning_rate = lr, .weight_decay = wd});
  ta.step(x, labels);
  tw.step(x, labels);
  std::vector<double> want_adam, want_adamw;
  Small::Parameters::zip(
      [&](const auto& info, const auto& p, const auto& grad) {
        for (std::size_t i = 0; i < p.size; ++i) {
          const double w = p.data()[i], gi = grad.data()[i];
          const bool weight = info.kind == TensorKind::weights;
          const double gl2 = gi + (weight ? wd * w : 0.0);  // Adam: L2 inside the moments
          const double m = (1 - b1) * gl2, v = (1 - b2) * gl2 * gl2;
          want_adam.push_back(w - lr * (m / (1 - b1)) / (std::sqrt(v / (1 - b2)) + eps));
          const double decayed = weight ? w * (1 - lr * wd) : w;  // AdamW: outside them
          const double mw = (1 - b1) * gi, vw = (1 - b2) * gi * gi;
          want_adamw.push_back(decayed - lr * (mw / (1 - b1)) / (std::sqrt(vw / (1 - b2)) + eps));
        }
      },
      start.parameters(), g);
  std::size_t k = 0;
  adam.for_each_parameter_tensor([&](auto t) {
    for (const float v : t.values) CHECK(double(v) == Approx(want_adam[k++]).margin(1e-5));
  });
  k = 0;
  adamw.for_each_parameter_tensor([&](auto t) {
    for (const float v : t.values) CHECK(double(v) == Approx(want_adamw[k++]).margin(1e-5));
  });
  CHECK(test::max_parameter_difference(adam, adamw) > 1e-3);
}

TEST_CASE("learning-rate schedules: constant, step, cosine, linear warm-up", "[schedule]") {
  const auto constant = LearningRateSchedule::constant();
  CHECK(constant.factor(0) == 1);
  CHECK(constant.factor(100) == 1);

  const auto step = LearningRateSchedule::step(3, 0.5);
  const double want_step[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (std::size_t e = 0; e < 7; ++e) CHECK(step.factor(e) == Approx(want_step[e]));

  const auto cosine = LearningRateSchedule::cosine(10, 0.1);
  CHECK(cosine.factor(0) == Approx(1));
  CHECK(cosine.factor(5) == Approx(0.1 + 0.9 * 0.5));
  CHECK(cosine.factor(10) == Approx(0.1));
  CHECK(cosine.factor(12) == Approx(0.1));  // past the end it stays at the floor
  for (std::size_t e = 1; e < 10; ++e) CHECK(cosine.factor(e) < cosine.factor(e - 1));

  const auto warm = LearningRateSchedule::cosine(10).with_warmup(2);
  CHECK(warm.factor(0) == Approx(1.0 / 3));
  CHECK(warm.factor(1) == Approx(2.0 / 3));
  CHECK(warm.factor(2) == Approx(1));  // the cosine starts after the warm-up...
  CHECK(warm.factor(6) == Approx((1 + std::cos(std::numbers::pi * 4 / 8)) / 2));
  CHECK(warm.factor(10) == Approx(0));  // ...and ends at the run's last epoch

  CHECK_THROWS_AS(LearningRateSchedule::step(0, 0.5), ArgumentError);
  CHECK_THROWS_WITH(LearningRateSchedule::step(2, 1.5), Catch::Contains("gamma must be in [0, 1], got 1.5"));
  CHECK_THROWS_AS(LearningRateSchedule::cosine(4).with_warmup(4), ArgumentError);
}

namespace {
Dataset counted_set(std::size_t count) {
  Dataset d;
  d.count = count;
  d.rows = 1;
  d.cols = 4;
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t p = 0; p < 4; ++p) d.images.push_back(float(i) + 0.25f * float(p));
    d.labels.push_back(std::uint8_t(i % 2));
  }
  return d;
}
}  // namespace

TEST_CASE("split_validation holds out a seeded sample of the set, every sample exactly once",
          "[validation]") {
  const Dataset data = counted_set(50);
  const auto [train, validation] = split_validation(data, 10, 3);
  REQUIRE(train.count == 40);
  REQUIRE(validation.count == 10);
  std::set<int> seen;
  for (const Dataset* d : {&train, &validation}) {
    REQUIRE(d->images.size() == d->count * 4);
    REQUIRE(d->labels.size() == d->count);
    for (std::size_t i = 0; i < d->count; ++i) {
      const int sample = int(d->image(i)[0]);
      seen.insert(sample);
      CHECK(d->labels[i] == sample % 2);  // labels travel with their images
    }
  }
  CHECK(seen.size() == 50);
  const auto again = split_validation(data, 10, 3);
  CHECK(again.validation.images == validation.images);
  CHECK(split_validation(data, 10, 4).validation.images != validation.images);
  CHECK_THROWS_AS(split_validation(data, 50, 3), ArgumentError);
}

TEST_CASE("evaluate gives the trainer's loss and the accuracy over any number of samples", "[validation]") {
  using Net = Network<Dense<4, 6>, Sigmoid, Dense<6, 2>, SoftmaxCrossEntropy>;
  const Net net{HeNormal{.seed = 2}};
  const Dataset data = counted_set(300);  // a chunk of 256 and one of 44
  const Evaluation e = evaluate(net, data);
  CHECK(e.samples == 300);
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    Matrix<float, 1, 4> x;
    std::copy(data.image(i), data.image(i) + 4, x.data());
    const Labels<1> y{data.labels[i]};
    loss += double(typenet::loss(net, x, y));
    correct += net.classify(x)[0] == data.labels[i];
  }
  CHECK(e.mean_loss == Approx(loss / 300).epsilon(1e-5));
  CHECK(e.accuracy == Approx(double(correct) / 300));
}

TEST_CASE("early stopping stops after `patience` epochs without a better loss and restores the best weights",
          "[validation]") {
  Small net{HeNormal{.seed = 1}};
  EarlyStopping<Small> stopping(net, {.patience = 2, .min_delta = 0.01});
  CHECK_FALSE(stopping.should_stop(1.0, net));  // best: epoch 0
  const auto best = test::parameter_bits(net);
  net.initialize(HeNormal{.seed = 2});
  CHECK_FALSE(stopping.should_stop(0.995, net));  // not better by more than min_delta
  CHECK(stopping.should_stop(1.2, net));          // the second epoch in a row without a new best
  CHECK(stopping.best_epoch() == 0);
  CHECK(stopping.best_loss() == 1.0);
  stopping.restore_best(net);
  CHECK(test::parameter_bits(net) == best);
}
