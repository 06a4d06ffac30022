// train_epoch: a seeded shuffle that is the same everywhere, every sample trained once (the trailing partial
// batch included), and bit-identical weights for the same seed on one thread.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "support.hpp"
#include "typenet/introspect/gradients.hpp"
#include "typenet/introspect/loss.hpp"
#include "typenet/io/model_file.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/evaluate.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/trainer.hpp"

using namespace typenet;

namespace {

using Net = Network<Dense<784, 32>, Sigmoid, Dense<32, 10>, SoftmaxCrossEntropy>;

// A small synthetic data set: the label is written into the image, so it can be learned.
Dataset synthetic(std::size_t count) {
  Dataset d;
  d.count = count;
  d.rows = d.cols = 28;
  d.images.resize(count * 784);
  d.labels.resize(count);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < count; ++i) {
    d.labels[i] = std::uint8_t(i % 10);
    for (std::size_t p = 0; p < 784; ++p) d.images[i * 784 + p] = float(rng() % 64) / 255.0f;
    for (std::size_t p = 0; p < 50; ++p) d.images[i * 784 + d.labels[i] * 70 + p] = 1.0f;
  }
  return d;
}

template <std::size_t B, class Optimizer>
std::vector<std::uint8_t> weights_after_one_epoch(const Dataset& data, std::uint64_t seed,
                                                  Optimizer optimizer) {
  Net net{HeNormal{.seed = seed}};
  Trainer trainer(net, optimizer);
  train_epoch<B>(trainer, data, seed, 0);
  return encode_model(net);
}

}  // namespace

TEST_CASE("epoch_order is a permutation fixed by (seed, epoch)") {
  const auto order = epoch_order(1000, 42, 0);
  std::vector<std::uint32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
  REQUIRE(epoch_order(1000, 42, 0) == order);
  REQUIRE(epoch_order(1000, 42, 1) != order);
  REQUIRE(epoch_order(1000, 43, 0) != order);
  // mt19937_64, seed_seq and our draw are fully specified: these values hold on every standard library.
  const auto small = epoch_order(10, 42, 0);
  CAPTURE(small);
  REQUIRE(small == std::vector<std::uint32_t>{0, 6, 5, 1, 3, 9, 7, 8, 4, 2});
}

TEST_CASE("uniform_below stays in range") {
  std::mt19937_64 rng(1);
  for (std::uint64_t n : {1ull, 2ull, 3ull, 10ull, 1000003ull, ~0ull})
    for (int i = 0; i < 100; ++i) REQUIRE(uniform_below(rng, n) < n);
}

TEST_CASE("every sample is trained once, the trailing partial batch included") {
  const Dataset data = synthetic(300);  // 9 batches of 32, then one step of the 12 left
  Net net;
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  std::size_t last_done = 0, calls = 0;
  const EpochStats stats = train_epoch<32>(trainer, data, 1, 0, [&](std::size_t done, std::size_t total) {
    REQUIRE(total == 300);
    REQUIRE(done > last_done);
    last_done = done;
    ++calls;
  });
  REQUIRE(stats.samples == 300);
  REQUIRE(stats.steps == 9 + 1);
  REQUIRE(calls == stats.steps);
  REQUIRE(last_done == 300);
  REQUIRE(stats.mean_loss > 0);
  REQUIRE(stats.mean_gradient_norms.size() == 2);
  REQUIRE(stats.mean_gradient_norms[0] > 0);
}

