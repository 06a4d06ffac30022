// Trains Dense<784,256> Sigmoid Dense<256,128> Sigmoid Dense<128,10> SoftmaxCrossEntropy on Fashion-MNIST,
// or with --model lenet the LeNet-5 of examples/06_lenet_fashion_mnist.cpp.
//
//   train_fashion_mnist --epochs 10 --batch 32 --lr 0.1 --optimizer sgd --save model.tnet --plots plots
//   train_fashion_mnist --model lenet                           # Adam, lr 1e-3, batch 64 unless told
//   train_fashion_mnist --load model.tnet --epochs 0            # evaluate a saved model
//   train_fashion_mnist --load-safetensors torch.safetensors --epochs 0   # evaluate PyTorch's weights
//
// Exit codes: 0 done, 1 a runtime failure (bad data or model file, cannot write), 2 bad command line.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "typenet/distributed/communicator.hpp"
#include "typenet/distributed/data_parallel.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/io/model_file.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/io/svg_plot.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/conv2d.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/input.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/layers/max_pool2d.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/evaluate.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/schedule.hpp"
#include "typenet/train/trainer.hpp"
#include "typenet/train/validation.hpp"
#ifdef TYPENET_TRAINER_MPI
#include "typenet/distributed/mpi.hpp"
#endif

namespace {

using namespace typenet;  // the layer names, in the two network types below
using Mlp = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
using LeNet =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,
            Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;
using Clock = std::chrono::steady_clock;

constexpr const char* usage_text = R"(usage: train_fashion_mnist [options]

  --model NAME        mlp (784-256-128-10, sigmoid; the default) or lenet (LeNet-5, ReLU)
  --data DIR          Fashion-MNIST IDX files, raw or .gz (default /usr/share/datasets/fashion-mnist)
  --epochs N          training epochs (default 10; 0 only evaluates, and needs --load or --load-safetensors)
  --batch N           batch size, any N >= 1 (default 32; lenet 64); 1, 8, 16, 32, 64, 128 and 256 are
                      compiled in (batch 1's steps overlap), others run as steps of a run-time size
  --lr X              learning rate (default 0.1 for sgd and momentum, 0.001 for adam and adamw)
  --optimizer NAME    sgd, momentum, adam or adamw (default sgd; lenet adam)
  --weight-decay X    sgd, momentum, adam: L2 on the weights (wd * w added to their gradient); adamw:
                      decoupled decay (w *= 1 - lr * wd each step). Biases are never decayed. Default 0;
                      adamw 0.01
  --schedule NAME     learning rate per epoch: constant (default), cosine (to 0 at the last epoch) or step
                      (times --gamma every --step-epochs epochs)
  --step-epochs N     the step schedule's period (default 10)
  --gamma X           the step schedule's factor, in (0, 1] (default 0.1)
  --warmup N          first N epochs: the learning rate rises linearly to its base (default 0)
  --validation N      hold N training images out (a seeded choice) and report their loss and accuracy
                      after every epoch (default 0: none)
  --patience N        with --validation: stop after N epochs without a lower validation loss and keep the
                      weights of the best epoch (default off)
  --clip-norm X       scale each step's gradient down to global L2 norm X when it is larger (default off);
                      the remedy for a run whose loss explodes
  --check-finite      stop with an error at the first NaN or Inf, naming the step, the layer, the row and
                      the column (costs a pass over every output, gradient and parameter; default off)
  --seed N            seed of the initial weights and of the shuffles (default 42)
  --threads N         threads for a step, the caller's included (default 1; small products stay on one)
  --save FILE         save the trained model (written to FILE.tmp, then renamed)
  --load FILE         start from a saved model
  --save-safetensors FILE   also save the trained weights as safetensors, with PyTorch's names and
                      layouts (a torch.nn.Sequential of the same layers loads them)
  --load-safetensors FILE   start from weights in a safetensors file, such as PyTorch's state_dict of
                      the same Sequential (0.weight, 0.bias, 2.weight, ...); checked against the network
  --plots DIR         write loss.svg, accuracy.svg and gradient_flow.svg into DIR
  --train-limit N     train on the first N training images only
  --test-limit N      evaluate on the first N test images only
  --quiet             no progress and no per-epoch lines
  --help              this text
)";

struct Options {
  std::string model = "mlp";
  std::filesystem::path data = typenet::default_fashion_mnist_dir;
  std::size_t epochs = 10;
  std::size_t batch = 32;
  std::optional<double> lr;
  double clip_norm = 0;  // 0: no clipping
  bool check_finite = false;
  std::string optimizer = "sgd";
  std::optional<double> weight_decay;
  std::string schedule = "constant";
  std::size_t step_epochs = 10;
  double gamma = 0.1;
  std::size_t warmup = 0;
  std::size_t validation = 0;
  std::optional<std::size_t> patience;
  std::uint64_t seed = 42;
  std::size_t threads = 1;
  std::optional<std::filesystem::path> save, load, plots, save_safetensors, load_safetensors;
  std::optional<std::size_t> train_limit, test_limit;
  bool quiet = false;
};

struct UsageError {
  std::string message;
};

template <class U>
U parse_unsigned(std::string_view flag, std::string_view text) {
  U value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    throw UsageError{std::string(flag) + " expects a non-negative integer, got '" + std::string(text) + "'"};
  return value;
}

double parse_positive_double(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value) || value <= 0)
    throw UsageError{std::string(flag) + " expects a positive number, got '" + text + "'"};
  return value;
}

