// Learning-rate schedules: the factor on the optimizer's base learning rate in each epoch.
//
//   auto schedule = typenet::LearningRateSchedule::cosine(20).with_warmup(2);
//   for (std::size_t epoch = 0; epoch < 20; ++epoch) {
//     trainer.optimizer().learning_rate = base_lr * schedule.factor(epoch);
//     typenet::train_epoch<32>(trainer, data, seed, epoch);
//   }
//
// Epochs count from 0. With a warm-up of W epochs the factor rises linearly, (e + 1) / (W + 1), through
// epochs 0 .. W - 1, and the decay then runs on the epochs after them (so that epoch W starts it at 1):
//   constant():                1
//   step(every, gamma):        gamma ^ floor(e' / every)                  (PyTorch's StepLR)
//   cosine(epochs, floor):     floor + (1 - floor) (1 + cos(pi e' / T')) / 2, T' = epochs - W: from 1 at the
//                              first epoch after the warm-up towards floor at the end (CosineAnnealingLR)
// where e' = e - W. Bad arguments (every = 0, a gamma or floor outside [0, 1], a warm-up of the whole run) are
// an ArgumentError naming the value.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>

#include "typenet/core/error.hpp"

namespace typenet {

class LearningRateSchedule {
 public:
  enum class Kind { constant, step, cosine };

  static LearningRateSchedule constant() { return LearningRateSchedule(Kind::constant); }
  static LearningRateSchedule step(std::size_t every, double gamma) {
    if (every == 0)
      throw ArgumentError("typenet::LearningRateSchedule::step: every must be at least 1 epoch");
    require_fraction("step", "gamma", gamma);
    LearningRateSchedule s(Kind::step);
    s.every_ = every;
    s.gamma_ = gamma;
    return s;
  }
  static LearningRateSchedule cosine(std::size_t epochs, double floor = 0) {
    if (epochs == 0) throw ArgumentError("typenet::LearningRateSchedule::cosine: epochs must be at least 1");
    require_fraction("cosine", "floor", floor);
    LearningRateSchedule s(Kind::cosine);
    s.epochs_ = epochs;
    s.floor_ = floor;
    return s;
  }
  // The same schedule after `epochs` epochs of linear warm-up.
  LearningRateSchedule with_warmup(std::size_t epochs) const {
    if (kind_ == Kind::cosine && epochs >= epochs_)
      throw ArgumentError("typenet::LearningRateSchedule: a warm-up of " + std::to_string(epochs) +
                          " epochs leaves nothing of the cosine's " + std::to_string(epochs_));
    LearningRateSchedule s = *this;
    s.warmup_ = epochs;
    return s;
  }

  double factor(std::size_t epoch) const {
    if (epoch < warmup_) return double(epoch + 1) / double(warmup_ + 1);
    const std::size_t e = epoch - warmup_;
    switch (kind_) {
      case Kind::constant:
        return 1;
      case Kind::step:
        return std::pow(gamma_, double(e / every_));
      case Kind::cosine: {
        const double span = double(epochs_ - warmup_);
        const double t = std::min(double(e), span) / span;
        return floor_ + (1 - floor_) * (1 + std::cos(std::numbers::pi * t)) / 2;
      }
    }
    return 1;
  }

  Kind kind() const { return kind_; }
  std::size_t warmup_epochs() const { return warmup_; }

 private:
  explicit LearningRateSchedule(Kind kind) : kind_(kind) {}
  static void require_fraction(const char* schedule, const char* name, double value) {
    if (!(value >= 0 && value <= 1))
      throw ArgumentError(std::string("typenet::LearningRateSchedule::") + schedule + ": " + name +
                          " must be in [0, 1], got " + std::to_string(value));
  }

  Kind kind_;
  std::size_t warmup_ = 0;
  std::size_t every_ = 1;
  double gamma_ = 1;
  std::size_t epochs_ = 1;
  double floor_ = 0;
};

}  // namespace typenet