TEST_CASE("a step on a batch of run-time size is the step of that compile-time size, bit for bit") {
  const Dataset data = synthetic(12);
  Matrix<float, 12, 784> x;
  Labels<12> labels;
  for (std::size_t r = 0; r < 12; ++r) {
    std::copy(data.image(r), data.image(r) + 784, x.data() + r * 784);
    labels[r] = data.labels[r];
  }
  Net fixed{HeNormal{.seed = 3}}, dynamic{HeNormal{.seed = 3}};
  Trainer a(fixed, Adam{}), b(dynamic, Adam{});
  for (int i = 0; i < 3; ++i) {
    const float la = a.step(x, labels);
    const float lb = b.step(MatrixView<const float, dynamic_rows, 784>(x.data(), 12),
                            std::span<const std::uint32_t>(labels.data(), 12));
    REQUIRE(la == lb);
  }
  REQUIRE(encode_model(fixed) == encode_model(dynamic));

  // Row counts known only at run time are checked then.
  CHECK_THROWS_MATCHES(b.step(MatrixView<const float, dynamic_rows, 784>(x.data(), 12),
                              std::span<const std::uint32_t>(labels.data(), 11)),
                       Error, Catch::Matchers::Message("typenet: the step has 12 input rows and 11 targets"));
  CHECK_THROWS_AS(b.step(MatrixView<const float, dynamic_rows, 784>(x.data(), 0),
                         std::span<const std::uint32_t>(labels.data(), 0)),
                  Error);
}

TEST_CASE("same seed, one thread: bit-identical weights after one epoch") {
  const Dataset data = synthetic(200);
  REQUIRE(weights_after_one_epoch<32>(data, 5, SGD{.learning_rate = 0.1}) ==
          weights_after_one_epoch<32>(data, 5, SGD{.learning_rate = 0.1}));
  REQUIRE(weights_after_one_epoch<16>(data, 5, Adam{}) == weights_after_one_epoch<16>(data, 5, Adam{}));
  REQUIRE(weights_after_one_epoch<32>(data, 5, SGD{.learning_rate = 0.1}) !=
          weights_after_one_epoch<32>(data, 6, SGD{.learning_rate = 0.1}));
}

TEST_CASE("training on the synthetic set learns it") {
  const Dataset data = synthetic(500);
  Net net;
  Trainer trainer(net, Adam{});
  const double before = accuracy(net, data);
  EpochStats first, last;
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    last = train_epoch<16>(trainer, data, 3, epoch);
    if (epoch == 0) first = last;
  }
  const double after = accuracy(net, data);
  CAPTURE(before, after, first.accuracy(), last.accuracy());
  REQUIRE(after > 0.9);
  // The running accuracy counts every sample once, from the step that trained on it, and rises as it learns.
  REQUIRE(last.correct <= last.samples);
  REQUIRE(last.samples == 500);
  REQUIRE(last.accuracy() > first.accuracy());
  REQUIRE(last.accuracy() > 0.8);
  const ConfusionMatrix m = confusion_matrix(net, data);
  REQUIRE(m.total() == 500);
  REQUIRE(m.accuracy() == after);
}

TEST_CASE("a data set of the wrong image size is rejected") {
  Dataset data = synthetic(10);
  data.rows = 14;
  Net net;
  Trainer trainer(net, SGD{});
  REQUIRE_THROWS_AS(train_epoch<8>(trainer, data, 1, 0), DataError);
  REQUIRE_THROWS_AS(accuracy(net, data), DataError);
}

// A label at or past the network's output width is a LabelError naming the value and the limit, in every
// function that indexes with it (before, accuracy and confusion_matrix wrote past their counts: ASan found a
// heap-buffer-overflow when a 5-class network was evaluated on Fashion-MNIST's 10 classes).
TEST_CASE("labels past the network's classes are a LabelError in every function that takes them",
          "[labels]") {
  using FiveClasses = Network<Dense<784, 5>, SoftmaxCrossEntropy>;
  const Dataset data = synthetic(40);  // labels 0..9
  FiveClasses net{HeNormal{.seed = 1}};
  const std::string expected =
      "dataset: label 5 of sample 5 is not a class index below 5 (the network's output width)";
  CHECK_THROWS_MATCHES(accuracy(net, data), LabelError, Catch::Matchers::Message(expected));
  CHECK_THROWS_MATCHES(confusion_matrix(net, data), LabelError, Catch::Matchers::Message(expected));
  CHECK_THROWS_MATCHES(predict_classes(net, data), LabelError, Catch::Matchers::Message(expected));
  Trainer trainer(net, SGD{.learning_rate = 0.1});
  const auto before = encode_model(net);
  CHECK_THROWS_MATCHES(train_epoch<8>(trainer, data, 1, 0), LabelError, Catch::Matchers::Message(expected));
  CHECK(encode_model(net) == before);  // nothing trained on half-checked data

  Matrix<float, 2, 784> x;
  CHECK_THROWS_MATCHES(trainer.step(x, Labels<2>{1, 7}), LabelError,
                       Catch::Matchers::Message("typenet: label 7 in row 1 is not a class index below 5 (the "
                                                "network's output width)"));
  CHECK_THROWS_AS(loss(net, x, Labels<2>{5, 0}), LabelError);
  CHECK_THROWS_AS(compute_gradients(net, x, Labels<2>{5, 0}), LabelError);
  // Every typenet error shares one base.
  CHECK_THROWS_AS(accuracy(net, data), Error);
}