double parse_non_negative_double(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value) || value < 0)
    throw UsageError{std::string(flag) + " expects a number of at least 0, got '" + text + "'"};
  return value;
}

// Throws UsageError; returns nullopt for --help.
std::optional<Options> parse(int argc, char** argv) {
  Options o;
  bool epochs_given = false, batch_given = false, optimizer_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError{flag + " needs a value"};
      return argv[++i];
    };
    auto no_value = [&] {
      if (inline_value) throw UsageError{flag + " takes no value"};
    };
    if (flag == "--help" || flag == "-h") {
      no_value();
      return std::nullopt;
    } else if (flag == "--model") {
      o.model = value();
      if (o.model != "mlp" && o.model != "lenet")
        throw UsageError{"--model must be mlp or lenet, got '" + o.model + "'"};
    } else if (flag == "--data") {
      o.data = value();
    } else if (flag == "--epochs") {
      o.epochs = parse_unsigned<std::size_t>(flag, value());
      epochs_given = true;
    } else if (flag == "--batch") {
      o.batch = parse_unsigned<std::size_t>(flag, value());
      batch_given = true;
    } else if (flag == "--lr") {
      o.lr = parse_positive_double(flag, value());
    } else if (flag == "--clip-norm") {
      o.clip_norm = parse_positive_double(flag, value());
    } else if (flag == "--check-finite") {
      no_value();
      o.check_finite = true;
    } else if (flag == "--optimizer") {
      o.optimizer = value();
      optimizer_given = true;
      if (o.optimizer != "sgd" && o.optimizer != "momentum" && o.optimizer != "adam" &&
          o.optimizer != "adamw")
        throw UsageError{"--optimizer must be sgd, momentum, adam or adamw, got '" + o.optimizer + "'"};
    } else if (flag == "--weight-decay") {
      o.weight_decay = parse_non_negative_double(flag, value());
    } else if (flag == "--schedule") {
      o.schedule = value();
      if (o.schedule != "constant" && o.schedule != "cosine" && o.schedule != "step")
        throw UsageError{"--schedule must be constant, cosine or step, got '" + o.schedule + "'"};
    } else if (flag == "--step-epochs") {
      o.step_epochs = parse_unsigned<std::size_t>(flag, value());
      if (o.step_epochs == 0) throw UsageError{"--step-epochs must be at least 1"};
    } else if (flag == "--gamma") {
      const std::string text = value();
      o.gamma = parse_positive_double(flag, text);
      if (o.gamma > 1) throw UsageError{"--gamma must be at most 1, got " + text};
    } else if (flag == "--warmup") {
      o.warmup = parse_unsigned<std::size_t>(flag, value());
    } else if (flag == "--validation") {
      o.validation = parse_unsigned<std::size_t>(flag, value());
    } else if (flag == "--patience") {
      o.patience = parse_unsigned<std::size_t>(flag, value());
      if (*o.patience == 0) throw UsageError{"--patience must be at least 1"};
    } else if (flag == "--seed") {
      o.seed = parse_unsigned<std::uint64_t>(flag, value());
    } else if (flag == "--threads") {
      o.threads = parse_unsigned<std::size_t>(flag, value());
      if (o.threads == 0) throw UsageError{"--threads must be at least 1"};
    } else if (flag == "--save") {
      o.save = value();
    } else if (flag == "--load") {
      o.load = value();
    } else if (flag == "--save-safetensors") {
      o.save_safetensors = value();
    } else if (flag == "--load-safetensors") {
      o.load_safetensors = value();
    } else if (flag == "--plots") {
      o.plots = value();
    } else if (flag == "--train-limit") {
      o.train_limit = parse_unsigned<std::size_t>(flag, value());
      if (*o.train_limit == 0) throw UsageError{"--train-limit must be at least 1"};
    } else if (flag == "--test-limit") {
      o.test_limit = parse_unsigned<std::size_t>(flag, value());
      if (*o.test_limit == 0) throw UsageError{"--test-limit must be at least 1"};
    } else if (flag == "--quiet") {
      no_value();
      o.quiet = true;
    } else {
      throw UsageError{"unknown option '" + std::string(argv[i]) + "'"};
    }
  }
  if (o.model == "lenet") {  // the recipe of examples/06_lenet_fashion_mnist.cpp
    if (!batch_given) o.batch = 64;
    if (!optimizer_given) o.optimizer = "adam";
  }
  if (o.patience && o.validation == 0)
    throw UsageError{"--patience stops on the validation loss, so it needs --validation N"};
  if (o.schedule == "cosine" && o.epochs > 0 && o.warmup >= o.epochs)
    throw UsageError{"--warmup " + std::to_string(o.warmup) + " leaves none of the " +
                     std::to_string(o.epochs) + " epochs for the cosine schedule"};
  if (o.load && o.load_safetensors)
    throw UsageError{"--load and --load-safetensors both give the starting weights: pass one"};
  if (o.epochs == 0 && !o.load && !o.load_safetensors)
    throw UsageError{epochs_given
                         ? "--epochs 0 only evaluates, so it needs --load FILE or --load-safetensors FILE"
                         : "--epochs must be positive"};
  if (o.batch == 0) throw UsageError{"--batch must be at least 1"};
  std::error_code ec;
  if (!std::filesystem::is_directory(o.data, ec))
    throw UsageError{"--data: no such directory: " + o.data.string()};
  return o;
}

