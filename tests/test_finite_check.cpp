// Divergence, and what the user sees of it. A far too large learning rate drives a ReLU network to Inf and
// NaN within a few steps: with TrainerOptions::check_finite the first non-finite value stops training with a
// NonFiniteError naming the step and the layer; without it nothing is checked (and the weights really are
// garbage, so the check would have had something to find); with clip_norm the same run stays finite.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "typenet/core/random.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/finite_check.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/trainer.hpp"

using namespace typenet;

namespace {

using Net = Network<Dense<4, 16>, ReLU, Dense<16, 16>, ReLU, Dense<16, 3>, SoftmaxCrossEntropy>;

// Three Gaussian clusters in 4 dimensions.
constexpr std::size_t rows = 24;
struct Task {
  Matrix<float, rows, 4> x;
  Labels<rows> labels{};
};
Task cluster_task() {
  Task task;
  NormalSource source(7);
  const float centres[3][4] = {{2, 0, 0, 1}, {0, 2, -1, 0}, {-2, -1, 1, -1}};
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint32_t c = std::uint32_t(r % 3);
    task.labels[r] = c;
    for (std::size_t j = 0; j < 4; ++j) task.x(r, j) = centres[c][j] + float(0.5 * source.standard_normal());
  }
  return task;
}

constexpr double diverging_lr = 1e4;  // SGD on this task is stable around 0.1
constexpr int max_steps = 100;

bool all_parameters_finite(Net& net) {
  bool finite = true;
  net.parameters().for_each_tensor([&](auto tensor) {
    for (float v : tensor.values) finite = finite && std::isfinite(v);
  });
  return finite;
}

}  // namespace

TEST_CASE("finite check on: a diverging run stops with a NonFiniteError naming the step and the layer") {
  const Task task = cluster_task();
  Net net{HeNormal{.seed = 1}};
  Trainer trainer(net, SGD{.learning_rate = diverging_lr}, {.check_finite = true});
  int step = 0;
  std::string message;
  try {
    for (step = 1; step <= max_steps; ++step) {
      const float loss = trainer.step(task.x, task.labels);
      REQUIRE(std::isfinite(loss));  // a step that returns has checked its loss
    }
  } catch (const NonFiniteError& e) {
    message = e.what();
  }
  INFO(message);
  REQUIRE(step <= max_steps);  // it did diverge, and the check stopped it
  REQUIRE(step > 1);           // the first step from He initialisation is finite
  REQUIRE_THAT(message,
               Catch::Matchers::Matches(
                   "typenet: (NaN|Inf) in (the output of|dL/dz of|the weights of|the bias of) layer [0-9] "
                   "\\(Dense<[0-9]+, [0-9]+>( \\+ ReLU)?\\)( after the update)? at row [0-9]+, column "
                   "[0-9]+, training step [0-9]+ \\(a learning rate too large\\? "
                   "TrainerOptions::clip_norm bounds each step\\)|typenet: (NaN|Inf) in the loss, training "
                   "step [0-9]+ .*"));
  // The step it names is the step that failed.
  REQUIRE_THAT(message, Catch::Matchers::Contains("training step " + std::to_string(step) + " "));
}

TEST_CASE("finite check off: the same run is not checked, and ends in garbage") {
  const Task task = cluster_task();
  Net net{HeNormal{.seed = 1}};
  Trainer trainer(net, SGD{.learning_rate = diverging_lr});
  float loss = 0;
  REQUIRE_NOTHROW([&] {
    for (int step = 1; step <= max_steps; ++step) loss = trainer.step(task.x, task.labels);
  }());
  CHECK_FALSE(std::isfinite(loss));
  CHECK_FALSE(all_parameters_finite(net));
}

TEST_CASE("clip_norm: the same learning rate stays finite") {
  const Task task = cluster_task();
  Net net{HeNormal{.seed = 1}};
  // Each update is at most learning_rate * clip_norm long: the weights grow, but only linearly.
  Trainer trainer(net, SGD{.learning_rate = diverging_lr}, {.clip_norm = 1.0, .check_finite = true});
  float loss = 0;
  REQUIRE_NOTHROW([&] {
    for (int step = 1; step <= max_steps; ++step) loss = trainer.step(task.x, task.labels);
  }());
  CHECK(std::isfinite(loss));
  CHECK(all_parameters_finite(net));
}