TEST_CASE("a Dataset whose vectors disagree with its count is a DataError, not a read past its end",
          "[labels]") {
  Dataset data = synthetic(10);
  Net net;
  data.labels.pop_back();
  CHECK_THROWS_MATCHES(accuracy(net, data), DataError,
                       Catch::Matchers::Message("dataset: labels: expected 10 (one per image), found 9"));
  data = synthetic(10);
  data.images.resize(9 * 784);
  CHECK_THROWS_MATCHES(accuracy(net, data), DataError,
                       Catch::Matchers::Message("dataset: images: expected 10 x 784 values, found 7056"));
}

namespace {

// A regression set: 6 pixels per "image", 2 targets that are fixed linear functions of them.
Dataset regression_set(std::size_t count) {
  Dataset d;
  d.count = count;
  d.rows = 2;
  d.cols = 3;
  d.target_width = 2;
  std::mt19937_64 rng(11);
  for (std::size_t i = 0; i < count; ++i) {
    float t0 = 0.1f, t1 = -0.2f;
    for (std::size_t p = 0; p < 6; ++p) {
      const float v = float(rng() % 1000) / 1000.0f;
      d.images.push_back(v);
      t0 += v * float(p + 1) / 6;
      t1 += v * (p % 2 ? 0.5f : -0.25f);
    }
    d.targets.push_back(t0);
    d.targets.push_back(t1);
  }
  return d;
}

using Regressor = Network<Dense<6, 16>, ReLU, Dense<16, 2>, MeanSquaredError>;

}  // namespace

TEST_CASE("train_epoch trains a MeanSquaredError network on the data set's target rows") {
  const Dataset data = regression_set(100);  // 6 steps of 16 and one of 4
  Regressor net{HeNormal{.seed = 2}}, by_hand{HeNormal{.seed = 2}};
  Trainer trainer(net, Adam{.learning_rate = 0.01}), hand_trainer(by_hand, Adam{.learning_rate = 0.01});

  const EpochStats first = train_epoch<16>(trainer, data, 4, 0);
  CHECK(first.samples == 100);
  CHECK(first.steps == 7);
  CHECK(first.correct == 0);  // nothing to count for a regression

  // The same epoch as a loop of steps over epoch_order: the same weights, bit for bit.
  const std::vector<std::uint32_t> order = epoch_order(100, 4, 0);
  double loss_sum = 0;
  for (std::size_t begin = 0; begin < 100; begin += 16) {
    const std::size_t rows = std::min<std::size_t>(16, 100 - begin);
    Matrix<float, 16, 6> x;
    Matrix<float, 16, 2> t;
    for (std::size_t r = 0; r < rows; ++r) {
      std::copy(data.image(order[begin + r]), data.image(order[begin + r]) + 6, x.data() + r * 6);
      std::copy(data.target(order[begin + r]), data.target(order[begin + r]) + 2, t.data() + r * 2);
    }
    loss_sum += rows * double(hand_trainer.step(MatrixView<const float, dynamic_rows, 6>(x.data(), rows),
                                                MatrixView<const float, dynamic_rows, 2>(t.data(), rows)));
  }
  CHECK(encode_model(net) == encode_model(by_hand));
  CHECK(first.mean_loss == Approx(loss_sum / 100).epsilon(1e-12));

  EpochStats last = first;
  for (std::size_t epoch = 1; epoch < 60; ++epoch) last = train_epoch<16>(trainer, data, 4, epoch);
  INFO("loss " << first.mean_loss << " -> " << last.mean_loss);
  CHECK(last.mean_loss < first.mean_loss / 20);
}