std::string clock_text(double seconds) {
  const long s = long(std::lround(seconds));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%ld:%02ld", s / 60, s % 60);
  return buffer;
}

// A live bar on a terminal, a plain line every tenth of the epoch otherwise.
class Progress {
 public:
  Progress(bool enabled, std::size_t epoch, std::size_t epochs)
      : enabled_(enabled), tty_(::isatty(STDOUT_FILENO) == 1), epoch_(epoch), epochs_(epochs) {}

  void operator()(std::size_t done, std::size_t total) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? double(done) / elapsed : 0;
    const double eta = rate > 0 ? double(total - done) / rate : 0;
    if (tty_) {
      if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      constexpr int width = 30;
      const int filled = int(double(width) * double(done) / double(total));
      std::printf("\r  epoch %zu/%zu [%s%s] %zu/%zu  %.0f samples/s  ETA %s ", epoch_, epochs_,
                  std::string(std::size_t(filled), '#').c_str(),
                  std::string(std::size_t(width - filled), '.').c_str(), done, total, rate,
                  clock_text(eta).c_str());
      std::fflush(stdout);
      if (done == total) std::printf("\r%*s\r", 100, "");
    } else {
      const std::size_t tenth = done * 10 / total;
      if (tenth == reported_ || done == total) return;
      reported_ = tenth;
      std::printf("  epoch %zu/%zu: %zu/%zu samples, %.0f samples/s, ETA %s\n", epoch_, epochs_, done, total,
                  rate, clock_text(eta).c_str());
      std::fflush(stdout);
    }
  }

 private:
  bool enabled_, tty_;
  std::size_t epoch_, epochs_;
  std::size_t reported_ = 0;
  Clock::time_point start_ = Clock::now(), last_{};
};

// fixed(std::integral_constant<std::size_t, B>{}) for the batch sizes compiled in (their steps are the
// fastest: batch 1 starts each next step's first layer), runtime(batch) for any other.
template <class Fixed, class Runtime>
decltype(auto) with_batch(std::size_t batch, Fixed&& fixed, Runtime&& runtime) {
  switch (batch) {
    case 1:
      return fixed(std::integral_constant<std::size_t, 1>{});
    case 8:
      return fixed(std::integral_constant<std::size_t, 8>{});
    case 16:
      return fixed(std::integral_constant<std::size_t, 16>{});
    case 32:
      return fixed(std::integral_constant<std::size_t, 32>{});
    case 64:
      return fixed(std::integral_constant<std::size_t, 64>{});
    case 128:
      return fixed(std::integral_constant<std::size_t, 128>{});
    case 256:
      return fixed(std::integral_constant<std::size_t, 256>{});
    default:
      return runtime(batch);
  }
}

struct History {
  std::vector<double> epochs, train_loss, train_accuracy, test_accuracy, validation_accuracy;
  std::vector<double> gradient_norms;  // of the last epoch
};

// The epoch loop: one process (Trainer, train_epoch), or data-parallel over MPI processes
// (DataParallelTrainer, train_epoch_data_parallel) where only rank 0 speaks.
// The learning-rate schedule the flags ask for.
typenet::LearningRateSchedule schedule_of(const Options& o) {
  typenet::LearningRateSchedule s = typenet::LearningRateSchedule::constant();
  if (o.schedule == "cosine") s = typenet::LearningRateSchedule::cosine(o.epochs);
  if (o.schedule == "step") s = typenet::LearningRateSchedule::step(o.step_epochs, o.gamma);
  return o.warmup > 0 ? s.with_warmup(o.warmup) : s;
}