TEST_CASE("train_epoch trains a classifier on one-hot target rows as on its labels") {
  Dataset labelled = synthetic(90);
  Dataset one_hot = labelled;
  one_hot.target_width = 10;
  one_hot.targets.assign(90 * 10, 0.0f);
  for (std::size_t i = 0; i < 90; ++i) one_hot.targets[i * 10 + labelled.labels[i]] = 1.0f;
  one_hot.labels.clear();  // the target rows are all it has

  Net a{HeNormal{.seed = 5}}, b{HeNormal{.seed = 5}};
  Trainer ta(a, SGD{.learning_rate = 0.1}), tb(b, SGD{.learning_rate = 0.1});
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    const EpochStats on_labels = train_epoch<32>(ta, labelled, 8, epoch);
    const EpochStats on_rows = train_epoch<32>(tb, one_hot, 8, epoch);
    CHECK(on_rows.samples == 90);
    CHECK(on_rows.correct == on_labels.correct);
    CHECK(on_rows.mean_loss == Approx(on_labels.mean_loss).epsilon(1e-5));
  }
  CHECK(test::max_parameter_difference(a, b) < 1e-5);
}

TEST_CASE("target rows that do not fit the network are a DataError naming what and where") {
  Regressor net{HeNormal{.seed = 2}};
  Trainer trainer(net, SGD{.learning_rate = 0.01});
  Dataset labels_only = regression_set(8);
  labels_only.target_width = 0;
  labels_only.targets.clear();
  labels_only.labels.assign(8, 0);
  CHECK_THROWS_MATCHES(
      train_epoch<4>(trainer, labels_only, 1, 0), DataError,
      Catch::Matchers::Message("dataset: target rows: expected 2 values per sample (the "
                               "network's output width), found none (a data set of labels only)"));
  Dataset short_rows = regression_set(8);
  short_rows.targets.pop_back();
  CHECK_THROWS_MATCHES(train_epoch<4>(trainer, short_rows, 1, 0), DataError,
                       Catch::Matchers::Message("dataset: targets: expected 8 x 2 values, found 15"));
  Dataset not_finite = regression_set(8);
  not_finite.targets[2 * 5 + 1] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(train_epoch<4>(trainer, not_finite, 1, 0),
                    Catch::Matchers::StartsWith("dataset: target 1 of sample 5 is") &&
                        Catch::Matchers::EndsWith("not a finite number"));
  const Dataset first = first_samples(regression_set(8), 3);
  CHECK(first.targets.size() == 6);
  CHECK(first.target_width == 2);
}

TEST_CASE("train_epoch with a batch size chosen at run time trains as train_epoch<B>, bit for bit") {
  const Dataset data = synthetic(100);  // batches of 32: three full ones and one of 4
  auto weights = [&](auto&& run) {
    Net net{HeNormal{.seed = 9}};
    Trainer trainer(net, Adam{});
    const EpochStats stats = run(trainer);
    return std::make_pair(encode_model(net), stats.steps);
  };
  const auto fixed = weights([&](auto& t) { return train_epoch<32>(t, data, 3, 0); });
  const auto runtime = weights([&](auto& t) { return train_epoch(t, data, 3, 0, 32); });
  CHECK(runtime.first == fixed.first);
  CHECK(runtime.second == 4);
  const auto one = weights([&](auto& t) { return train_epoch<1>(t, data, 3, 0); });
  CHECK(weights([&](auto& t) { return train_epoch(t, data, 3, 0, 1); }).first == one.first);
  const auto seven = weights([&](auto& t) { return train_epoch(t, data, 3, 0, 7); });
  CHECK(seven.second == 15);  // 14 steps of 7 and one of 2
  CHECK(seven.first != fixed.first);

  Net net{HeNormal{.seed = 9}};
  Trainer trainer(net, Adam{});
  CHECK_THROWS_AS(train_epoch(trainer, data, 3, 0, 0), ArgumentError);
}