// validation: the held-out images (--validation), or null.
template <class Net, class Optimizer, class Comm>
History train(Net& net, const Options& o, Optimizer optimizer, const typenet::TrainTestSets& data,
              const typenet::Dataset* validation, Comm& comm) {
  const typenet::TrainerOptions options{.clip_norm = o.clip_norm,
                                        .reserve_rows = o.batch,
                                        .check_finite = o.check_finite,
                                        .threads = o.threads};
  constexpr bool parallel = !std::is_same_v<Comm, typenet::SingleProcess>;
  using LocalTrainer = typenet::Trainer<Net, Optimizer>;
  using ParallelTrainer =
      std::conditional_t<parallel, typenet::DataParallelTrainer<Net, Optimizer, Comm>, LocalTrainer>;
  ParallelTrainer trainer = [&] {
    if constexpr (parallel)
      return ParallelTrainer(net, optimizer, comm, options);
    else
      return ParallelTrainer(net, optimizer, options);
  }();
  const bool speak = !o.quiet && comm.rank() == 0;
  const typenet::LearningRateSchedule schedule = schedule_of(o);
  Optimizer& epoch_optimizer = [&]() -> Optimizer& {
    if constexpr (parallel)
      return trainer.local_trainer().optimizer();
    else
      return trainer.optimizer();
  }();
  // Every process evaluates the same validation set and so takes the same decision.
  std::optional<typenet::EarlyStopping<Net>> stopping;
  if (o.patience) stopping.emplace(net, typenet::EarlyStoppingOptions{.patience = *o.patience});
  History history;
  for (std::size_t epoch = 0; epoch < o.epochs; ++epoch) {
    epoch_optimizer.learning_rate = optimizer.learning_rate * schedule.factor(epoch);
    Progress progress(speak, epoch + 1, o.epochs);
    const auto start = Clock::now();
    const double allreduce_before = [&] {
      if constexpr (parallel) return trainer.allreduce_seconds();
      return 0.0;
    }();
    const typenet::EpochStats stats = with_batch(
        o.batch,
        [&](auto b) {
          if constexpr (parallel)
            return typenet::train_epoch_data_parallel<b.value>(trainer, data.train, o.seed, epoch,
                                                               std::ref(progress));
          else
            return typenet::train_epoch<b.value>(trainer, data.train, o.seed, epoch, std::ref(progress));
        },
        [&](std::size_t batch) -> typenet::EpochStats {
          if constexpr (parallel)
            return typenet::train_epoch_data_parallel(trainer, data.train, o.seed, epoch, batch,
                                                      std::ref(progress));
          else
            return typenet::train_epoch(trainer, data.train, o.seed, epoch, batch, std::ref(progress));
        });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Running accuracy over the epoch, counted from each step's own probabilities (no extra pass).
    const double train_accuracy = stats.accuracy();
    const double test_accuracy =
        parallel ? typenet::accuracy(net, data.test, comm) : typenet::accuracy(net, data.test);
    const typenet::Evaluation validation_result =
        validation ? typenet::evaluate(net, *validation) : typenet::Evaluation{};
    history.epochs.push_back(double(epoch + 1));
    history.train_loss.push_back(stats.mean_loss);
    history.train_accuracy.push_back(train_accuracy);
    history.test_accuracy.push_back(test_accuracy);
    if (validation) history.validation_accuracy.push_back(validation_result.accuracy);
    history.gradient_norms = stats.mean_gradient_norms;
    if (speak) {
      std::printf("epoch %zu/%zu  train loss %.4f  train acc %.2f%%", epoch + 1, o.epochs, stats.mean_loss,
                  100 * train_accuracy);
      if (validation)
        std::printf("  val loss %.4f  val acc %.2f%%", validation_result.mean_loss,
                    100 * validation_result.accuracy);
      std::printf("  test acc %.2f%%", 100 * test_accuracy);
      if (o.schedule != "constant" || o.warmup > 0) std::printf("  lr %.3g", epoch_optimizer.learning_rate);
      std::printf("  %.0f samples/s  (%.1f s)", double(stats.samples) / seconds, seconds);
      if constexpr (parallel) {
        const double allreduce = trainer.allreduce_seconds() - allreduce_before;
        std::printf("  allreduce %.0f us of %.0f us a step on %zu processes",
                    1e6 * allreduce / double(stats.steps), 1e6 * seconds / double(stats.steps), comm.size());
      }
      std::printf("\n");
    }
    if (stopping && stopping->should_stop(validation_result.mean_loss, net)) {
      if (speak)
        std::printf("early stop: no lower validation loss in %zu epochs\n", stopping->epochs_since_best());
      break;
    }
  }
  if (stopping) {
    stopping->restore_best(net);
    if (speak)
      std::printf("kept the weights of epoch %zu (validation loss %.4f)\n", stopping->best_epoch() + 1,
                  stopping->best_loss());
  }
  return history;
}

template <class Net>
void write_plots(const std::filesystem::path& dir, const History& h) {
  std::filesystem::create_directories(dir);
  typenet::write_text_file(dir / "loss.svg",
                           typenet::line_chart_svg({.title = "Training loss",
                                                    .x_label = "epoch",
                                                    .y_label = "mean cross-entropy",
                                                    .x = h.epochs,
                                                    .series = {{"train loss", h.train_loss}}}));
  auto percent = [](std::vector<double> v) {
    for (double& x : v) x *= 100;
    return v;
  };
  std::vector<typenet::PlotSeries> accuracy;
  accuracy.push_back({"train accuracy", percent(h.train_accuracy)});
  if (!h.validation_accuracy.empty())
    accuracy.push_back({"validation accuracy", percent(h.validation_accuracy)});
  accuracy.push_back({"test accuracy", percent(h.test_accuracy)});
  typenet::write_text_file(dir / "accuracy.svg", typenet::line_chart_svg({.title = "Accuracy",
                                                                          .x_label = "epoch",
                                                                          .y_label = "accuracy (%)",
                                                                          .x = h.epochs,
                                                                          .series = accuracy}));
  typenet::BarChart bars;
  bars.title = "Gradient Flow Through Layers";
  bars.x_label = "stage (a layer and its activation)";
  bars.y_label = "mean ||dL/dz|| in the last epoch";
  bars.legend = "||dL/dz||";
  for (std::size_t k = 0; k < h.gradient_norms.size(); ++k) {
    bars.categories.push_back("layer " + std::to_string(k + 1) + " (" + std::to_string(Net::widths[k]) + "x" +
                              std::to_string(Net::widths[k + 1]) + ")");
    bars.values.push_back(h.gradient_norms[k]);
  }
  typenet::write_text_file(dir / "gradient_flow.svg", typenet::bar_chart_svg(bars));
}

void print_confusion(const typenet::ConfusionMatrix& m) {
  std::printf("confusion matrix on the test set (rows: true class, columns: predicted class)\n%16s", "");
  for (std::size_t p = 0; p < m.classes; ++p) std::printf("%6zu", p);
  std::printf("\n");
  for (std::size_t t = 0; t < m.classes; ++t) {
    std::printf("%zu %-14s", t,
                t < typenet::fashion_mnist_class_names.size() ? typenet::fashion_mnist_class_names[t] : "");
    for (std::size_t p = 0; p < m.classes; ++p) std::printf("%6zu", m(t, p));
    std::printf("\n");
  }
}

template <class Net, class Comm>
int run(const Options& o, Comm& comm) {
  const bool speak = !o.quiet && comm.rank() == 0;
  const auto start = Clock::now();
  // Fail before training, not after it, when the model could not be saved.
  for (const auto& target : {o.save, o.save_safetensors}) {
    if (!target) continue;
    const std::filesystem::path parent = std::filesystem::absolute(*target).parent_path();
    if (!std::filesystem::is_directory(parent))
      throw std::runtime_error(target->string() + ": cannot save: no such directory " + parent.string());
  }
  Net net{typenet::HeNormal{.seed = o.seed}};
  if (o.load) {
    typenet::load_model(net, *o.load);
    if (speak) std::printf("loaded %s\n", o.load->string().c_str());
  }
  if (o.load_safetensors) {
    typenet::load_safetensors(net, *o.load_safetensors);
    if (speak) std::printf("loaded %s\n", o.load_safetensors->string().c_str());
  }

  typenet::TrainTestSets data = typenet::load_fashion_mnist(o.data);
  if (o.train_limit) data.train = typenet::first_samples(data.train, *o.train_limit);
  if (o.test_limit) data.test = typenet::first_samples(data.test, *o.test_limit);
  static_assert(Net::input_width == 28 * 28);  // DatasetSpec's default image size
  std::optional<typenet::Dataset> validation;
  if (o.validation > 0) {
    typenet::TrainValidationSplit split = typenet::split_validation(data.train, o.validation, o.seed);
    data.train = std::move(split.train);
    validation = std::move(split.validation);
  }
  if (speak)
    std::printf("data: %zu training%s and %zu test images from %s (%.1f s)\n", data.train.count,
                validation ? (", " + std::to_string(validation->count) + " validation").c_str() : "",
                data.test.count, o.data.string().c_str(),
                std::chrono::duration<double>(Clock::now() - start).count());
  History history;
  if (o.epochs > 0) {
    const bool adam_like = o.optimizer == "adam" || o.optimizer == "adamw";
    const double lr = o.lr.value_or(adam_like ? 1e-3 : 0.1);
    const double wd = o.weight_decay.value_or(o.optimizer == "adamw" ? 0.01 : 0.0);
    if (speak) {
      std::printf("training %s: %s, lr %g, batch %zu, %zu epochs, seed %llu", o.model.c_str(),
                  o.optimizer.c_str(), lr, o.batch, o.epochs, static_cast<unsigned long long>(o.seed));
      if (wd > 0) std::printf(", weight decay %g", wd);
      if (o.schedule != "constant") std::printf(", %s schedule", o.schedule.c_str());
      if (o.warmup > 0) std::printf(", %zu warm-up epochs", o.warmup);
      if (o.patience) std::printf(", early stopping after %zu epochs", *o.patience);
      if (o.clip_norm > 0) std::printf(", gradient clipped to norm %g", o.clip_norm);
      std::printf("%s\n", o.check_finite ? ", finite check on" : "");
    }
    const typenet::Dataset* held_out = validation ? &*validation : nullptr;
    if (o.optimizer == "sgd")
      history = train(net, o, typenet::SGD{.learning_rate = lr, .weight_decay = wd}, data, held_out, comm);
    if (o.optimizer == "momentum")
      history =
          train(net, o, typenet::Momentum{.learning_rate = lr, .weight_decay = wd}, data, held_out, comm);
    if (o.optimizer == "adam")
      history = train(net, o, typenet::Adam{.learning_rate = lr, .weight_decay = wd}, data, held_out, comm);
    if (o.optimizer == "adamw")
      history = train(net, o, typenet::AdamW{.learning_rate = lr, .weight_decay = wd}, data, held_out, comm);
  }
  const typenet::ConfusionMatrix confusion = comm.size() > 1 ? typenet::confusion_matrix(net, data.test, comm)
                                                             : typenet::confusion_matrix(net, data.test);
  if (speak) print_confusion(confusion);
  if (comm.rank() == 0)
    std::printf("test accuracy %.2f%% on %zu images\n", 100 * confusion.accuracy(), confusion.total());
  // Rank 0 writes (every process holds the same weights); the others wait until the files are in place.
  if (o.save && comm.rank() == 0) {
    typenet::save_model(net, *o.save);
    if (speak) std::printf("saved %s\n", o.save->string().c_str());
  }
  if (o.save_safetensors && comm.rank() == 0) {
    typenet::save_safetensors(net, *o.save_safetensors);
    if (speak) std::printf("saved %s\n", o.save_safetensors->string().c_str());
  }
  comm.barrier();
  if (o.plots && comm.rank() == 0) {
    if (history.epochs.empty()) {
      std::printf("note: no plots: nothing was trained\n");
    } else {
      write_plots<Net>(*o.plots, history);
      if (speak) std::printf("plots in %s\n", o.plots->string().c_str());
    }
  }
  if (comm.rank() == 0)
    std::printf("total time %.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> options;
  try {
    options = parse(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n\n%s", e.message.c_str(), usage_text);
    return 2;
  }
  if (!options) {
    std::fputs(usage_text, stdout);
    return 0;
  }
#ifdef TYPENET_TRAINER_MPI
  // Under mpirun: data-parallel over every process, or one process as below when there is only one. A
  // process that fails ends the whole job with its message, rather than leave the others waiting.
  if (typenet::MpiCommunicator::launched()) {
    typenet::MpiCommunicator world;
    try {
      if (world.size() == 1) {
        typenet::SingleProcess alone;
        return options->model == "lenet" ? run<LeNet>(*options, alone) : run<Mlp>(*options, alone);
      }
      return options->model == "lenet" ? run<LeNet>(*options, world) : run<Mlp>(*options, world);
    } catch (const std::exception& e) {
      world.abort(std::string("train_fashion_mnist: ") + e.what());
    }
  }
#endif
  try {
    typenet::SingleProcess alone;
    return options->model == "lenet" ? run<LeNet>(*options, alone) : run<Mlp>(*options, alone);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
